// librados configuration and connection.
#include "modules/rbd/rados_connection.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "rpc/status_mapping.h"

namespace bdevkit::rbd {

absl::Status ErrnoStatus(int negative_errno, std::string message) {
  absl::Status s;
  switch (-negative_errno) {
    case ENOENT:
      s = absl::NotFoundError(message);
      break;
    case ETIMEDOUT:
      s = absl::DeadlineExceededError(message);
      break;
    case EACCES:
    case EPERM:
      s = absl::PermissionDeniedError(message);
      break;
    case EINVAL:
      s = absl::InvalidArgumentError(message);
      break;
    default:
      s = absl::UnavailableError(message);
      break;
  }
  return WithJsonRpcCode(s, negative_errno);
}

absl::StatusOr<ConfPairs> ParseConfPairs(const nlohmann::json& object, const std::string& param) {
  ConfPairs out;
  if (object.is_null()) return out;
  if (!object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", param, "\": must be an object"));
  }
  for (const auto& [key, value] : object.items()) {
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", param, "\": empty option name"));
    }
    if (!value.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", param, "\": option \"", key,
                                                     "\" must be a string, not ", value.dump()));
    }
    out.emplace_back(key, value.get<std::string>());
  }
  return out;
}

nlohmann::json ConfPairsToJson(const ConfPairs& pairs) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : pairs) out[k] = v;
  return out;
}

absl::StatusOr<std::unique_ptr<RadosConnection>> RadosConnection::Configure(
    const RadosSettings& settings) {
  rados_t cluster = nullptr;
  int rc = rados_create(&cluster, settings.user_id.empty() ? nullptr : settings.user_id.c_str());
  if (rc < 0) {
    return ErrnoStatus(rc, absl::StrCat("\"user_id\": rados_create: ", std::strerror(-rc)));
  }
  std::unique_ptr<RadosConnection> conn(new RadosConnection(
      cluster, absl::StrCat("client.", settings.user_id.empty() ? "admin" : settings.user_id)));
  // librados' own values of the options we give defaults for, before any file: an
  // option the file leaves at that value gets ours afterwards. (Setting ours first
  // would not do: a value set through the API outranks the file's.)
  ConfPairs builtin;
  for (const auto& [k, v] : DefaultTimeouts()) {
    absl::StatusOr<std::string> value = conn->GetOption(k);
    if (!value.ok()) return value.status();
    builtin.emplace_back(k, *value);
  }
  if (!settings.config_file.empty()) {
    // librados reports a missing file as a generic error; check first for a clear one.
    if (access(settings.config_file.c_str(), R_OK) != 0) {
      int err = errno;
      return ErrnoStatus(
          -err, absl::StrCat("\"config_file\": ", settings.config_file, ": ", std::strerror(err)));
    }
    rc = rados_conf_read_file(cluster, settings.config_file.c_str());
    if (rc < 0) {
      return ErrnoStatus(rc,
                         absl::StrCat("\"config_file\": ", settings.config_file,
                                      ": cannot be read as a Ceph config: ", std::strerror(-rc)));
    }
  } else if (settings.config_param.empty()) {
    rc = rados_conf_read_file(cluster, nullptr);
    if (rc < 0) {
      return ErrnoStatus(rc, absl::StrCat("no \"config_file\" or \"config_param\" given, and no "
                                          "default Ceph config found (CEPH_CONF, "
                                          "/etc/ceph/ceph.conf): ",
                                          std::strerror(-rc)));
    }
  }
  for (size_t i = 0; i < builtin.size(); ++i) {
    const auto& [k, ours] = DefaultTimeouts()[i];
    if (conn->GetOption(k).value_or("") != builtin[i].second) continue;  // the file set it
    rc = rados_conf_set(cluster, k.c_str(), ours.c_str());
    if (rc < 0)
      return ErrnoStatus(rc, absl::StrCat("rados_conf_set ", k, ": ", std::strerror(-rc)));
  }
  for (const auto& [k, v] : settings.config_param) {
    rc = rados_conf_set(cluster, k.c_str(), v.c_str());
    if (rc == -ENOENT) {
      return ErrnoStatus(rc, absl::StrCat("\"config_param\": unknown Ceph option \"", k, "\""));
    }
    if (rc < 0) {
      return ErrnoStatus(rc, absl::StrCat("\"config_param\": option \"", k, "\": invalid value \"",
                                          v, "\": ", std::strerror(-rc)));
    }
  }
  if (!settings.key_file.empty()) {
    if (access(settings.key_file.c_str(), R_OK) != 0) {
      int err = errno;
      return ErrnoStatus(
          -err, absl::StrCat("\"key_file\": ", settings.key_file, ": ", std::strerror(err)));
    }
    rc = rados_conf_set(cluster, "keyring", settings.key_file.c_str());
    if (rc < 0) {
      return ErrnoStatus(rc, absl::StrCat("\"key_file\": ", std::strerror(-rc)));
    }
  }
  return conn;
}

RadosConnection::~RadosConnection() {
  // rados_shutdown also frees a handle that never connected.
  if (cluster_ != nullptr) rados_shutdown(cluster_);
}

absl::Status RadosConnection::Connect(const std::string& what) {
  if (connected_) return absl::OkStatus();
  int rc = rados_connect(cluster_);
  if (rc < 0) {
    std::string mon_host = GetOption("mon_host").value_or("");
    return ErrnoStatus(rc, absl::StrCat("cannot connect to the Ceph cluster ", what, " (", entity_,
                                        ", mon_host \"", mon_host, "\"): ", std::strerror(-rc)));
  }
  connected_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::string> RadosConnection::GetOption(const std::string& name) const {
  char buf[4096];
  int rc = rados_conf_get(cluster_, name.c_str(), buf, sizeof(buf));
  if (rc < 0) return ErrnoStatus(rc, absl::StrCat(name, ": ", std::strerror(-rc)));
  return std::string(buf);
}

}  // namespace bdevkit::rbd

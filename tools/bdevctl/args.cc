#include "tools/bdevctl/args.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bdevkit::ctl {
namespace {

using json = nlohmann::json;

// rpc.py's forms: positional parameters in order, and short flags. "total_size" is
// rpc.py's size in MiB; it becomes num_blocks once block_size is known.
struct ShortForm {
  std::vector<std::string> positional;
  std::map<std::string, std::string> shorts;  // "-b" -> "name"
};

const std::map<std::string, ShortForm>& Forms() {
  static const auto* forms = new std::map<std::string, ShortForm>{
      {"bdev_malloc_create",
       {{"total_size", "block_size"},
        {{"-b", "name"}, {"-u", "uuid"}, {"-o", "optimal_io_boundary"}}}},
      {"bdev_null_create", {{"name", "total_size", "block_size"}, {{"-u", "uuid"}}}},
      {"bdev_malloc_delete", {{"name"}, {}}},
      {"bdev_null_delete", {{"name"}, {}}},
      {"bdev_examine", {{"name"}, {}}},
      {"bdev_set_qos_limit", {{"name"}, {}}},
      {"bdev_error_create", {{"base_name"}, {{"-u", "uuid"}}}},
      {"bdev_error_delete", {{"name"}, {}}},
      {"bdev_error_inject_error",
       {{"name", "io_type", "error_type"},
        {{"-n", "num"}, {"-q", "queue_depth"}, {"-o", "corrupt_offset"}, {"-v", "corrupt_value"}}}},
      {"bdev_error_resume_pending", {{"name"}, {}}},
      {"bdev_nvme_attach_controller",
       {{},
        {{"-b", "name"},
         {"-t", "trtype"},
         {"-a", "traddr"},
         {"-f", "adrfam"},
         {"-s", "trsvcid"},
         {"-n", "subnqn"},
         {"-q", "hostnqn"}}}},
      // rpc.py takes the name positionally; -b is accepted too.
      {"bdev_nvme_detach_controller",
       {{"name"}, {{"-b", "name"}, {"-t", "trtype"}, {"-a", "traddr"}}}},
      {"bdev_nvme_reset_controller", {{"name"}, {{"-b", "name"}}}},
      {"bdev_nvme_get_controllers", {{}, {{"-n", "name"}}}},
      {"bdev_get_bdevs", {{}, {{"-b", "name"}, {"-t", "timeout"}}}},
      {"bdev_get_iostat", {{}, {{"-b", "name"}, {"-c", "per_channel"}}}},
      {"framework_get_config", {{"name"}, {}}},
      {"log_set_flag", {{"flag"}, {}}},
      {"log_clear_flag", {{"flag"}, {}}},
      {"spdk_kill_instance", {{"sig_name"}, {}}},
  };
  return *forms;
}

absl::Status Bad(const std::string& arg, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(arg, ": ", std::string(why)));
}

// Converts a command-line word to the parameter's type.
absl::StatusOr<json> Convert(const std::string& arg, const RpcParam* param,
                             const std::string& text) {
  if (param == nullptr || param->type == RpcParamType::kAny) {
    json v = json::parse(text, nullptr, false);
    return v.is_discarded() ? json(text) : v;
  }
  switch (param->type) {
    case RpcParamType::kString:
      return json(text);
    case RpcParamType::kBool:
      if (text == "true") return json(true);
      if (text == "false") return json(false);
      return Bad(arg, absl::StrCat("expected true or false, got '", text, "'"));
    case RpcParamType::kUint:
    case RpcParamType::kInt:
    case RpcParamType::kNumber:
    case RpcParamType::kObject:
    case RpcParamType::kArray: {
      json v = json::parse(text, nullptr, false);
      bool ok = !v.is_discarded();
      if (param->type == RpcParamType::kObject)
        ok = ok && v.is_object();
      else if (param->type == RpcParamType::kArray)
        ok = ok && v.is_array();
      else
        ok = ok && v.is_number();
      if (!ok) {
        const std::string type(RpcParamTypeName(param->type));
        return Bad(arg, absl::StrCat(
                            "expected ",
                            std::string("aeiou").find(type[0]) != std::string::npos ? "an " : "a ",
                            type, ", got '", text, "'"));
      }
      return v;  // range and sign are checked by the server, with its message
    }
    case RpcParamType::kAny:
      break;
  }
  return json(text);
}

const RpcParam* FindParam(const RpcMethod* method, const std::string& name) {
  if (method == nullptr) return nullptr;
  for (const RpcParam& p : method->params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace

std::string ShortFormUsage(const std::string& method_name) {
  auto it = Forms().find(method_name);
  if (it == Forms().end()) return "";
  std::string out = absl::StrCat("bdevctl ", method_name);
  for (const auto& [flag, name] : it->second.shorts) {
    absl::StrAppend(&out, " [", flag, " ", name == "per_channel" ? "" : name, "]");
  }
  for (const std::string& p : it->second.positional) {
    absl::StrAppend(&out, " ", p == "total_size" ? "SIZE_MB" : p);
  }
  return out;
}

absl::StatusOr<json> BuildParams(const std::string& method_name, const RpcMethod* method,
                                 const std::vector<std::string>& args) {
  const ShortForm* form = nullptr;
  if (auto it = Forms().find(method_name); it != Forms().end()) form = &it->second;
  json params = json::object();
  size_t next_positional = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string name;
    std::string value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
      name = arg.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      for (char& c : name) {
        if (c == '-') c = '_';  // rpc.py spells --block-size; the parameter is block_size
      }
    } else if (form != nullptr && form->shorts.contains(arg)) {
      name = form->shorts.at(arg);
    } else if (arg.size() > 1 && arg[0] == '-' &&
               !std::isdigit(static_cast<unsigned char>(arg[1]))) {
      return Bad(arg, absl::StrCat("unknown option of ", method_name, " (see bdevctl ", method_name,
                                   " --help)"));
    } else {
      if (form == nullptr || next_positional >= form->positional.size()) {
        return Bad(arg, absl::StrCat("unexpected argument (parameters are --name value; see "
                                     "bdevctl ",
                                     method_name, " --help)"));
      }
      name = form->positional[next_positional++];
      value = arg;
      has_value = true;
    }
    const RpcParam* param = FindParam(method, name);
    if (method != nullptr && param == nullptr && name != "total_size") {
      std::vector<std::string> known;
      for (const RpcParam& p : method->params) known.push_back(p.name);
      return Bad(arg, absl::StrCat("unknown parameter of ", method_name,
                                   " (known: ", absl::StrJoin(known, ", "), ")"));
    }
    const bool is_bool = param != nullptr && param->type == RpcParamType::kBool;
    if (!has_value) {
      // A boolean given alone is true (rpc.py's store_true flags).
      if (is_bool && (i + 1 >= args.size() || (args[i + 1] != "true" && args[i + 1] != "false"))) {
        params[name] = true;
        continue;
      }
      if (i + 1 >= args.size()) return Bad(arg, "needs a value");
      value = args[++i];
    }
    if (name == "total_size") {
      char* end = nullptr;
      double mb = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(mb > 0) || !std::isfinite(mb)) {
        return Bad("SIZE_MB", absl::StrCat("expected a size in MiB, got '", value, "'"));
      }
      params["total_size"] = mb;
      continue;
    }
    // Errors name the parameter ("block_size: ..."), also for positional values.
    auto converted = Convert(arg.rfind("-", 0) == 0 ? arg : name, param, value);
    if (!converted.ok()) return converted.status();
    params[name] = *converted;
  }
  if (params.contains("total_size")) {
    double mb = params["total_size"].get<double>();
    params.erase("total_size");
    if (!params.contains("block_size") || !params["block_size"].is_number_unsigned() ||
        params["block_size"].get<uint64_t>() == 0) {
      return Bad("BLOCK_SIZE", "a positive block size is needed with SIZE_MB");
    }
    const uint64_t block_size = params["block_size"].get<uint64_t>();
    params["num_blocks"] = static_cast<uint64_t>(mb * 1024 * 1024) / block_size;
  }
  if (params.empty()) return json();
  return params;
}

}  // namespace bdevkit::ctl

// Parameter validation against a method's description, and typed accessors.
#include <cmath>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bdevkit/rpc.h"

namespace bdevkit {
namespace {

// A short rendering of a bad value for an error message (long values are cut).
std::string Shown(const nlohmann::json& value) {
  std::string text = value.dump();
  constexpr size_t kMax = 64;
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

std::string WithArticle(std::string_view noun) {
  bool vowel = !noun.empty() && std::string_view("aeiou").find(noun[0]) != std::string_view::npos;
  return absl::StrCat(vowel ? "an " : "a ", std::string(noun));
}

// Numbers written as 4096.0 or 4e3 are accepted as integers when exact.
bool IntegralDouble(const nlohmann::json& value, double lo, double hi) {
  if (!value.is_number_float()) return false;
  double d = value.get<double>();
  return std::isfinite(d) && std::trunc(d) == d && d >= lo && d < hi;
}

// Checks one value; on success `out` is the value the handler sees (integers
// normalized), on failure returns false.
bool CheckType(RpcParamType type, const nlohmann::json& value, nlohmann::json& out) {
  out = value;
  switch (type) {
    case RpcParamType::kString:
      return value.is_string();
    case RpcParamType::kBool:
      return value.is_boolean();
    case RpcParamType::kObject:
      return value.is_object();
    case RpcParamType::kArray:
      return value.is_array();
    case RpcParamType::kNumber:
      return value.is_number();
    case RpcParamType::kAny:
      return true;
    case RpcParamType::kUint:
      if (value.is_number_unsigned()) return true;
      if (value.is_number_integer()) {
        if (value.get<int64_t>() < 0) return false;
        out = value.get<uint64_t>();
        return true;
      }
      if (IntegralDouble(value, 0, 18446744073709551616.0)) {
        out = static_cast<uint64_t>(value.get<double>());
        return true;
      }
      return false;
    case RpcParamType::kInt:
      if (value.is_number_unsigned()) {
        if (value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
        out = value.get<int64_t>();
        return true;
      }
      if (value.is_number_integer()) return true;
      if (IntegralDouble(value, -9223372036854775808.0, 9223372036854775808.0)) {
        out = static_cast<int64_t>(value.get<double>());
        return true;
      }
      return false;
  }
  return false;
}

const nlohmann::json* Member(const nlohmann::json& params, std::string_view name) {
  if (!params.is_object()) return nullptr;
  auto it = params.find(std::string(name));
  if (it == params.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

std::string_view RpcParamTypeName(RpcParamType type) {
  switch (type) {
    case RpcParamType::kString:
      return "string";
    case RpcParamType::kBool:
      return "boolean";
    case RpcParamType::kInt:
      return "integer";
    case RpcParamType::kUint:
      return "unsigned integer";
    case RpcParamType::kNumber:
      return "number";
    case RpcParamType::kObject:
      return "object";
    case RpcParamType::kArray:
      return "array";
    case RpcParamType::kAny:
      return "any value";
  }
  return "?";
}

absl::StatusOr<nlohmann::json> ValidateRpcParams(const RpcMethod& method,
                                                 const nlohmann::json& params) {
  if (!params.is_null() && !params.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        method.name, ": params must be an object of named parameters, got ", Shown(params)));
  }
  nlohmann::json out = nlohmann::json::object();
  if (params.is_object()) {
    for (const auto& [key, value] : params.items()) {
      const RpcParam* decl = nullptr;
      for (const RpcParam& p : method.params) {
        if (p.name == key) decl = &p;
      }
      if (decl == nullptr) {
        std::vector<std::string> known;
        for (const RpcParam& p : method.params) known.push_back(p.name);
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", key, "\": unknown parameter of ", method.name,
            known.empty() ? " (it takes none)"
                          : absl::StrCat(" (known: ", absl::StrJoin(known, ", "), ")")));
      }
      // An explicit null means "not given", as for an absent key.
      if (value.is_null() && decl->type != RpcParamType::kAny) continue;
      nlohmann::json checked;
      if (!CheckType(decl->type, value, checked)) {
        return absl::InvalidArgumentError(absl::StrCat("\"", key, "\": expected ",
                                                       WithArticle(RpcParamTypeName(decl->type)),
                                                       ", got ", Shown(value)));
      }
      out[key] = std::move(checked);
    }
  }
  for (const RpcParam& p : method.params) {
    if (out.contains(p.name)) continue;
    if (p.required) {
      return absl::InvalidArgumentError(absl::StrCat("\"", p.name,
                                                     "\": missing required parameter (",
                                                     WithArticle(RpcParamTypeName(p.type)), ")"));
    }
    if (!p.default_value.is_null()) out[p.name] = p.default_value;
  }
  return out;
}

std::string ParamString(const nlohmann::json& params, std::string_view name) {
  const nlohmann::json* v = Member(params, name);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

uint64_t ParamUint(const nlohmann::json& params, std::string_view name) {
  const nlohmann::json* v = Member(params, name);
  if (v == nullptr) return 0;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer() && v->get<int64_t>() >= 0) return v->get<uint64_t>();
  return 0;
}

bool ParamBool(const nlohmann::json& params, std::string_view name) {
  const nlohmann::json* v = Member(params, name);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

bool HasParam(const nlohmann::json& params, std::string_view name) {
  return Member(params, name) != nullptr;
}

}  // namespace bdevkit

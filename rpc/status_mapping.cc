#include "rpc/status_mapping.h"

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bdevkit {
namespace {

constexpr char kCodePayloadUrl[] = "type.bdevkit/jsonrpc_code";

// Text for codes that are negative errnos; JSON-RPC's own codes have fixed names.
std::string DefaultMessage(int code) {
  switch (code) {
    case kJsonRpcParseError:
      return "Parse error";
    case kJsonRpcInvalidRequest:
      return "Invalid request";
    case kJsonRpcMethodNotFound:
      return "Method not found";
    case kJsonRpcInvalidParams:
      return "Invalid parameters";
    case kJsonRpcInternalError:
      return "Internal error";
    default:
      break;
  }
  if (code < 0 && code > -4096) return std::strerror(-code);
  return "Error";
}

int CodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return kJsonRpcInvalidParams;
    case absl::StatusCode::kUnimplemented:
      return kJsonRpcMethodNotFound;
    case absl::StatusCode::kNotFound:
      return -ENODEV;
    case absl::StatusCode::kAlreadyExists:
      return -EEXIST;
    case absl::StatusCode::kDeadlineExceeded:
      return -ETIMEDOUT;
    case absl::StatusCode::kPermissionDenied:
      return -EPERM;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return -EINVAL;
    case absl::StatusCode::kResourceExhausted:
      return -ENOMEM;
    case absl::StatusCode::kUnavailable:
      return -EBUSY;
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kAborted:
      return -ECANCELED;
    default:
      return kJsonRpcInternalError;
  }
}

std::optional<int> AttachedCode(const absl::Status& status) {
  auto payload = status.GetPayload(kCodePayloadUrl);
  int code = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &code)) return std::nullopt;
  return code;
}

}  // namespace

JsonRpcError StatusToJsonRpcError(const absl::Status& status) {
  if (status.ok()) return {};
  JsonRpcError error;
  error.code = AttachedCode(status).value_or(CodeFor(status.code()));
  error.message =
      status.message().empty() ? DefaultMessage(error.code) : std::string(status.message());
  return error;
}

absl::Status WithJsonRpcCode(absl::Status status, int code) {
  if (!status.ok()) status.SetPayload(kCodePayloadUrl, absl::Cord(absl::StrCat(code)));
  return status;
}

}  // namespace bdevkit

// The one place where absl::Status becomes a JSON-RPC error (code + message), so every
// method, the config loader and the socket server answer with the same codes.
//
// Codes follow SPDK's wire conventions: JSON-RPC's own codes for protocol and
// parameter errors, negative errno for domain errors (-19 unknown bdev, -17 duplicate
// name, ...). The message is ours (it names the bad parameter or bdev); the errno's
// strerror text is only used when a status carries no message.
#ifndef BDEVKIT_RPC_STATUS_MAPPING_H_
#define BDEVKIT_RPC_STATUS_MAPPING_H_

#include <string>

#include "absl/status/status.h"

namespace bdevkit {

inline constexpr int kJsonRpcParseError = -32700;
inline constexpr int kJsonRpcInvalidRequest = -32600;
inline constexpr int kJsonRpcMethodNotFound = -32601;
inline constexpr int kJsonRpcInvalidParams = -32602;
inline constexpr int kJsonRpcInternalError = -32603;

struct JsonRpcError {
  int code = 0;
  std::string message;
};

// Maps a non-OK status to its JSON-RPC error (an OK status gives {0, ""}):
//   kInvalidArgument   -> -32602            kUnimplemented      -> -32601
//   kNotFound          -> -19  (ENODEV)     kAlreadyExists      -> -17  (EEXIST)
//   kDeadlineExceeded  -> -110 (ETIMEDOUT)  kPermissionDenied   -> -1   (EPERM)
//   kFailedPrecondition, kOutOfRange -> -22 (EINVAL)
//   kResourceExhausted -> -12  (ENOMEM)     kUnavailable        -> -16  (EBUSY)
//   kCancelled, kAborted -> -125 (ECANCELED)
//   anything else      -> -32603
// A code attached with WithJsonRpcCode() wins over the table. Any thread.
JsonRpcError StatusToJsonRpcError(const absl::Status& status);

// Attaches an explicit JSON-RPC code to a status, for the few errors whose SPDK code
// is not the one of their canonical class (e.g. a missing file is kNotFound but SPDK
// answers -2, not -19). Any thread.
absl::Status WithJsonRpcCode(absl::Status status, int code);

}  // namespace bdevkit

#endif  // BDEVKIT_RPC_STATUS_MAPPING_H_

#include "rpc/status_mapping.h"

#include "gtest/gtest.h"

namespace bdevkit {
namespace {

TEST(StatusMappingTest, CanonicalCodes) {
  struct Case {
    absl::Status status;
    int code;
  } cases[] = {
      {absl::InvalidArgumentError("\"x\": bad"), -32602},
      {absl::UnimplementedError("Method not found: foo"), -32601},
      {absl::NotFoundError("no bdev named \"a\""), -19},
      {absl::AlreadyExistsError("dup"), -17},
      {absl::DeadlineExceededError("late"), -110},
      {absl::PermissionDeniedError("claimed"), -1},
      {absl::FailedPreconditionError("state"), -22},
      {absl::ResourceExhaustedError("mem"), -12},
      {absl::UnavailableError("busy"), -16},
      {absl::InternalError("oops"), -32603},
      {absl::UnknownError("?"), -32603},
  };
  for (const Case& c : cases) {
    JsonRpcError e = StatusToJsonRpcError(c.status);
    EXPECT_EQ(e.code, c.code) << c.status;
    EXPECT_EQ(e.message, std::string(c.status.message())) << "our message is kept";
  }
}

TEST(StatusMappingTest, EmptyMessageGetsStandardText) {
  EXPECT_EQ(StatusToJsonRpcError(absl::NotFoundError("")).message, "No such device");
  EXPECT_EQ(StatusToJsonRpcError(absl::AlreadyExistsError("")).message, "File exists");
  EXPECT_EQ(StatusToJsonRpcError(absl::InvalidArgumentError("")).message, "Invalid parameters");
  EXPECT_EQ(StatusToJsonRpcError(absl::UnimplementedError("")).message, "Method not found");
}

TEST(StatusMappingTest, OkIsNoError) {
  JsonRpcError e = StatusToJsonRpcError(absl::OkStatus());
  EXPECT_EQ(e.code, 0);
  EXPECT_EQ(e.message, "");
}

TEST(StatusMappingTest, AttachedCodeWins) {
  absl::Status s = WithJsonRpcCode(absl::NotFoundError("cannot open \"f\""), -2);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  JsonRpcError e = StatusToJsonRpcError(s);
  EXPECT_EQ(e.code, -2);
  EXPECT_EQ(e.message, "cannot open \"f\"");
  EXPECT_EQ(StatusToJsonRpcError(WithJsonRpcCode(absl::NotFoundError(""), -2)).message,
            "No such file or directory");
  EXPECT_TRUE(WithJsonRpcCode(absl::OkStatus(), -2).ok());
}

}  // namespace
}  // namespace bdevkit

// Registry and the validated call path.
#include <algorithm>
#include <string>
#include <vector>

#include "bdevkit/rpc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

RpcResult CallNow(const std::string& name, const json& params) {
  std::optional<RpcResult> out;
  CallRpcMethod(name, params, [&](RpcResult r) { out = std::move(r); });
  EXPECT_TRUE(out.has_value()) << name << " did not complete synchronously";
  return out.value_or(absl::InternalError("no result"));
}

TEST(RpcRegistryTest, RegisterFindListAndDuplicate) {
  RpcMethod m{
      .name = "test_reg_a", .summary = "", .params = {}, .handler = [](const json&, RpcDone d) {
        d(1);
      }};
  ASSERT_TRUE(RegisterRpcMethod(m).ok());
  EXPECT_EQ(RegisterRpcMethod(m).code(), absl::StatusCode::kAlreadyExists);
  const RpcMethod* found = FindRpcMethod("test_reg_a");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name, "test_reg_a");
  EXPECT_EQ(FindRpcMethod("test_reg_nonexistent"), nullptr);
  EXPECT_EQ(
      RegisterRpcMethod(
          RpcMethod{.name = "test_reg_nohandler", .summary = "", .params = {}, .handler = nullptr})
          .code(),
      absl::StatusCode::kInvalidArgument);

  std::vector<std::string> names;
  for (const RpcMethod* method : ListRpcMethods()) names.push_back(method->name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_THAT(names, ::testing::Contains("test_reg_a"));
  EXPECT_THAT(names, ::testing::Contains("bdev_wait_for_examine"));
}

TEST(RpcRegistryTest, UnknownMethodIsUnimplemented) {
  RpcResult r = CallNow("no_such_method", nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no_such_method"));
}

TEST(RpcRegistryTest, HandlerSeesValidatedParamsAndBadParamsNeverReachIt) {
  static int calls = 0;
  static json seen;
  ASSERT_TRUE(RegisterRpcMethod(RpcMethod{
                                    .name = "test_reg_echo",
                                    .summary = "",
                                    .params = {{"n", RpcParamType::kUint, true, nullptr, ""},
                                               {"d", RpcParamType::kString, false, "dflt", ""}},
                                    .handler =
                                        [](const json& p, RpcDone done) {
                                          ++calls;
                                          seen = p;
                                          done(p);
                                        },
                                })
                  .ok());
  RpcResult bad = CallNow("test_reg_echo", {{"n", "x"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 0);

  RpcResult good = CallNow("test_reg_echo", {{"n", 3}});
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, json({{"n", 3}, {"d", "dflt"}}));
}

TEST(RpcRegistryTest, DoubleCompletionAndThrowingHandlerAreContained) {
  ASSERT_TRUE(RegisterRpcMethod(RpcMethod{.name = "test_reg_twice",
                                          .summary = "",
                                          .params = {},
                                          .handler =
                                              [](const json&, RpcDone done) {
                                                done(1);
                                                done(2);
                                              }})
                  .ok());
  int results = 0;
  CallRpcMethod("test_reg_twice", nullptr, [&](RpcResult r) {
    ++results;
    EXPECT_EQ(*r, json(1));
  });
  EXPECT_EQ(results, 1);

  ASSERT_TRUE(RegisterRpcMethod(RpcMethod{.name = "test_reg_throws",
                                          .summary = "",
                                          .params = {},
                                          .handler =
                                              [](const json& p, RpcDone) {
                                                (void)p.at("missing");  // throws out_of_range
                                              }})
                  .ok());
  RpcResult r = CallNow("test_reg_throws", nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
}

TEST(RpcRegistryTest, WaitForExamineIsACoreMethod) {
  RpcResult r = CallNow("bdev_wait_for_examine", nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json(true));
  RpcResult bad = CallNow("bdev_wait_for_examine", {{"x", 1}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"x\""));
}

}  // namespace
}  // namespace bdevkit

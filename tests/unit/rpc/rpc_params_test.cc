// Parameter validation: the messages a user sees for bad params, and defaults.
#include "bdevkit/rpc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

RpcMethod TestMethod() {
  return RpcMethod{
      .name = "test_create",
      .summary = "",
      .params =
          {
              {"name", RpcParamType::kString, false, nullptr, ""},
              {"block_size", RpcParamType::kUint, true, nullptr, ""},
              {"offset", RpcParamType::kInt, false, nullptr, ""},
              {"ratio", RpcParamType::kNumber, false, nullptr, ""},
              {"readonly", RpcParamType::kBool, false, false, ""},
              {"depth", RpcParamType::kUint, false, 128, ""},
              {"list", RpcParamType::kArray, false, nullptr, ""},
              {"opts", RpcParamType::kObject, false, nullptr, ""},
              {"any", RpcParamType::kAny, false, nullptr, ""},
          },
      .handler = [](const json&, RpcDone done) { done(true); },
  };
}

std::string ErrorOf(const json& params) {
  absl::StatusOr<json> r = ValidateRpcParams(TestMethod(), params);
  EXPECT_FALSE(r.ok()) << "accepted " << params.dump();
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST(RpcParamsTest, NullParamsBecomeAnObjectWithDefaults) {
  RpcMethod m{.name = "m",
              .summary = "",
              .params = {{"flag", RpcParamType::kBool, false, true, ""},
                         {"opt", RpcParamType::kString, false, nullptr, ""}},
              .handler = nullptr};
  absl::StatusOr<json> r = ValidateRpcParams(m, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json({{"flag", true}}));  // default filled, absent optional stays absent
}

TEST(RpcParamsTest, NonObjectParamsRejected) {
  EXPECT_THAT(ErrorOf(json::array({1, 2})), HasSubstr("must be an object"));
  EXPECT_THAT(ErrorOf("x"), HasSubstr("must be an object"));
}

TEST(RpcParamsTest, UnknownKeyNamed) {
  std::string msg = ErrorOf({{"block_size", 512}, {"blok_size", 512}});
  EXPECT_THAT(msg, HasSubstr("\"blok_size\""));
  EXPECT_THAT(msg, HasSubstr("unknown parameter"));
}

TEST(RpcParamsTest, MissingRequiredNamed) {
  std::string msg = ErrorOf({{"name", "a"}});
  EXPECT_THAT(msg, HasSubstr("\"block_size\""));
  EXPECT_THAT(msg, HasSubstr("missing required"));
  // An explicit null is "not given" too.
  EXPECT_THAT(ErrorOf({{"block_size", nullptr}}), HasSubstr("missing required"));
}

TEST(RpcParamsTest, WrongTypeNamesExpectedType) {
  EXPECT_EQ(ErrorOf({{"block_size", "abc"}}),
            "\"block_size\": expected an unsigned integer, got \"abc\"");
  EXPECT_EQ(ErrorOf({{"block_size", 512}, {"name", 5}}), "\"name\": expected a string, got 5");
  EXPECT_EQ(ErrorOf({{"block_size", 512}, {"readonly", "yes"}}),
            "\"readonly\": expected a boolean, got \"yes\"");
  EXPECT_THAT(ErrorOf({{"block_size", 512}, {"offset", "1"}}), HasSubstr("expected an integer"));
  EXPECT_THAT(ErrorOf({{"block_size", 512}, {"ratio", true}}), HasSubstr("expected a number"));
  EXPECT_THAT(ErrorOf({{"block_size", 512}, {"list", json::object()}}),
              HasSubstr("expected an array"));
  EXPECT_THAT(ErrorOf({{"block_size", 512}, {"opts", json::array()}}),
              HasSubstr("expected an object"));
}

TEST(RpcParamsTest, UintRejectsNegativesAndFractions) {
  EXPECT_EQ(ErrorOf({{"block_size", -1}}), "\"block_size\": expected an unsigned integer, got -1");
  EXPECT_EQ(ErrorOf({{"block_size", 1.5}}),
            "\"block_size\": expected an unsigned integer, got 1.5");
  EXPECT_THAT(ErrorOf({{"block_size", 1e30}}), HasSubstr("expected an unsigned integer"));
}

TEST(RpcParamsTest, IntegralNumbersNormalized) {
  absl::StatusOr<json> r =
      ValidateRpcParams(TestMethod(), json::parse(R"({"block_size": 4096.0, "offset": -3})"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)["block_size"].is_number_unsigned());
  EXPECT_EQ(ParamUint(*r, "block_size"), 4096u);
  EXPECT_EQ((*r)["offset"].get<int64_t>(), -3);
  // A signed-typed but positive value (as json(5) is) still counts as unsigned.
  r = ValidateRpcParams(TestMethod(), json{{"block_size", static_cast<int64_t>(5)}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ParamUint(*r, "block_size"), 5u);
}

TEST(RpcParamsTest, DefaultsFilledAndGivenValuesKept) {
  absl::StatusOr<json> r =
      ValidateRpcParams(TestMethod(), {{"block_size", 512}, {"readonly", true}, {"any", nullptr}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ParamUint(*r, "depth"), 128u);  // default
  EXPECT_TRUE(ParamBool(*r, "readonly"));   // given, overrides the default
  EXPECT_FALSE(HasParam(*r, "name"));       // optional without default: absent
  EXPECT_TRUE(r->contains("any"));          // kAny keeps an explicit null
}

TEST(RpcParamsTest, Accessors) {
  json p = {{"s", "x"}, {"u", 7}, {"b", true}, {"neg", -1}, {"n", nullptr}};
  EXPECT_EQ(ParamString(p, "s"), "x");
  EXPECT_EQ(ParamString(p, "missing"), "");
  EXPECT_EQ(ParamUint(p, "u"), 7u);
  EXPECT_EQ(ParamUint(p, "neg"), 0u);
  EXPECT_TRUE(ParamBool(p, "b"));
  EXPECT_FALSE(ParamBool(p, "missing"));
  EXPECT_TRUE(HasParam(p, "s"));
  EXPECT_FALSE(HasParam(p, "n"));
  EXPECT_FALSE(HasParam(p, "missing"));
}

TEST(RpcParamsTest, TypeNames) {
  EXPECT_EQ(RpcParamTypeName(RpcParamType::kUint), "unsigned integer");
  EXPECT_EQ(RpcParamTypeName(RpcParamType::kBool), "boolean");
  EXPECT_EQ(RpcParamTypeName(RpcParamType::kString), "string");
}

}  // namespace
}  // namespace bdevkit

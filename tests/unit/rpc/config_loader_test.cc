// The config loader on the real runtime: order, async entries, skipped subsystems,
// errors naming the entry, file errors.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bdevkit/rpc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::OnApp;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new testing::RuntimeEnv());

// Values passed to test_record, in call order. Only touched on the app thread (and
// read by the test after OnApp returned, which orders it).
std::vector<uint64_t> g_recorded;

void RegisterTestMethods() {
  static bool done = false;
  if (done) return;
  done = true;
  ASSERT_TRUE(RegisterRpcMethod(RpcMethod{
                                    .name = "test_record",
                                    .summary = "",
                                    .params = {{"value", RpcParamType::kUint, true, nullptr, ""}},
                                    .handler =
                                        [](const json& p, RpcDone d) {
                                          g_recorded.push_back(ParamUint(p, "value"));
                                          d(true);
                                        },
                                })
                  .ok());
  // Completes on a later message, the way a handler waiting for hardware would.
  ASSERT_TRUE(RegisterRpcMethod(RpcMethod{
                                    .name = "test_async_record",
                                    .summary = "",
                                    .params = {{"value", RpcParamType::kUint, true, nullptr, ""}},
                                    .handler =
                                        [](const json& p, RpcDone d) {
                                          uint64_t v = ParamUint(p, "value");
                                          Thread::Current()->Send([v, d] {
                                            g_recorded.push_back(v);
                                            d(true);
                                          });
                                        },
                                })
                  .ok());
  ASSERT_TRUE(
      RegisterRpcMethod(
          RpcMethod{
              .name = "test_fail",
              .summary = "",
              .params = {},
              .handler = [](const json&, RpcDone d) { d(absl::AlreadyExistsError("boom")); },
          })
          .ok());
}

class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterTestMethods();
    testing::OnAppSync([] { g_recorded.clear(); });
  }

  absl::Status Load(const json& config) {
    return OnApp<absl::Status>(
        [&](std::function<void(absl::Status)> done) { LoadJsonConfig(config, done); });
  }
  absl::Status LoadFile(const std::string& path) {
    return OnApp<absl::Status>(
        [&](std::function<void(absl::Status)> done) { LoadJsonConfigFile(path, done); });
  }
  std::vector<uint64_t> Recorded() {
    std::vector<uint64_t> out;
    testing::OnAppSync([&] { out = g_recorded; });
    return out;
  }
  std::string WriteFile(const std::string& text) {
    std::string path = ::testing::TempDir() + "bdevkit_config_" + std::to_string(getpid()) + "_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json";
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& f : files_) std::remove(f.c_str());
  }

  std::vector<std::string> files_;
};

json Entry(const std::string& method, json params = nullptr) {
  json e = {{"method", method}};
  if (!params.is_null()) e["params"] = params;
  return e;
}

TEST_F(ConfigLoaderTest, ReplaysEntriesInOrderIncludingAsyncOnes) {
  json config = {
      {"subsystems",
       {{{"subsystem", "bdev"},
         {"config",
          {Entry("test_record", {{"value", 1}}), Entry("test_async_record", {{"value", 2}}),
           Entry("test_record", {{"value", 3}}), Entry("bdev_wait_for_examine")}}}}}};
  absl::Status s = Load(config);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(Recorded(), ElementsAre(1, 2, 3));
}

TEST_F(ConfigLoaderTest, ManySynchronousEntriesDoNotRecurse) {
  json entries = json::array();
  for (int i = 0; i < 20000; ++i) entries.push_back(Entry("test_record", {{"value", i}}));
  absl::Status s = Load({{"subsystems", {{{"subsystem", "bdev"}, {"config", entries}}}}});
  ASSERT_TRUE(s.ok()) << s;
  std::vector<uint64_t> got = Recorded();
  ASSERT_EQ(got.size(), 20000u);
  EXPECT_EQ(got.back(), 19999u);
}

TEST_F(ConfigLoaderTest, NullConfigAndUnknownSubsystemsAreSkipped) {
  json config = json::parse(R"({"subsystems": [
      {"subsystem": "keyring", "config": null},
      {"subsystem": "sock", "config": [{"method": "sock_impl_set_options", "params": {"impl_name": "posix"}}]},
      {"subsystem": "bdev", "config": null},
      {"subsystem": "accel", "config": [{"method": "no_such_method"}]},
      {"subsystem": "bdev", "config": [{"method": "test_record", "params": {"value": 7}}]}
  ]})");
  absl::Status s = Load(config);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(Recorded(), ElementsAre(7));
}

TEST_F(ConfigLoaderTest, FirstFailingEntryStopsAndIsNamed) {
  json config = {
      {"subsystems",
       {{{"subsystem", "bdev"},
         {"config",
          {Entry("test_record", {{"value", 1}}), Entry("test_async_record", {{"value", 2}}),
           Entry("test_fail"), Entry("test_record", {{"value", 4}})}}}}}};
  absl::Status s = Load(config);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);  // the handler's code survives
  EXPECT_EQ(std::string(s.message()), "subsystem \"bdev\", config entry 2 (test_fail): boom");
  EXPECT_THAT(Recorded(), ElementsAre(1, 2));  // nothing after the failure ran
}

TEST_F(ConfigLoaderTest, BadParamsAndUnknownMethodsNamed) {
  absl::Status s =
      Load({{"subsystems",
             {{{"subsystem", "bdev"}, {"config", {Entry("test_record", {{"value", "x"}})}}}}}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("config entry 0 (test_record)"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"value\": expected an unsigned integer"));

  s = Load({{"subsystems", {{{"subsystem", "bdev"}, {"config", {Entry("bdev_nope_create")}}}}}});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("bdev_nope_create"));
}

TEST_F(ConfigLoaderTest, MalformedShapesRejectedBeforeAnythingRuns) {
  EXPECT_EQ(Load(json::array()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Load({{"subsystems", 5}}).code(), absl::StatusCode::kInvalidArgument);
  absl::Status s =
      Load({{"subsystems",
             {{{"subsystem", "bdev"},
               {"config", {Entry("test_record", {{"value", 1}}), {{"params", {}}}}}}}}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("config entry 1"));
  EXPECT_TRUE(Recorded().empty());
  EXPECT_TRUE(Load(json::object()).ok());  // SPDK accepts a config with no subsystems
}

TEST_F(ConfigLoaderTest, GoodFile) {
  std::string path = WriteFile(R"({
  // comments are allowed, as in SPDK
  "subsystems": [
    {"subsystem": "bdev", "config": [
      {"method": "test_record", "params": {"value": 10}},
      {"method": "test_async_record", "params": {"value": 11}}
    ]}
  ]
})");
  absl::Status s = LoadFile(path);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(Recorded(), ElementsAre(10, 11));
}

TEST_F(ConfigLoaderTest, SyntaxErrorGivesFileLineAndColumn) {
  std::string path = WriteFile("{\n  \"subsystems\": [\n    {\"subsystem\": \"bdev\",, }\n]}\n");
  absl::Status s = LoadFile(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  std::string msg(s.message());
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("line 3, column 26"));
  EXPECT_THAT(msg, ::testing::Not(HasSubstr("json.exception")));
}

TEST_F(ConfigLoaderTest, FailingEntryInFileNamesTheFile) {
  std::string path =
      WriteFile(R"({"subsystems":[{"subsystem":"bdev","config":[{"method":"test_fail"}]}]})");
  absl::Status s = LoadFile(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_THAT(std::string(s.message()), HasSubstr("config entry 0 (test_fail): boom"));
}

TEST_F(ConfigLoaderTest, MissingFileNamed) {
  std::string path = ::testing::TempDir() + "bdevkit_no_such_config.json";
  absl::Status s = LoadFile(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_THAT(std::string(s.message()), HasSubstr("No such file or directory"));
  EXPECT_EQ(StatusToJsonRpcError(s).code, -2);  // like SPDK, ENOENT rather than ENODEV
}

}  // namespace
}  // namespace bdevkit

// App (bdevkit/app.h): start-up without a daemon from a config file or in code, running
// functions on reactors, clean stop, and the errors of each step.
#include "bdevkit/app.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "bdevkit/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

AppOptions TestOptions() {
  AppOptions o;
  o.runtime.cores = {0};
  o.runtime.pin_reactors = false;
  o.runtime.message_ring_size = 4096;
  return o;
}

std::string WriteTempFile(const std::string& text) {
  char path[] = "/tmp/bdevkit_app_test_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

std::vector<std::string> Bdevs() {
  std::vector<std::string> names;
  EXPECT_TRUE(App::Run(Runtime::AppThread(), [&] { names = ListBdevs(); }).ok());
  return names;
}

TEST(AppTest, StartsFromAConfigFileCreatesInCodeAndStops) {
  const std::string config = WriteTempFile(R"({"subsystems":[{"subsystem":"bdev","config":[
      {"method":"bdev_malloc_create","params":{"name":"M0","num_blocks":64,"block_size":512}}]}]})");
  AppOptions o = TestOptions();
  o.config_file = config;
  ASSERT_TRUE(App::Start(o).ok());
  EXPECT_TRUE(App::IsRunning());
  EXPECT_THAT(Bdevs(), ::testing::ElementsAre("M0"));

  RpcResult made =
      App::Call("bdev_null_create", {{"name", "N0"}, {"num_blocks", 128}, {"block_size", 4096}});
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(*made, json("N0"));
  EXPECT_THAT(Bdevs(), ::testing::ElementsAre("M0", "N0"));

  // A method's own errors come back as they are.
  RpcResult dup =
      App::Call("bdev_null_create", {{"name", "N0"}, {"num_blocks", 128}, {"block_size", 4096}});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(App::Call("no_such_method").status().code(), absl::StatusCode::kUnimplemented);

  App::Stop();
  EXPECT_FALSE(App::IsRunning());
  EXPECT_FALSE(Runtime::IsRunning());
  std::remove(config.c_str());
}

TEST(AppTest, RunsFunctionsOnEveryReactorThreadAndWaitsForAsyncOnes) {
  ASSERT_TRUE(App::Start(TestOptions()).ok());
  Thread* ran_on = nullptr;
  ASSERT_TRUE(App::Run(Runtime::AppThread(), [&] { ran_on = Thread::Current(); }).ok());
  EXPECT_EQ(ran_on, Runtime::AppThread());

  // done() called later, from a message the function sent itself.
  int steps = 0;
  absl::Status s = App::RunAsync(Runtime::AppThread(), [&](std::function<void(absl::Status)> done) {
    ++steps;
    Thread::Current()->Send([&steps, done] {
      ++steps;
      done(absl::DataLossError("reported by the function"));
    });
  });
  EXPECT_EQ(steps, 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);

  // Blocking helpers refuse to run on a runtime thread (they would wait for themselves).
  absl::Status inner;
  ASSERT_TRUE(
      App::Run(Runtime::AppThread(), [&] { inner = App::Run(Runtime::AppThread(), [] {}); }).ok());
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(App::Run(nullptr, [] {}).code(), absl::StatusCode::kInvalidArgument);
  App::Stop();
  EXPECT_EQ(App::Run(Runtime::AppThread(), [] {}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(App::Call("bdev_get_bdevs").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AppTest, StartTwiceIsRefusedAndStopIsIdempotent) {
  ASSERT_TRUE(App::Start(TestOptions()).ok());
  absl::Status again = App::Start(TestOptions());
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.message(), HasSubstr("already runs"));
  App::Stop();
  App::Stop();
  EXPECT_FALSE(Runtime::IsRunning());
}

TEST(AppTest, BadConfigFailsNamingTheFileAndLeavesNothingRunning) {
  const std::string config = WriteTempFile(R"({"subsystems":[{"subsystem":"bdev","config":[
      {"method":"bdev_malloc_create","params":{"name":"Good","num_blocks":64,"block_size":512}},
      {"method":"bdev_malloc_create","params":{"name":"Bad","num_blocks":64,"block_size":100}}]}]})");
  AppOptions o = TestOptions();
  o.config_file = config;
  absl::Status s = App::Start(o);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(config));
  EXPECT_THAT(s.message(), HasSubstr("bdev_malloc_create"));
  EXPECT_FALSE(App::IsRunning());
  EXPECT_FALSE(Runtime::IsRunning());

  // Everything the failed start made is gone: a clean start sees no bdev.
  ASSERT_TRUE(App::Start(TestOptions()).ok());
  EXPECT_THAT(Bdevs(), ::testing::IsEmpty());
  App::Stop();
  std::remove(config.c_str());

  o.config_file = "/nonexistent/bdevs.json";
  s = App::Start(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/bdevs.json"));
  EXPECT_FALSE(Runtime::IsRunning());
}

// A module compiled into the program, registered in code before App::Start.
class CountingModule final : public BdevModule {
 public:
  CountingModule() : BdevModule("app_test_counting") {}
  absl::Status Init() override {
    ++inits;
    on_app_thread = Thread::Current() == Runtime::AppThread();
    return absl::OkStatus();
  }
  void Fini() override { ++finis; }
  static inline int inits = 0;
  static inline int finis = 0;
  static inline bool on_app_thread = false;
};

TEST(AppTest, AModuleRegisteredInCodeIsInitedAtStartAndFinishedAtStop) {
  if (FindModule("app_test_counting") == nullptr) {
    RegisterModule(std::make_unique<CountingModule>());
  }
  const int inits = CountingModule::inits, finis = CountingModule::finis;
  ASSERT_TRUE(App::Start(TestOptions()).ok());
  EXPECT_EQ(CountingModule::inits, inits + 1);
  EXPECT_TRUE(CountingModule::on_app_thread);
  EXPECT_EQ(CountingModule::finis, finis);
  App::Stop();
  EXPECT_EQ(CountingModule::finis, finis + 1);
}

TEST(AppTest, MissingPluginFailsBeforeAnythingStarts) {
  AppOptions o = TestOptions();
  o.plugins = {"/nonexistent/libplugin.so"};
  absl::Status s = App::Start(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/libplugin.so"));
  EXPECT_FALSE(Runtime::IsRunning());
}

}  // namespace
}  // namespace bdevkit

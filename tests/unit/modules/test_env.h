// Shared by the rpc and modules unit tests: starts the real runtime (one unpinned
// reactor) once per test binary, optionally the bdev layer, and runs test steps on the
// app thread while the test body waits on the GoogleTest thread.
#ifndef BDEVKIT_TESTS_UNIT_MODULES_TEST_ENV_H_
#define BDEVKIT_TESTS_UNIT_MODULES_TEST_ENV_H_

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "bdevkit/bdev.h"
#include "bdevkit/rpc.h"
#include "bdevkit/runtime.h"
#include "gtest/gtest.h"

namespace bdevkit::testing {

// Runs fn(done) on the app thread and waits (bounded) for done(value). A step that
// never completes aborts the binary rather than hanging the test run.
template <typename T>
T OnApp(std::function<void(std::function<void(T)>)> fn) {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  int rc = Runtime::AppThread()->Send([promise, fn = std::move(fn)] {
    fn([promise](T value) { promise->set_value(std::move(value)); });
  });
  if (rc != 0) {
    std::fprintf(stderr, "OnApp: Send failed (%d)\n", rc);
    std::abort();
  }
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    std::fprintf(stderr, "OnApp: step did not complete within 30 s\n");
    std::abort();
  }
  return future.get();
}

// Runs a synchronous step on the app thread.
inline void OnAppSync(std::function<void()> fn) {
  OnApp<bool>([fn = std::move(fn)](std::function<void(bool)> done) {
    fn();
    done(true);
  });
}

// Calls an RPC method on the app thread and returns its result.
inline RpcResult CallRpc(const std::string& method, nlohmann::json params) {
  return OnApp<RpcResult>([&](std::function<void(RpcResult)> done) {
    CallRpcMethod(method, params, [done](RpcResult r) { done(std::move(r)); });
  });
}

// Starts the runtime only (enough for the RPC registry and config loader).
class RuntimeEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    absl::Status s = Runtime::Start(MakeOptions());
    ASSERT_TRUE(s.ok()) << s;
  }
  // One unpinned busy-polling reactor on core 0; a test binary may ask for others.
  virtual RuntimeOptions MakeOptions() const {
    RuntimeOptions options;
    options.cores = {0};
    options.pin_reactors = false;
    options.message_ring_size = 4096;
    return options;
  }
  void TearDown() override {
    Runtime::RequestStop();
    Runtime::Wait();
  }
};

// The runtime plus the bdev layer with the built-in modules (malloc, null).
class BdevLayerEnv : public RuntimeEnv {
 public:
  void SetUp() override {
    RuntimeEnv::SetUp();
    RegisterBuiltinModules();
    absl::Status started = OnApp<absl::Status>(
        [](std::function<void(absl::Status)> done) { StartBdevLayer(std::move(done)); });
    ASSERT_TRUE(started.ok()) << started;
  }
  void TearDown() override {
    OnApp<bool>([](std::function<void(bool)> done) { StopBdevLayer([done] { done(true); }); });
    RuntimeEnv::TearDown();
  }
};

}  // namespace bdevkit::testing

#endif  // BDEVKIT_TESTS_UNIT_MODULES_TEST_ENV_H_

#include "tools/bdevperf/rpc_mode.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bdevkit/rpc.h"
#include "tools/bdevperf/job_plan.h"
#include "tools/bdevperf/report_json.h"
#include "tools/bdevperf/run_output.h"

namespace bdevkit::perf {
namespace {

// The method is registered once per process and lives as long as the registry; it
// reaches the serving RpcMode through this pointer (app thread only).
RpcMode* g_serving = nullptr;

absl::Status RegisterPerformTests() {
  static bool registered = false;
  if (registered) return absl::OkStatus();
  RpcMethod m;
  m.name = "perform_tests";
  m.summary = "bdevperf -z: run the test over the current bdevs and answer with the results";
  m.params = {
      {"time_in_sec", RpcParamType::kUint, false, nullptr, "run time in seconds (-t)"},
      {"workload_type", RpcParamType::kString, false, nullptr, "workload (-w)"},
      {"queue_depth", RpcParamType::kUint, false, nullptr, "I/Os in flight per job (-q)"},
      {"io_size", RpcParamType::kAny, false, nullptr, "I/O size (-o): bytes, or \"4k\"-style"},
      {"rw_percentage", RpcParamType::kUint, false, nullptr, "reads in percent (-M)"},
  };
  m.handler = [](const nlohmann::json& params, RpcDone done) {
    if (g_serving == nullptr) return done(absl::UnavailableError("bdevperf is not serving tests"));
    g_serving->PerformTests(params, std::move(done));
  };
  if (absl::Status st = RegisterRpcMethod(std::move(m)); !st.ok()) return st;
  registered = true;
  return absl::OkStatus();
}

// Applies perform_tests' params over the command line's values.
absl::StatusOr<TestParams> MergeParams(const TestParams& base, const nlohmann::json& params) {
  TestParams test = base;
  if (HasParam(params, "time_in_sec")) {
    const uint64_t t = ParamUint(params, "time_in_sec");
    if (t == 0 || t > kMaxSeconds) {
      return absl::InvalidArgumentError("\"time_in_sec\": must be between 1 and a year");
    }
    test.time_seconds = t;
  }
  if (HasParam(params, "workload_type")) {
    const std::string name = ParamString(params, "workload_type");
    auto w = ParseWorkload(name);
    if (!w) {
      return absl::InvalidArgumentError(absl::StrCat("\"workload_type\": unknown workload '", name,
                                                     "'; use one of ", WorkloadNames()));
    }
    test.workload = *w;
  }
  if (HasParam(params, "queue_depth")) {
    const uint64_t q = ParamUint(params, "queue_depth");
    if (q == 0 || q > kMaxQueueDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"queue_depth\": must be between 1 and ", kMaxQueueDepth));
    }
    test.queue_depth = static_cast<uint32_t>(q);
  }
  if (HasParam(params, "io_size")) {
    const nlohmann::json& v = params.at("io_size");
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if (v.is_number_unsigned()) {
      text = std::to_string(v.get<uint64_t>());
    } else {
      return absl::InvalidArgumentError("\"io_size\": expected a string like \"4k\" or a number");
    }
    auto size = ParseIoSize(text);
    if (!size.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("\"io_size\": ", size.status().message()));
    }
    test.io_size = *size;
  }
  if (HasParam(params, "rw_percentage")) {
    const uint64_t m = ParamUint(params, "rw_percentage");
    if (m > 100) return absl::InvalidArgumentError("\"rw_percentage\": must be 0..100");
    test.rw_percentage = static_cast<int>(m);
  }
  return test;
}

}  // namespace

RpcMode::~RpcMode() {
  if (g_serving == this) g_serving = nullptr;
}

absl::Status RpcMode::Start() {
  if (absl::Status st = RegisterPerformTests(); !st.ok()) return st;
  g_serving = this;
  RpcServerOptions server_options;
  server_options.socket_path = opts_.rpc_socket;
  auto server = RpcServer::Start(server_options);
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  std::printf("Waiting for perform_tests on %s (%zu bdevs)\n", opts_.rpc_socket.c_str(),
              ListBdevs().size());
  std::fflush(stdout);
  return absl::OkStatus();
}

void RpcMode::PerformTests(const nlohmann::json& params, RpcDone done) {
  if (shutting_down_) return done(absl::UnavailableError("bdevperf is shutting down"));
  if (run_ != nullptr || reply_ != nullptr) {
    return done(absl::UnavailableError("another perform_tests is running; one at a time"));
  }
  auto test = MergeParams(opts_.test, params);
  if (!test.ok()) return done(test.status());
  if (absl::Status st = CheckTestParams(*test, opts_); !st.ok()) return done(st);
  reply_ = std::move(done);
  // Bdevs made over RPC just now may still be examined by virtual modules (which may
  // claim them or read them): plan once that is over, as the start-up config does.
  WaitForExamine([this, test = *test] {
    auto plan = PlanJobs(DescribeBdevs(), test, opts_.every_core, opts_.only_bdev,
                         Runtime::ReactorThreads().size());
    if (!plan.ok() || shutting_down_) {
      RpcDone reply = std::move(reply_);
      reply_ = nullptr;
      reply(shutting_down_ ? absl::UnavailableError("bdevperf is shutting down") : plan.status());
      if (shutdown_done_) {  // Shutdown() waited for this call
        auto then = std::move(shutdown_done_);
        shutdown_done_ = nullptr;
        Shutdown(std::move(then));
      }
      return;
    }
    run_ = std::make_unique<PerfRun>(RunSettings::From(opts_, test), *std::move(plan));
    run_->Start([this](RunOutcome outcome) { OnRunDone(std::move(outcome)); });
  });
}

void RpcMode::OnRunDone(RunOutcome outcome) {
  RpcDone reply = std::move(reply_);
  reply_ = nullptr;
  // The run is destroyed after this callback returns (it is still on the stack); a
  // shutdown that waited for it goes on then.
  Thread::Current()->Send([this] {
    run_.reset();
    if (shutdown_done_) {
      auto done = std::move(shutdown_done_);
      shutdown_done_ = nullptr;
      Shutdown(std::move(done));
    }
  });
  if (!outcome.setup_error.ok()) return reply(outcome.setup_error);
  PrintRunOutput(outcome, opts_.latency_level);
  if (!opts_.output_json.empty()) {
    if (absl::Status st = WriteJsonFile(opts_.output_json, ResultsJson(outcome.results));
        !st.ok()) {
      PrintError(st.message());
    }
  }
  if (outcome.any_failed) {
    return reply(absl::InternalError(
        absl::StrCat("bdevperf failed: ", absl::StrJoin(outcome.failures, "; "))));
  }
  reply(ResultsJson(outcome.results));  // ordered: SPDK's key order on the wire too
}

void RpcMode::Shutdown(std::function<void()> done) {
  shutting_down_ = true;
  if (run_ != nullptr || reply_ != nullptr) {
    // The caller gets the results so far (or, still waiting for examine, an error);
    // Shutdown goes on once the call is answered.
    shutdown_done_ = std::move(done);
    if (run_ != nullptr) run_->Stop();
    return;
  }
  if (server_ == nullptr) return done();
  server_->Stop([this, done = std::move(done)] {
    server_.reset();
    done();
  });
}

}  // namespace bdevkit::perf

// Runtime start/stop and the registry of reactors and threads.
#include "bdevkit/runtime.h"

#include <cerrno>
#include <memory>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bdev/runtime/reactor.h"
#include "bdev/runtime/runtime_internal.h"
#include "bdev/runtime/thread_impl.h"
#include "bdevkit/log.h"

namespace bdevkit {
namespace {

// The runtime singleton (style.md allows exactly this global). Reactors and threads
// are created and destroyed only by Start()/Wait(); the mutex guards the lists
// against CreateThread()/AllThreads() from other threads.
struct RuntimeState {
  absl::Mutex mu;
  RuntimeOptions options;
  std::vector<std::unique_ptr<Reactor>> reactors;
  std::vector<std::unique_ptr<ThreadImpl>> threads ABSL_GUARDED_BY(mu);
  std::atomic<Thread*> app_thread{nullptr};
  std::atomic<bool> running{false};
  std::atomic<bool> stop_requested{false};
  uint32_t next_thread_id ABSL_GUARDED_BY(mu) = 0;
};

RuntimeState& State() {
  static auto* state = new RuntimeState();
  return *state;
}

ThreadImpl* NewThread(RuntimeState& s, std::string name, Reactor* reactor) {
  absl::MutexLock lock(&s.mu);
  s.threads.push_back(std::make_unique<ThreadImpl>(
      std::move(name), s.next_thread_id++, reactor->core(), reactor, s.options.message_ring_size));
  return s.threads.back().get();
}

}  // namespace

namespace runtime_internal {

bool StopRequested() { return State().stop_requested.load(std::memory_order_acquire); }

std::vector<ThreadImpl*> AllThreads() {
  RuntimeState& s = State();
  absl::MutexLock lock(&s.mu);
  std::vector<ThreadImpl*> out;
  out.reserve(s.threads.size());
  for (auto& t : s.threads) out.push_back(t.get());
  return out;
}

}  // namespace runtime_internal

absl::Status Runtime::Start(const RuntimeOptions& options) {
  RuntimeState& s = State();
  if (s.running.exchange(true)) return absl::FailedPreconditionError("runtime already running");
  s.options = options;
  if (s.options.cores.empty()) s.options.cores = {0};
  s.stop_requested.store(false);

  for (int core : s.options.cores) {
    s.reactors.push_back(std::make_unique<Reactor>(core, s.options));
    ThreadImpl* t = NewThread(s, absl::StrFormat("reactor_%d", core), s.reactors.back().get());
    s.reactors.back()->AddThread(t);
    if (s.app_thread.load() == nullptr) s.app_thread.store(t);
  }
  for (auto& r : s.reactors) r->Launch();
  LOG_INFO("runtime started on %d reactor(s), core mask %s", static_cast<int>(s.reactors.size()),
           FormatCoreMask(s.options.cores));
  return absl::OkStatus();
}

void Runtime::RequestStop() {
  RuntimeState& s = State();
  s.stop_requested.store(true, std::memory_order_release);
  // Sleeping reactors must see the request now, not at their next timer.
  for (auto& r : s.reactors) r->Notify();
}

void Runtime::Wait() {
  RuntimeState& s = State();
  if (!s.running.load()) return;
  for (auto& r : s.reactors) r->Join();
  std::vector<std::unique_ptr<ThreadImpl>> threads;
  {
    absl::MutexLock lock(&s.mu);
    threads.swap(s.threads);
    s.next_thread_id = 0;
  }
  for (auto& t : threads) t->ReportAndReleaseLeftovers();
  threads.clear();
  s.reactors.clear();
  s.app_thread.store(nullptr);
  s.running.store(false);
}

absl::Status Runtime::Run(const RuntimeOptions& options, std::function<void()> main) {
  if (absl::Status st = Start(options); !st.ok()) return st;
  if (AppThread()->Send(std::move(main)) != 0) {
    RequestStop();
    Wait();
    return absl::InternalError("cannot send the main function to the app thread");
  }
  Wait();
  return absl::OkStatus();
}

absl::StatusOr<Thread*> Runtime::CreateThread(std::string name, int core) {
  RuntimeState& s = State();
  if (!s.running.load() || s.stop_requested.load()) {
    return absl::FailedPreconditionError("runtime not running");
  }
  Reactor* target = nullptr;
  for (auto& r : s.reactors) {
    if (core >= 0 && r->core() == core) target = r.get();
    if (core < 0 && (target == nullptr || r->thread_count() < target->thread_count())) {
      target = r.get();
    }
  }
  if (target == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat("no reactor on core %d", core));
  }
  ThreadImpl* t = NewThread(s, std::move(name), target);
  target->AddThread(t);
  return t;
}

Thread* Runtime::AppThread() { return State().app_thread.load(); }

std::vector<Thread*> Runtime::ReactorThreads() {
  RuntimeState& s = State();
  std::vector<Thread*> out;
  absl::MutexLock lock(&s.mu);
  // The first thread created for each reactor is its app thread.
  for (auto& r : s.reactors) {
    for (auto& t : s.threads) {
      if (t->reactor() == r.get()) {
        out.push_back(t.get());
        break;
      }
    }
  }
  return out;
}

bool Runtime::IsRunning() { return State().running.load(); }

const RuntimeOptions& Runtime::Options() { return State().options; }

std::vector<ReactorStats> Runtime::GetReactorStats() {
  // The reactor list changes only in Start() and Wait(), not while the runtime runs.
  std::vector<ReactorStats> out;
  for (auto& r : State().reactors) out.push_back(r->stats());
  return out;
}

namespace {

// ForEachThread's walk: visits the threads one after another by message, then returns
// to the origin thread for `done`.
struct ThreadWalk {
  std::vector<ThreadImpl*> threads;
  size_t index = 0;
  std::function<void(Thread&)> fn;
  std::function<void()> done;
  Thread* origin = nullptr;
};

void FinishThreadWalk(void* arg) {
  std::unique_ptr<ThreadWalk> walk(static_cast<ThreadWalk*>(arg));
  walk->done();
}

void VisitThread(void* arg);

void SendToNextThread(ThreadWalk* walk) {
  while (walk->index < walk->threads.size()) {
    if (walk->threads[walk->index]->Send(VisitThread, walk) == 0) return;
    ++walk->index;  // that thread has exited: nothing can run there any more
  }
  if (walk->origin->Send(FinishThreadWalk, walk) != 0) {
    LOG_ERROR("ForEachThread: origin thread %s is gone; done callback dropped",
              walk->origin->name());
    delete walk;
  }
}

void VisitThread(void* arg) {
  auto* walk = static_cast<ThreadWalk*>(arg);
  walk->fn(*walk->threads[walk->index]);
  ++walk->index;
  SendToNextThread(walk);
}

}  // namespace

void ForEachThread(std::function<void(Thread&)> fn, std::function<void()> done) {
  // Always by message, even to the caller's own thread: fn never runs inside the
  // caller's stack.
  SendToNextThread(new ThreadWalk{runtime_internal::AllThreads(), 0, std::move(fn), std::move(done),
                                  Thread::Current()});
}

}  // namespace bdevkit

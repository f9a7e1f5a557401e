// The polling runtime: reactors (one pinned OS thread per core), lightweight threads
// that run to completion, message passing between them, and pollers.
//
// Threading vocabulary used in every comment of this header:
//   "any thread"      - callable from any OS thread, runtime or not.
//   "runtime thread"  - must be called from code running on a bdevkit Thread.
//   "owning thread"   - must be called on the Thread that owns the object.
//   "never blocks"    - returns without waiting for other threads or the kernel.
#ifndef BDEVKIT_RUNTIME_H_
#define BDEVKIT_RUNTIME_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bdevkit {

class Thread;
class Poller;
class WakeFd;

// A message: a plain function and its argument. This is what the lock-free ring
// carries, so sending one never allocates.
using MessageFn = void (*)(void* arg);

// Whether a poller found work. Reactors use it to decide when they are idle.
enum class PollStatus { kIdle = 0, kBusy = 1 };

using PollerFn = std::function<PollStatus()>;

// What a reactor does when none of its threads found work.
enum class IdlePolicy {
  kBusyPoll,  // spin: lowest latency, burns its core even with no load (default)
  kSleep,     // after `idle_spins` idle loops, sleep until a message, a timer or a
              // registered wake fd (Thread::RegisterWakeFd) is due
};

struct RuntimeOptions {
  // Cores to run reactors on, e.g. {0, 1}. Empty = core 0 only.
  std::vector<int> cores;
  IdlePolicy idle_policy = IdlePolicy::kBusyPoll;
  int idle_spins = 10000;
  // Pin each reactor to its core. Tests turn this off to share cores freely.
  bool pin_reactors = true;
  // Capacity of each thread's message ring (rounded up to a power of two).
  uint32_t message_ring_size = 65536;
};

// Parses an SPDK-style core mask ("0x3", "3", "[0,1]", "0-3,6") into core ids.
// Errors name the bad part and check the cores exist on this machine. Any thread.
absl::StatusOr<std::vector<int>> ParseCoreMask(std::string_view mask);

// Formats core ids back as a hex mask ("0x3"). Any thread.
std::string FormatCoreMask(const std::vector<int>& cores);

// A lightweight thread: a message ring, active pollers and timed pollers, run by one
// reactor. Code running on a Thread must never block.
class Thread {
 public:
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;

  // The Thread running the caller, or nullptr outside the runtime. Any thread.
  static Thread* Current();

  // Queues fn(arg) to run on this thread. Any thread; never blocks; lock-free.
  // Returns 0, or -ENOMEM when the ring is full (fn will then not run) or
  // -ESHUTDOWN when the thread has exited.
  int Send(MessageFn fn, void* arg);

  // Convenience for the control plane: queues a closure (heap-allocated, so not for
  // the I/O path). Same return contract as Send().
  int Send(std::function<void()> fn);

  // Registers a poller on this thread. period == 0: runs on every reactor loop
  // (active poller); otherwise at most once per period (timed poller).
  // Owning thread; never blocks. The returned Poller stays valid until
  // UnregisterPoller() is called.
  Poller* RegisterPoller(PollerFn fn, absl::Duration period, std::string name = "");

  // Stops and frees a poller; it will not run again after this returns, even if
  // called from inside the poller itself. Owning thread; never blocks.
  void UnregisterPoller(Poller* poller);

  // Whether the reactor running this thread ever sleeps (IdlePolicy::kSleep). When it
  // does not, wake fds are never waited on, so a module can skip setting one up and
  // busy polling pays nothing for them (no eventfd for the kernel to signal per
  // completion). Any thread; never blocks.
  bool MaySleep() const;

  // Lets `fd` wake this thread's reactor: when the reactor sleeps, it also waits for
  // `fd` to become readable (or to report an error), and once it woke because of it,
  // `on_ready` runs on this thread before its messages and pollers. on_ready must
  // consume what made the fd readable (e.g. read an eventfd's counter): an fd left
  // readable ends every later sleep at once. The typical user is a channel whose
  // completions are only seen by polling (an io_uring with a registered eventfd, Linux
  // AIO with IOCB_FLAG_RESFD): with its fd registered, its poller may report kIdle
  // while I/O is outstanding, and the reactor sleeps until a completion arrives.
  // Nothing is done per loop for registered fds, and nothing at all on a busy-polling
  // reactor (on_ready then never runs). The runtime never reads or closes `fd`; call
  // UnregisterWakeFd() before closing it (an fd closed while registered is reported
  // and ignored from then on). Owning thread; never blocks. The returned WakeFd stays
  // valid until UnregisterWakeFd().
  WakeFd* RegisterWakeFd(int fd, std::function<void()> on_ready, std::string name = "");

  // Stops waiting for the fd; on_ready will not run after this returns, even if
  // called from inside it. Owning thread; never blocks.
  void UnregisterWakeFd(WakeFd* wake_fd);

  const std::string& name() const { return name_; }
  uint32_t id() const { return id_; }
  // Core of the reactor running this thread.
  int core() const { return core_; }

 protected:
  Thread(std::string name, uint32_t id, int core) : name_(std::move(name)), id_(id), core_(core) {}
  ~Thread() = default;

 private:
  const std::string name_;
  const uint32_t id_;
  const int core_;
};

// Runs fn on each runtime thread in turn (one after another, by message), then `done`
// on the calling thread. Runtime thread; never blocks.
void ForEachThread(std::function<void(Thread&)> fn, std::function<void()> done);

// What a reactor did while idle (IdlePolicy::kSleep), counted since Runtime::Start.
// A sleep can end for more than one reason at once; each reason is counted.
struct ReactorStats {
  int core = 0;
  uint64_t sleeps = 0;            // times it went to sleep
  uint64_t wakes_by_fd = 0;       // ...and a registered wake fd became readable
  uint64_t wakes_by_message = 0;  // ...and a message, a new thread or a stop request came
  uint64_t wakes_by_timer = 0;    // ...and the next timed poller's deadline passed
  uint64_t slept_ns = 0;          // total time asleep
};

// The process-wide runtime. Exactly one may run at a time.
class Runtime {
 public:
  // Starts one reactor per core, each with one "app" thread named "reactor_<core>".
  // Returns once every reactor is running. Any non-runtime thread; blocks briefly.
  static absl::Status Start(const RuntimeOptions& options);

  // Asks every thread to finish: reactors stop once their message rings are drained.
  // Any thread; never blocks. Idempotent.
  static void RequestStop();

  // Waits until RequestStop() was called and every reactor has exited, then tears
  // the runtime down (threads, pollers still registered are reported and freed).
  // Non-runtime thread; blocks.
  static void Wait();

  // Start, run `main` on the first thread, Wait. Returns when someone calls
  // RequestStop(). Non-runtime thread; blocks.
  static absl::Status Run(const RuntimeOptions& options, std::function<void()> main);

  // Creates another lightweight thread on the reactor of `core` (-1 = the least
  // loaded). Any thread; never blocks.
  static absl::StatusOr<Thread*> CreateThread(std::string name, int core = -1);

  // The first thread of the first reactor: owns control-plane state (bdev registry,
  // RPC server). nullptr when not running. Any thread.
  static Thread* AppThread();

  // The app thread of each reactor, in core order. Any thread.
  static std::vector<Thread*> ReactorThreads();

  // Whether the runtime runs, and the options it was started with. Any thread.
  static bool IsRunning();
  static const RuntimeOptions& Options();

  // Each reactor's idle counters, in core order (all zero for busy-polling reactors).
  // Any thread; never blocks; each counter is read atomically, the set is not a
  // snapshot of one instant.
  static std::vector<ReactorStats> GetReactorStats();
};

// A tick counter for latency measurement (TSC on x86, steady clock elsewhere).
// Any thread; never blocks.
uint64_t GetTicks();
uint64_t GetTicksPerSecond();

}  // namespace bdevkit

#endif  // BDEVKIT_RUNTIME_H_

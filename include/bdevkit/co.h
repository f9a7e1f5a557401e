// C++20 coroutines over the bdev API: sequential-looking I/O code that keeps the
// run-to-completion model.
//
//   bdevkit::co::Task<bdevkit::IoStatus> CopyBlock(bdevkit::BdevDesc& src,
//                                                bdevkit::BdevDesc& dst,
//                                                bdevkit::IoChannel* sch,
//                                                bdevkit::IoChannel* dch, void* buf) {
//     bdevkit::IoStatus s = co_await src.Read(sch, buf, 0, 1);
//     if (!s.ok()) co_return s;
//     co_return co_await dst.Write(dch, buf, 0, 1);
//   }
//   ...
//   bdevkit::co::Spawn(CopyBlock(...), [](bdevkit::IoStatus s) { ... });  // runtime thread
//
// Rules:
// - Awaiting an I/O (BdevDesc::Read/Write/... without a callback) submits it and
//   suspends the coroutine; the I/O's completion resumes it on the same thread (the
//   bdev layer completes an I/O on the thread that submitted it), with the IoStatus.
//   A submit error comes back as the IoStatus without suspending, except -ENOMEM (no
//   BdevIo free on this thread): the awaitable then waits for one (QueueIoWait) and
//   submits again, so a coroutine never sees -ENOMEM.
// - Allocation: the awaitable lives in the coroutine's frame, so an awaited I/O
//   allocates nothing. A Task's frame is allocated when the coroutine is called and
//   freed when the Task is destroyed (or, for Spawn, when it finishes); frames come
//   from a per-thread pool of recycled blocks (FramePoolStats), so a loop that calls
//   coroutines of the same size reaches the heap only for its first frames. One frame
//   per coroutine call, none per I/O: keep I/O loops inside a coroutine rather than one
//   coroutine per I/O where that matters.
// - Tasks are lazy: calling a coroutine creates its frame and runs nothing; it starts
//   when awaited or spawned. A Task must be awaited (or spawned) at most once.
// - Threads: a Task runs on the thread that resumes it. Everything awaited here
//   resumes on the thread that awaited it, so a Task stays on its thread; WhenAll's
//   tasks must too (its bookkeeping is not atomic). Nothing here blocks.
// - Exceptions: bdevkit's I/O path has none; an exception escaping a Task calls
//   std::terminate.
// - Lifetimes: a coroutine's parameters are copied into its frame, but references and
//   pointers are not followed: buffers, descriptors and channels must outlive the I/O,
//   as with callbacks. A lambda's captures live in the lambda, not the frame: write
//   coroutines as functions (or pass what they need as parameters).
#ifndef BDEVKIT_CO_H_
#define BDEVKIT_CO_H_

#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"

namespace bdevkit {

// What BdevDesc's coroutine forms return: `IoStatus s = co_await desc.Read(...)`.
// Holds the request until awaited; awaiting submits it. Await it at once (it refers
// to the descriptor, channel and buffers it was given).
class [[nodiscard]] IoAwaitable {
 public:
  enum class Op : uint8_t { kRead, kReadv, kWrite, kWritev, kWriteZeroes, kUnmap, kFlush, kReset };

  IoAwaitable(BdevDesc* desc, IoChannel* ch, Op op, void* buf, const iovec* iov, int iovcnt,
              uint64_t offset_blocks, uint64_t num_blocks)
      : desc_(desc),
        ch_(ch),
        buf_(buf),
        iov_(iov),
        offset_blocks_(offset_blocks),
        num_blocks_(num_blocks),
        iovcnt_(iovcnt),
        op_(op) {}
  IoAwaitable(const IoAwaitable&) = delete;
  IoAwaitable& operator=(const IoAwaitable&) = delete;

  bool await_ready() const noexcept { return false; }

  // Submits; suspends unless the submit failed (then the error is the result at once).
  // Inlined into the coroutine, where the I/O type is known: the dispatch on op_ then
  // folds away and the submit costs what the callback form's does.
  __attribute__((always_inline)) bool await_suspend(std::coroutine_handle<> awaiter) noexcept {
    awaiter_ = awaiter;
    return SubmitOrWait();
  }

  IoStatus await_resume() const noexcept { return status_; }

 private:
  __attribute__((always_inline)) int Submit() noexcept {
    switch (op_) {
      case Op::kRead:
        return desc_->Read(ch_, buf_, offset_blocks_, num_blocks_, &OnComplete, this);
      case Op::kReadv:
        return desc_->Readv(ch_, iov_, iovcnt_, offset_blocks_, num_blocks_, &OnComplete, this);
      case Op::kWrite:
        return desc_->Write(ch_, buf_, offset_blocks_, num_blocks_, &OnComplete, this);
      case Op::kWritev:
        return desc_->Writev(ch_, iov_, iovcnt_, offset_blocks_, num_blocks_, &OnComplete, this);
      case Op::kWriteZeroes:
        return desc_->WriteZeroes(ch_, offset_blocks_, num_blocks_, &OnComplete, this);
      case Op::kUnmap:
        return desc_->Unmap(ch_, offset_blocks_, num_blocks_, &OnComplete, this);
      case Op::kFlush:
        return desc_->Flush(ch_, offset_blocks_, num_blocks_, &OnComplete, this);
      case Op::kReset:
        return desc_->Reset(ch_, &OnComplete, this);
    }
    return -EINVAL;
  }

  // true: the coroutine stays suspended until OnComplete (or OnBdevIoFree) resumes it.
  __attribute__((always_inline)) bool SubmitOrWait() noexcept {
    int rc = Submit();
    if (rc == 0) return true;
    if (rc == -ENOMEM) {
      wait_.cb = &OnBdevIoFree;
      wait_.cb_arg = this;
      if (desc_->QueueIoWait(ch_, &wait_) == 0) return true;
      rc = Submit();  // -EINVAL from QueueIoWait: one freed meanwhile
      if (rc == 0) return true;
    }
    status_ = IoStatus::Error(rc);
    return false;
  }

  static void OnComplete(void* arg, IoStatus status) {
    auto* self = static_cast<IoAwaitable*>(arg);
    self->status_ = status;
    self->awaiter_.resume();  // may destroy *self: nothing after this
  }

  static void OnBdevIoFree(void* arg) {
    auto* self = static_cast<IoAwaitable*>(arg);
    if (!self->SubmitOrWait()) self->awaiter_.resume();
  }

  BdevDesc* desc_;
  IoChannel* ch_;
  void* buf_;
  const iovec* iov_;
  uint64_t offset_blocks_;
  uint64_t num_blocks_;
  int iovcnt_;
  Op op_;
  IoStatus status_;
  std::coroutine_handle<> awaiter_;
  IoWaitEntry wait_;
};

// BdevDesc's coroutine forms, declared in bdev.h. Same validation and errors as the
// callback forms; see the rules above.
inline IoAwaitable BdevDesc::Read(IoChannel* ch, void* buf, uint64_t offset_blocks,
                                  uint64_t num_blocks) {
  return {this, ch, IoAwaitable::Op::kRead, buf, nullptr, 0, offset_blocks, num_blocks};
}
inline IoAwaitable BdevDesc::Readv(IoChannel* ch, const iovec* iov, int iovcnt,
                                   uint64_t offset_blocks, uint64_t num_blocks) {
  return {this, ch, IoAwaitable::Op::kReadv, nullptr, iov, iovcnt, offset_blocks, num_blocks};
}
inline IoAwaitable BdevDesc::Write(IoChannel* ch, const void* buf, uint64_t offset_blocks,
                                   uint64_t num_blocks) {
  return {this,    ch, IoAwaitable::Op::kWrite, const_cast<void*>(buf),
          nullptr, 0,  offset_blocks,           num_blocks};
}
inline IoAwaitable BdevDesc::Writev(IoChannel* ch, const iovec* iov, int iovcnt,
                                    uint64_t offset_blocks, uint64_t num_blocks) {
  return {this, ch, IoAwaitable::Op::kWritev, nullptr, iov, iovcnt, offset_blocks, num_blocks};
}
inline IoAwaitable BdevDesc::WriteZeroes(IoChannel* ch, uint64_t offset_blocks,
                                         uint64_t num_blocks) {
  return {this, ch, IoAwaitable::Op::kWriteZeroes, nullptr, nullptr, 0, offset_blocks, num_blocks};
}
inline IoAwaitable BdevDesc::Unmap(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks) {
  return {this, ch, IoAwaitable::Op::kUnmap, nullptr, nullptr, 0, offset_blocks, num_blocks};
}
inline IoAwaitable BdevDesc::Flush(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks) {
  return {this, ch, IoAwaitable::Op::kFlush, nullptr, nullptr, 0, offset_blocks, num_blocks};
}
inline IoAwaitable BdevDesc::Reset(IoChannel* ch) {
  return {this, ch, IoAwaitable::Op::kReset, nullptr, nullptr, 0, 0, 0};
}

namespace co {

// The calling thread's frame pool counters. Runtime or not; never blocks.
struct FramePoolStats {
  uint64_t heap_allocs = 0;  // frames that had to come from the heap
  uint64_t reused = 0;       // frames served from the pool
  uint64_t cached = 0;       // blocks held in the pool now
};
FramePoolStats GetFramePoolStats();

namespace internal {

// Frames are recycled per thread in size classes of 64 bytes up to 4 KiB (a bounded
// number per class); larger ones go to the heap each time. A frame freed on another
// thread joins that thread's pool.
void* AllocFrame(size_t size);
void FreeFrame(void* frame, size_t size) noexcept;

// WhenAll's count of tasks still running and whom to resume after the last.
struct Latch {
  size_t remaining = 0;
  std::coroutine_handle<> continuation;
};

struct PromiseBase {
  std::coroutine_handle<> continuation = std::noop_coroutine();
  Latch* latch = nullptr;
  bool detached = false;  // Spawn: the frame frees itself when done

  static void* operator new(size_t size) { return AllocFrame(size); }
  static void operator delete(void* frame, size_t size) noexcept { FreeFrame(frame, size); }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
      PromiseBase& p = self.promise();
      if (p.detached) {
        self.destroy();
        return std::noop_coroutine();
      }
      if (p.latch != nullptr) {
        if (--p.latch->remaining == 0) return p.latch->continuation;
        return std::noop_coroutine();
      }
      return p.continuation;  // symmetric transfer: no stack growth along a chain
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { std::terminate(); }
};

template <typename T>
struct Promise;

}  // namespace internal

// A coroutine's result: co_await it for the value, or Spawn it.
template <typename T = void>
class [[nodiscard]] Task {
 public:
  using promise_type = internal::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(Handle h) : h_(h) {}
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool valid() const { return static_cast<bool>(h_); }
  bool done() const { return h_ && h_.done(); }

  struct Awaiter {
    Handle h;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
      h.promise().continuation = awaiter;
      return h;  // start the task; it resumes `awaiter` when done
    }
    T await_resume() { return h.promise().Take(); }
  };
  // Starts the task and resumes the awaiter with its result when it finishes.
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }

  // For WhenAll and Spawn.
  Handle handle() const { return h_; }
  Handle Release() { return std::exchange(h_, {}); }

 private:
  Handle h_;
};

namespace internal {

template <typename T>
struct Promise : PromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() {
    return Task<T>(std::coroutine_handle<Promise>::from_promise(*this));
  }
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T Take() { return std::move(*value); }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() {
    return Task<void>(std::coroutine_handle<Promise>::from_promise(*this));
  }
  void return_void() {}
  void Take() {}
};

// Starts every task and resumes the awaiter once all have finished. The count holds
// one extra reference while starting them, so a task that finishes at once cannot
// resume the awaiter before the others have started.
class JoinAwaiter {
 public:
  explicit JoinAwaiter(std::vector<PromiseBase*> promises,
                       std::vector<std::coroutine_handle<>> handles)
      : promises_(std::move(promises)), handles_(std::move(handles)) {}
  bool await_ready() const noexcept { return handles_.empty(); }
  bool await_suspend(std::coroutine_handle<> awaiter) noexcept {
    latch_.remaining = handles_.size() + 1;
    latch_.continuation = awaiter;
    for (size_t i = 0; i < handles_.size(); ++i) {
      promises_[i]->latch = &latch_;
      handles_[i].resume();
    }
    return --latch_.remaining != 0;  // 0: every task finished already, go on at once
  }
  void await_resume() const noexcept {}

 private:
  std::vector<PromiseBase*> promises_;
  std::vector<std::coroutine_handle<>> handles_;
  Latch latch_;
};

// The same without a vector, for a fixed number of tasks.
template <size_t N>
class FixedJoinAwaiter {
 public:
  FixedJoinAwaiter(std::array<PromiseBase*, N> promises,
                   std::array<std::coroutine_handle<>, N> handles)
      : promises_(promises), handles_(handles) {}
  bool await_ready() const noexcept { return N == 0; }
  bool await_suspend(std::coroutine_handle<> awaiter) noexcept {
    latch_.remaining = N + 1;
    latch_.continuation = awaiter;
    for (size_t i = 0; i < N; ++i) {
      promises_[i]->latch = &latch_;
      handles_[i].resume();
    }
    return --latch_.remaining != 0;
  }
  void await_resume() const noexcept {}

 private:
  std::array<PromiseBase*, N> promises_;
  std::array<std::coroutine_handle<>, N> handles_;
  Latch latch_;
};

template <typename T, typename F>
Task<void> RunThenCall(Task<T> task, F on_done) {
  // The task's frame (and what it holds: descriptors, buffers) is freed before
  // on_done runs, so whoever on_done wakes finds them released.
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    task = Task<T>();
    on_done();
  } else {
    T result = co_await std::move(task);
    task = Task<T>();
    on_done(std::move(result));
  }
}

}  // namespace internal

// Runs every task concurrently (each until its first suspension, in order, then as
// their I/O completes) and finishes when all have, with their results in order.
// Allocates no more than the frames. Same thread; never blocks.
template <typename... T>
Task<std::tuple<T...>> WhenAll(Task<T>... tasks) {
  static_assert((!std::is_void_v<T> && ...), "WhenAll of Task<void>: use the vector form");
  co_await internal::FixedJoinAwaiter<sizeof...(T)>({&tasks.handle().promise()...},
                                                    {tasks.handle()...});
  co_return std::tuple<T...>(tasks.handle().promise().Take()...);
}

// The same for a run-time number of tasks; the results come back in a vector (one
// allocation per WhenAll, besides the frames).
template <typename T>
Task<std::vector<T>> WhenAll(std::vector<Task<T>> tasks) {
  std::vector<internal::PromiseBase*> promises;
  std::vector<std::coroutine_handle<>> handles;
  for (Task<T>& t : tasks) {
    promises.push_back(&t.handle().promise());
    handles.push_back(t.handle());
  }
  co_await internal::JoinAwaiter(std::move(promises), std::move(handles));
  std::vector<T> results;
  results.reserve(tasks.size());
  for (Task<T>& t : tasks) results.push_back(t.handle().promise().Take());
  co_return results;
}

inline Task<void> WhenAll(std::vector<Task<void>> tasks) {
  std::vector<internal::PromiseBase*> promises;
  std::vector<std::coroutine_handle<>> handles;
  for (Task<void>& t : tasks) {
    promises.push_back(&t.handle().promise());
    handles.push_back(t.handle());
  }
  co_await internal::JoinAwaiter(std::move(promises), std::move(handles));
}

// Starts a task that nobody awaits; its frame frees itself when it finishes. Call it
// on the thread the task should run on (it runs there until its first suspension).
// Runtime thread; never blocks.
inline void Spawn(Task<void> task) {
  auto h = task.Release();
  if (!h) return;
  h.promise().detached = true;
  h.resume();
}

// Spawn, then on_done(result) (on_done() for Task<void>) on the task's thread when it
// finishes. Costs one more frame (the wrapper's).
template <typename T, typename F>
void Spawn(Task<T> task, F on_done) {
  Spawn(internal::RunThenCall(std::move(task), std::move(on_done)));
}

}  // namespace co
}  // namespace bdevkit

#endif  // BDEVKIT_CO_H_

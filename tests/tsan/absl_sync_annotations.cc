// Linked into the ThreadSanitizer test binaries only (BDEVKIT_SANITIZE=thread).
//
// Debian's Abseil is a prebuilt shared library without TSan instrumentation, so TSan
// cannot see that absl::Mutex, absl::CondVar and absl::Notification order memory: an
// Unlock() on one thread followed by a Lock() on another looks like no
// synchronization at all, and every access they guard is reported as a race (the
// runtime's registries, the tests' Notifications).
//
// These definitions interpose the library's exported functions (a definition in the
// executable wins over the shared library's for every caller, the library's own calls
// included), call the real function found with dlsym(RTLD_NEXT), and tell TSan what it
// did: __tsan_release before giving a lock up or notifying, __tsan_acquire after taking
// a lock or returning from a wait that saw the notification. This is what Abseil does
// itself when it is compiled with TSan. It only adds happens-before edges that the
// primitives really provide, so races through other paths are still reported.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

#define BDEVKIT_STRINGIFY2(x) #x
#define BDEVKIT_STRINGIFY(x) BDEVKIT_STRINGIFY2(x)

// "_ZN4absl<len><inline namespace>" + rest: the Itanium mangling of absl::<ns>::...
std::string Mangled(const char* prefix, const char* rest) {
  const std::string ns = BDEVKIT_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return std::string(prefix) + "4absl" + std::to_string(ns.size()) + ns + rest;
}

template <typename Fn>
Fn Real(const char* prefix, const char* rest) {
  const std::string name = Mangled(prefix, rest);
  void* p = dlsym(RTLD_NEXT, name.c_str());
  if (p == nullptr) {
    std::fprintf(stderr, "absl_sync_annotations: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(p);
}

// Static locals: each lookup runs once, on first use, thread-safely.
#define BDEVKIT_REAL(type, prefix, rest) static const auto real = Real<type>(prefix, rest)

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  BDEVKIT_REAL(void (*)(Mutex*), "_ZN", "5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  BDEVKIT_REAL(void (*)(Mutex*), "_ZN", "5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  BDEVKIT_REAL(bool (*)(Mutex*), "_ZN", "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  BDEVKIT_REAL(bool (*)(Mutex*), "_ZN", "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  BDEVKIT_REAL(void (*)(Mutex*), "_ZN", "5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  BDEVKIT_REAL(void (*)(Mutex*), "_ZN", "5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  BDEVKIT_REAL(void (*)(Mutex*, const Condition&), "_ZN", "5Mutex8LockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  BDEVKIT_REAL(void (*)(Mutex*, const Condition&), "_ZN",
               "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  BDEVKIT_REAL(bool (*)(Mutex*, const Condition&, absl::Duration), "_ZN",
               "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);  // held on return either way
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  BDEVKIT_REAL(bool (*)(Mutex*, const Condition&, absl::Duration), "_ZN",
               "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  BDEVKIT_REAL(void (*)(Mutex*, const Condition&), "_ZN", "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);  // the lock is given up while waiting
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  BDEVKIT_REAL(bool (*)(Mutex*, const Condition&, absl::Duration), "_ZN",
               "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  BDEVKIT_REAL(void (*)(CondVar*, Mutex*), "_ZN", "7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  BDEVKIT_REAL(bool (*)(CondVar*, Mutex*, absl::Duration), "_ZN",
               "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

void Notification::Notify() {
  BDEVKIT_REAL(void (*)(Notification*), "_ZN", "12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  BDEVKIT_REAL(void (*)(const Notification*), "_ZNK", "12Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  BDEVKIT_REAL(bool (*)(const Notification*, absl::Duration), "_ZNK",
               "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl

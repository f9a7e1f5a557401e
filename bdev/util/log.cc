#include "bdevkit/log.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace bdevkit {
namespace log_internal {
std::atomic<int> g_level{static_cast<int>(LogLevel::kNotice)};
std::atomic<bool> g_any_flag{false};
}  // namespace log_internal

namespace {

// Flags change rarely (start-up, an RPC); reads only happen once g_any_flag is set.
absl::Mutex g_flags_mu;
absl::flat_hash_set<std::string>& Flags() ABSL_EXCLUSIVE_LOCKS_REQUIRED(g_flags_mu) {
  static auto* flags = new absl::flat_hash_set<std::string>();
  return *flags;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kNotice:
      return "NOTICE";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kDebug:
      return "DEBUG";
  }
  return "?";
}

}  // namespace

void SetLogLevel(LogLevel level) {
  log_internal::g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel GetLogLevel() {
  return static_cast<LogLevel>(log_internal::g_level.load(std::memory_order_relaxed));
}

void EnableLogFlag(std::string_view component) {
  absl::MutexLock lock(&g_flags_mu);
  Flags().insert(std::string(component));
  log_internal::g_any_flag.store(true, std::memory_order_relaxed);
  SetLogLevel(LogLevel::kDebug);
}

void DisableLogFlags() {
  absl::MutexLock lock(&g_flags_mu);
  Flags().clear();
  log_internal::g_any_flag.store(false, std::memory_order_relaxed);
}

void DisableLogFlag(std::string_view component) {
  absl::MutexLock lock(&g_flags_mu);
  Flags().erase(std::string(component));
  log_internal::g_any_flag.store(!Flags().empty(), std::memory_order_relaxed);
}

std::vector<std::string> EnabledLogFlags() {
  absl::MutexLock lock(&g_flags_mu);
  std::vector<std::string> out(Flags().begin(), Flags().end());
  std::sort(out.begin(), out.end());
  return out;
}

bool LogFlagEnabled(std::string_view component) {
  absl::MutexLock lock(&g_flags_mu);
  return Flags().contains("all") || Flags().contains(std::string(component));
}

namespace log_internal {
void Write(LogLevel level, const char* file, int line, std::string_view message) {
  std::string_view path(file);
  if (auto slash = path.rfind('/'); slash != std::string_view::npos) path.remove_prefix(slash + 1);
  // One fwrite per line: stdio locks the stream, so concurrent lines never interleave.
  std::string text = absl::StrFormat("[%s %s:%d] %s\n", LevelName(level), path, line, message);
  std::fwrite(text.data(), 1, text.size(), stderr);
}
}  // namespace log_internal

}  // namespace bdevkit

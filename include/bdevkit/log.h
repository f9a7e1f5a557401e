// A small leveled logger (Debian 12's Abseil has no absl/log). Messages go to stderr
// as "[LEVEL file:line] text". Debug messages belong to a component ("bdev",
// "reactor", "rpc", a module's name) and are printed only when that component's flag
// is on (`-L bdev`, or "all").
#ifndef BDEVKIT_LOG_H_
#define BDEVKIT_LOG_H_

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"

namespace bdevkit {

enum class LogLevel { kError = 0, kWarning = 1, kNotice = 2, kInfo = 3, kDebug = 4 };

// Messages above this level are dropped (default kNotice). Any thread.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Turns on debug output for a component ("all" = every one); also raises the level
// to kDebug. Any thread.
void EnableLogFlag(std::string_view component);
void DisableLogFlags();
bool LogFlagEnabled(std::string_view component);
// Turns off one component's debug output (the others stay). Any thread.
void DisableLogFlag(std::string_view component);
// The components whose flag is on, sorted. Any thread.
std::vector<std::string> EnabledLogFlags();

namespace log_internal {
extern std::atomic<int> g_level;
extern std::atomic<bool> g_any_flag;
// Formats and writes one line; takes a lock so lines never interleave. Not for the
// I/O path except on errors.
void Write(LogLevel level, const char* file, int line, std::string_view message);
}  // namespace log_internal

}  // namespace bdevkit

#define BDEVKIT_LOG(level, ...)                                                                \
  do {                                                                                         \
    if (static_cast<int>(level) <=                                                             \
        ::bdevkit::log_internal::g_level.load(std::memory_order_relaxed)) {                    \
      ::bdevkit::log_internal::Write(level, __FILE__, __LINE__, absl::StrFormat(__VA_ARGS__)); \
    }                                                                                          \
  } while (0)

#define LOG_ERROR(...) BDEVKIT_LOG(::bdevkit::LogLevel::kError, __VA_ARGS__)
#define LOG_WARNING(...) BDEVKIT_LOG(::bdevkit::LogLevel::kWarning, __VA_ARGS__)
#define LOG_NOTICE(...) BDEVKIT_LOG(::bdevkit::LogLevel::kNotice, __VA_ARGS__)
#define LOG_INFO(...) BDEVKIT_LOG(::bdevkit::LogLevel::kInfo, __VA_ARGS__)

// Debug output of one component; costs one relaxed load when no flag is on.
#define LOG_DEBUG(component, ...)                                                     \
  do {                                                                                \
    if (::bdevkit::log_internal::g_any_flag.load(std::memory_order_relaxed) &&        \
        ::bdevkit::LogFlagEnabled(component)) {                                       \
      ::bdevkit::log_internal::Write(::bdevkit::LogLevel::kDebug, __FILE__, __LINE__, \
                                     absl::StrFormat(__VA_ARGS__));                   \
    }                                                                                 \
  } while (0)

#endif  // BDEVKIT_LOG_H_

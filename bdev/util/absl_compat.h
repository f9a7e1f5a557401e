// Debian 12's Abseil was built with its own absl::string_view, a different type from
// std::string_view. Our APIs use std::string_view; these convert at the boundary when
// calling Abseil's string functions (StrSplit, SimpleAtoi, flat_hash lookups...).
#ifndef BDEVKIT_BDEV_UTIL_ABSL_COMPAT_H_
#define BDEVKIT_BDEV_UTIL_ABSL_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace bdevkit {

inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view AsStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_UTIL_ABSL_COMPAT_H_

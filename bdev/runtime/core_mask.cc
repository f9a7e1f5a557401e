// Core mask parsing in SPDK's forms: a hex mask ("0x3", "3") or a bracketed list
// ("[0,1]", "[0-3,6]"). A bare list with ',' or '-' ("0,1", "0-3") is also taken,
// as our --cores flag uses it.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bdev/util/absl_compat.h"
#include "bdevkit/runtime.h"

namespace bdevkit {
namespace {

absl::Status CoreError(std::string_view mask, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrFormat("invalid core mask '%s': %s", mask, why));
}

absl::StatusOr<std::vector<int>> ParseList(std::string_view mask, std::string_view list) {
  std::vector<int> cores;
  for (absl::string_view part : absl::StrSplit(AsAbsl(list), ',')) {
    part = absl::StripAsciiWhitespace(part);
    std::vector<absl::string_view> range = absl::StrSplit(part, absl::MaxSplits('-', 1));
    int lo = 0, hi = 0;
    if (!absl::SimpleAtoi(range[0], &lo) ||
        (range.size() == 2 && !absl::SimpleAtoi(range[1], &hi))) {
      return CoreError(mask, absl::StrFormat("'%s' is not a core number or range", part));
    }
    if (range.size() == 1) hi = lo;
    if (lo < 0 || hi < lo) return CoreError(mask, absl::StrFormat("bad range '%s'", part));
    if (hi >= CPU_SETSIZE) return CoreError(mask, absl::StrFormat("core %d is too large", hi));
    for (int c = lo; c <= hi; ++c) cores.push_back(c);
  }
  return cores;
}

absl::StatusOr<std::vector<int>> ParseHex(std::string_view mask, std::string_view hex) {
  if (hex.empty()) return CoreError(mask, "empty");
  std::vector<int> cores;
  int bit = 0;
  for (auto it = hex.rbegin(); it != hex.rend(); ++it, bit += 4) {
    const char c = absl::ascii_tolower(*it);
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return CoreError(mask, absl::StrFormat("'%c' is not a hex digit", *it));
    }
    for (int b = 0; b < 4; ++b) {
      if (v & (1 << b)) {
        if (bit + b >= CPU_SETSIZE) return CoreError(mask, "core number too large");
        cores.push_back(bit + b);
      }
    }
  }
  return cores;
}

}  // namespace

absl::StatusOr<std::vector<int>> ParseCoreMask(std::string_view mask) {
  absl::string_view text = absl::StripAsciiWhitespace(AsAbsl(mask));
  absl::StatusOr<std::vector<int>> cores;
  if (absl::ConsumePrefix(&text, "[")) {
    if (!absl::ConsumeSuffix(&text, "]")) return CoreError(mask, "missing ']'");
    cores = ParseList(mask, AsStd(text));
  } else if (text.find_first_of(",-") != absl::string_view::npos) {
    cores = ParseList(mask, AsStd(text));
  } else {
    absl::ConsumePrefix(&text, "0x") || absl::ConsumePrefix(&text, "0X");
    cores = ParseHex(mask, AsStd(text));
  }
  if (!cores.ok()) return cores;
  std::sort(cores->begin(), cores->end());
  cores->erase(std::unique(cores->begin(), cores->end()), cores->end());
  if (cores->empty()) return CoreError(mask, "selects no core");

  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return *cores;
  for (int c : *cores) {
    if (!CPU_ISSET(c, &allowed)) {
      std::vector<int> usable;
      for (int i = 0; i < CPU_SETSIZE; ++i) {
        if (CPU_ISSET(i, &allowed)) usable.push_back(i);
      }
      return CoreError(mask, absl::StrFormat("core %d is not available (usable cores: %s)", c,
                                             absl::StrJoin(usable, ",")));
    }
  }
  return cores;
}

std::string FormatCoreMask(const std::vector<int>& cores) {
  // Hex digits from the highest nibble down, like SPDK prints masks.
  int max_core = 0;
  for (int c : cores) max_core = std::max(max_core, c);
  std::string hex;
  for (int nibble = max_core / 4; nibble >= 0; --nibble) {
    int v = 0;
    for (int c : cores) {
      if (c / 4 == nibble) v |= 1 << (c % 4);
    }
    if (hex.empty() && v == 0 && nibble > 0) continue;
    hex.push_back("0123456789abcdef"[v]);
  }
  return "0x" + hex;
}

}  // namespace bdevkit

#include "rpc/json_scanner.h"

namespace bdevkit {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Bytes that end a bare number or literal (true/false/null) at the top level.
bool EndsScalar(char c) {
  return IsSpace(c) || c == '{' || c == '}' || c == '[' || c == ']' || c == '"' || c == ',' ||
         c == ':';
}

}  // namespace

JsonValueScanner::Result JsonValueScanner::Scan(std::string_view buf, size_t* pos) {
  size_t i = *pos;
  if (kind_ == Kind::kNone) {
    while (i < buf.size() && IsSpace(buf[i])) ++i;
    if (i == buf.size()) {
      *pos = i;
      return Result::kNeedMore;
    }
    const char c = buf[i];
    value_start_ = i;
    if (c == '{' || c == '[') {
      kind_ = Kind::kContainer;
      depth_ = 1;
    } else if (c == '"') {
      kind_ = Kind::kString;
      in_string_ = true;
    } else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
      kind_ = Kind::kScalar;
    } else {
      *pos = i;
      return Result::kError;
    }
    ++i;
  }
  for (; i < buf.size(); ++i) {
    const char c = buf[i];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (kind_ == Kind::kString) {
          *pos = i + 1;
          return Result::kComplete;
        }
      }
      continue;
    }
    if (kind_ == Kind::kScalar) {
      if (EndsScalar(c)) {
        *pos = i;  // the delimiter belongs to what follows
        return Result::kComplete;
      }
      continue;
    }
    // Inside a container. Mismatched pairs ("{]") still end the value here; the
    // parser then rejects the slice.
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (++depth_ > max_depth_) {
        *pos = i;
        return Result::kError;
      }
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        *pos = i + 1;
        return Result::kComplete;
      }
    }
  }
  *pos = i;
  return Result::kNeedMore;
}

}  // namespace bdevkit

// Finds where one top-level JSON value ends in a byte stream that arrives in pieces.
//
// JSON-RPC over a stream socket has no framing: values come back to back, and a read
// may end anywhere inside one. nlohmann's parser is not incremental, so this scanner
// only finds the boundary (counting braces and brackets outside strings, honouring
// escapes); the slice is then parsed whole. It never looks at a byte twice and keeps
// its state between calls, so a value split across many reads costs O(bytes).
#ifndef BDEVKIT_RPC_JSON_SCANNER_H_
#define BDEVKIT_RPC_JSON_SCANNER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bdevkit {

class JsonValueScanner {
 public:
  enum class Result {
    kNeedMore,  // every byte was consumed; the value has not ended yet
    kComplete,  // the value ends at *pos (exclusive); Reset() before the next one
    kError,     // not the start of a JSON value, or nested deeper than max_depth
  };

  explicit JsonValueScanner(uint32_t max_depth = 1024) : max_depth_(max_depth) {}

  // Scans buf[*pos..]. Whitespace before a value is skipped (and *pos advanced past
  // it), so after kComplete or before anything started, *pos is where bytes of the
  // next value begin. On kNeedMore *pos == buf.size(); on kError *pos is the bad byte.
  // The caller may drop buf[..*pos) between calls (only the offset must follow).
  Result Scan(std::string_view buf, size_t* pos);

  // Whether the first byte of a value was seen (the value is then incomplete).
  bool started() const { return kind_ != Kind::kNone; }
  // Where the current value started, as an offset into the `buf` of the call that
  // saw its first byte; valid when started().
  size_t value_start() const { return value_start_; }
  // Ready for the next value.
  void Reset() { *this = JsonValueScanner(max_depth_); }

 private:
  enum class Kind : uint8_t { kNone, kContainer, kString, kScalar };
  Kind kind_ = Kind::kNone;
  uint32_t max_depth_;
  uint32_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  size_t value_start_ = 0;
};

}  // namespace bdevkit

#endif  // BDEVKIT_RPC_JSON_SCANNER_H_

// UUIDs of bdevs: RFC 4122 version 4 generation and validation of user input.
#include <cstdint>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bdev/util/absl_compat.h"
#include "bdevkit/module.h"

namespace bdevkit {

std::string GenerateUuid() {
  // One generator per thread: absl::BitGen is not thread-safe and seeding is costly.
  thread_local absl::BitGen gen;
  uint8_t b[16];
  for (auto& byte : b) byte = absl::Uniform<uint8_t>(gen);
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

absl::StatusOr<std::string> ParseUuid(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("'", AsAbsl(text), "' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"));
  };
  if (text.size() != 36) return bad();
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !absl::ascii_isxdigit(static_cast<unsigned char>(text[i]))) {
      return bad();
    }
  }
  return absl::AsciiStrToLower(AsAbsl(text));
}

absl::StatusOr<std::string> UuidParamOrGenerate(std::string_view user_uuid) {
  if (user_uuid.empty()) return GenerateUuid();
  absl::StatusOr<std::string> uuid = ParseUuid(user_uuid);
  if (!uuid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("\"uuid\": ", uuid.status().message()));
  }
  return uuid;
}

}  // namespace bdevkit

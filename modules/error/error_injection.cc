// The error bdev's injection table and SPDK's names (error_injection.h).
#include "modules/error/error_injection.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace bdevkit::error {

namespace {
constexpr std::array<std::string_view, kNumErrorTypes> kErrorTypeNames = {
    "none", "failure", "pending", "corrupt_data", "nomem", "nvme_failure"};

uint32_t Bit(IoType t) { return 1u << static_cast<int>(t); }
}  // namespace

std::string_view ErrorTypeName(ErrorType type) { return kErrorTypeNames[static_cast<int>(type)]; }

absl::StatusOr<ErrorType> ParseErrorType(std::string_view name) {
  for (int i = 1; i < kNumErrorTypes; ++i) {
    if (kErrorTypeNames[i] == name) return static_cast<ErrorType>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "\"error_type\": expected \"failure\", \"pending\", \"corrupt_data\", \"nomem\" or "
      "\"nvme_failure\", got \"",
      std::string(name), "\""));
}

bool Injectable(IoType type) {
  switch (type) {
    case IoType::kRead:
    case IoType::kWrite:
    case IoType::kUnmap:
    case IoType::kFlush:
    case IoType::kWriteZeroes:
      return true;
    case IoType::kReset:
      return false;
  }
  return false;
}

absl::StatusOr<Injection> MakeInjection(std::string_view io_type, std::string_view error_type,
                                        uint64_t num, uint64_t queue_depth, uint64_t corrupt_offset,
                                        uint64_t corrupt_value, uint64_t nvme_sct,
                                        uint64_t nvme_sc) {
  Injection inj;
  if (io_type == "all") {
    for (int t = 0; t < kNumIoTypes; ++t) {
      if (Injectable(static_cast<IoType>(t))) inj.io_types |= Bit(static_cast<IoType>(t));
    }
  } else if (io_type == "clear") {
    inj.clear = true;
  } else {
    for (int t = 0; t < kNumIoTypes; ++t) {
      const IoType type = static_cast<IoType>(t);
      if (Injectable(type) && IoTypeName(type) == io_type) inj.io_types = Bit(type);
    }
    if (inj.io_types == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"io_type\": expected \"read\", \"write\", \"unmap\", \"flush\", \"write_zeroes\", "
          "\"all\" or \"clear\", got \"",
          std::string(io_type), "\""));
    }
  }
  absl::StatusOr<ErrorType> type = ParseErrorType(error_type);
  if (!type.ok()) return type.status();
  inj.type = *type;
  if (num > UINT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("\"num\": ", num, " is above 4294967295"));
  }
  inj.num = static_cast<uint32_t>(num);
  inj.queue_depth = queue_depth;
  if (corrupt_value > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"corrupt_value\": ", corrupt_value, " is not a byte (1-255)"));
  }
  if (inj.type == ErrorType::kCorruptData && corrupt_value == 0) {
    return absl::InvalidArgumentError(
        "\"corrupt_value\": corrupt_data needs a value of 1-255 (XOR with 0 changes nothing)");
  }
  inj.corrupt_offset = corrupt_offset;
  inj.corrupt_value = static_cast<uint8_t>(corrupt_value);
  if (nvme_sct > 255 || nvme_sc > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", nvme_sct > 255 ? "nvme_sct" : "nvme_sc", "\": not a byte"));
  }
  const bool has_nvme = nvme_sct != 0 || nvme_sc != 0;
  if (inj.type == ErrorType::kNvmeFailure && !has_nvme) {
    return absl::InvalidArgumentError(
        "\"nvme_sct\"/\"nvme_sc\": nvme_failure needs an NVMe status (either non-zero)");
  }
  if (inj.type != ErrorType::kNvmeFailure && has_nvme && !inj.clear) {
    return absl::InvalidArgumentError(
        "\"nvme_sct\"/\"nvme_sc\": only for error_type \"nvme_failure\"");
  }
  inj.nvme_sct = static_cast<uint8_t>(nvme_sct);
  inj.nvme_sc = static_cast<uint8_t>(nvme_sc);
  return inj;
}

void InjectionTable::Apply(const Injection& inj) {
  for (int t = 0; t < kNumIoTypes; ++t) {
    Slot& s = slots_[t];
    if (inj.clear) {
      s.num.store(0, std::memory_order_relaxed);
      continue;
    }
    if ((inj.io_types & (1u << t)) == 0) continue;
    // Disarm first so no I/O sees a half-written slot with the old count.
    s.num.store(0, std::memory_order_relaxed);
    s.type.store(static_cast<uint8_t>(inj.type), std::memory_order_relaxed);
    s.queue_depth.store(inj.queue_depth, std::memory_order_relaxed);
    s.corrupt_offset.store(inj.corrupt_offset, std::memory_order_relaxed);
    s.corrupt_value.store(inj.corrupt_value, std::memory_order_relaxed);
    s.nvme_sct.store(inj.nvme_sct, std::memory_order_relaxed);
    s.nvme_sc.store(inj.nvme_sc, std::memory_order_relaxed);
    // Publishes the fields above to the thread whose Take() claims a count.
    s.num.store(inj.num, std::memory_order_release);
  }
}

void InjectionTable::DisarmPending() {
  for (Slot& s : slots_) {
    if (s.type.load(std::memory_order_relaxed) == static_cast<uint8_t>(ErrorType::kPending)) {
      s.num.store(0, std::memory_order_relaxed);
    }
  }
}

Decision InjectionTable::Take(IoType type, uint64_t inflight) {
  Decision d;
  Slot& s = slots_[static_cast<int>(type)];
  uint32_t n = s.num.load(std::memory_order_acquire);
  if (n == 0 || !Injectable(type)) return d;
  if (inflight < s.queue_depth.load(std::memory_order_relaxed)) return d;
  // Claim one of the count; another thread may take the last one first.
  while (!s.num.compare_exchange_weak(n, n - 1, std::memory_order_acquire,
                                      std::memory_order_acquire)) {
    if (n == 0) return d;
  }
  d.type = static_cast<ErrorType>(s.type.load(std::memory_order_relaxed));
  d.corrupt_offset = s.corrupt_offset.load(std::memory_order_relaxed);
  d.corrupt_value = s.corrupt_value.load(std::memory_order_relaxed);
  d.nvme_sct = s.nvme_sct.load(std::memory_order_relaxed);
  d.nvme_sc = s.nvme_sc.load(std::memory_order_relaxed);
  injected_[static_cast<int>(d.type)].fetch_add(1, std::memory_order_relaxed);
  return d;
}

void InjectionTable::DumpJson(nlohmann::json& out) const {
  nlohmann::json armed = nlohmann::json::object();
  for (int t = 0; t < kNumIoTypes; ++t) {
    const Slot& s = slots_[t];
    const uint32_t n = s.num.load(std::memory_order_acquire);
    if (n == 0) continue;
    const auto type = static_cast<ErrorType>(s.type.load(std::memory_order_relaxed));
    nlohmann::json slot = {{"error_type", ErrorTypeName(type)},
                           {"num", n},
                           {"queue_depth", s.queue_depth.load(std::memory_order_relaxed)}};
    if (type == ErrorType::kCorruptData) {
      slot["corrupt_offset"] = s.corrupt_offset.load(std::memory_order_relaxed);
      slot["corrupt_value"] = s.corrupt_value.load(std::memory_order_relaxed);
    }
    if (type == ErrorType::kNvmeFailure) {
      slot["nvme_sct"] = s.nvme_sct.load(std::memory_order_relaxed);
      slot["nvme_sc"] = s.nvme_sc.load(std::memory_order_relaxed);
    }
    armed[std::string(IoTypeName(static_cast<IoType>(t)))] = std::move(slot);
  }
  nlohmann::json injected = nlohmann::json::object();
  for (int e = 1; e < kNumErrorTypes; ++e) {
    injected[std::string(kErrorTypeNames[e])] = injected_[e].load(std::memory_order_relaxed);
  }
  out["armed"] = std::move(armed);
  out["injected"] = std::move(injected);
}

void CorruptData(const iovec* iovs, int iovcnt, uint64_t offset, uint8_t value) {
  for (int i = 0; i < iovcnt; ++i) {
    if (offset < iovs[i].iov_len) {
      static_cast<uint8_t*>(iovs[i].iov_base)[offset] ^= value;
      return;
    }
    offset -= iovs[i].iov_len;
  }
}

}  // namespace bdevkit::error

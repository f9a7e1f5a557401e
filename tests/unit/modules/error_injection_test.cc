// The error bdev's pure parts: parameter checks, the injection table's counting and
// queue-depth rule, and the data corruption.
#include "modules/error/error_injection.h"

#include <sys/uio.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace bdevkit::error {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Injection> Make(std::string_view io_type, std::string_view error_type,
                               uint64_t num = 1, uint64_t qd = 0, uint64_t off = 0,
                               uint64_t value = 0, uint64_t sct = 0, uint64_t sc = 0) {
  return MakeInjection(io_type, error_type, num, qd, off, value, sct, sc);
}

TEST(ErrorInjection, NamesAreSpdks) {
  for (const char* name : {"failure", "pending", "corrupt_data", "nomem", "nvme_failure"}) {
    absl::StatusOr<ErrorType> t = ParseErrorType(name);
    ASSERT_TRUE(t.ok()) << name;
    EXPECT_EQ(ErrorTypeName(*t), name);
  }
  EXPECT_THAT(std::string(ParseErrorType("none").status().message()), HasSubstr("\"error_type\""));
  EXPECT_TRUE(Make("read", "failure").ok());
  EXPECT_TRUE(Make("write_zeroes", "failure").ok());
  absl::StatusOr<Injection> all = Make("all", "failure");
  ASSERT_TRUE(all.ok());
  for (IoType t : {IoType::kRead, IoType::kWrite, IoType::kUnmap, IoType::kFlush}) {
    EXPECT_TRUE(all->io_types & (1u << static_cast<int>(t)));
  }
  EXPECT_FALSE(all->io_types & (1u << static_cast<int>(IoType::kReset)));
  EXPECT_TRUE(Make("clear", "failure")->clear);
}

TEST(ErrorInjection, BadValuesNameTheParameter) {
  auto msg = [](const absl::StatusOr<Injection>& r) { return std::string(r.status().message()); };
  EXPECT_THAT(msg(Make("reset", "failure")), HasSubstr("\"io_type\""));
  EXPECT_THAT(msg(Make("READ", "failure")), HasSubstr("\"io_type\""));
  EXPECT_THAT(msg(Make("read", "explode")), HasSubstr("\"error_type\""));
  EXPECT_THAT(msg(Make("read", "corrupt_data", 1, 0, 0, 0)), HasSubstr("\"corrupt_value\""));
  EXPECT_THAT(msg(Make("read", "corrupt_data", 1, 0, 0, 256)), HasSubstr("\"corrupt_value\""));
  EXPECT_THAT(msg(Make("read", "failure", uint64_t{1} << 32)), HasSubstr("\"num\""));
  EXPECT_THAT(msg(Make("read", "nvme_failure")), HasSubstr("nvme_sct"));
  EXPECT_THAT(msg(Make("read", "failure", 1, 0, 0, 0, 0, 2)), HasSubstr("nvme_failure"));
  EXPECT_EQ(Make("read", "failure", 1, 0, 0, 0, 0, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Make("read", "nvme_failure", 1, 0, 0, 0, 0, 2).ok());
}

TEST(ErrorInjection, TakesExactlyNumThenNothing) {
  InjectionTable table;
  EXPECT_EQ(table.Take(IoType::kRead, 0).type, ErrorType::kNone);
  table.Apply(*Make("read", "failure", 3));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(table.Take(IoType::kRead, 0).type, ErrorType::kFailure);
  EXPECT_EQ(table.Take(IoType::kRead, 0).type, ErrorType::kNone);
  EXPECT_EQ(table.Take(IoType::kWrite, 0).type, ErrorType::kNone);  // other types untouched
  EXPECT_EQ(table.injected(ErrorType::kFailure), 3u);
  // num 0 disables; clear zeroes every count.
  table.Apply(*Make("all", "pending", 5));
  EXPECT_EQ(table.Take(IoType::kFlush, 0).type, ErrorType::kPending);
  table.Apply(*Make("flush", "pending", 0));
  EXPECT_EQ(table.Take(IoType::kFlush, 0).type, ErrorType::kNone);
  EXPECT_EQ(table.Take(IoType::kUnmap, 0).type, ErrorType::kPending);
  table.Apply(*Make("clear", "failure"));
  EXPECT_EQ(table.Take(IoType::kUnmap, 0).type, ErrorType::kNone);
  EXPECT_EQ(table.Take(IoType::kReset, 0).type, ErrorType::kNone);
}

TEST(ErrorInjection, QueueDepthAndPendingDisarm) {
  InjectionTable table;
  table.Apply(*Make("write", "nvme_failure", 2, /*qd=*/4, 0, 0, 1, 0x81));
  EXPECT_EQ(table.Take(IoType::kWrite, 3).type, ErrorType::kNone);  // below the depth: kept
  Decision d = table.Take(IoType::kWrite, 4);
  EXPECT_EQ(d.type, ErrorType::kNvmeFailure);
  EXPECT_EQ(d.nvme_sct, 1);
  EXPECT_EQ(d.nvme_sc, 0x81);
  nlohmann::json j;
  table.DumpJson(j);
  EXPECT_EQ(j["armed"]["write"]["num"], 1);
  EXPECT_EQ(j["armed"]["write"]["queue_depth"], 4);
  EXPECT_EQ(j["injected"]["nvme_failure"], 1);
  table.Apply(*Make("read", "pending", 9));
  table.DisarmPending();
  EXPECT_EQ(table.Take(IoType::kRead, 0).type, ErrorType::kNone);
  EXPECT_EQ(table.Take(IoType::kWrite, 9).type, ErrorType::kNvmeFailure);  // not pending
}

TEST(ErrorInjection, ThreadsNeverTakeMoreThanNum) {
  InjectionTable table;
  table.Apply(*Make("read", "failure", 1000));
  std::atomic<int> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        if (table.Take(IoType::kRead, 0).type == ErrorType::kFailure) hits.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(hits.load(), 1000);
}

TEST(ErrorInjection, CorruptDataFindsTheByteAcrossIovecs) {
  std::vector<uint8_t> a(8, 0), b(8, 0);
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  CorruptData(iov, 2, 3, 0x0f);
  EXPECT_EQ(a[3], 0x0f);
  CorruptData(iov, 2, 10, 0xf0);
  EXPECT_EQ(b[2], 0xf0);
  CorruptData(iov, 2, 16, 0xff);  // past the end: nothing
  EXPECT_EQ(std::count(a.begin(), a.end(), 0) + std::count(b.begin(), b.end(), 0), 14);
}

}  // namespace
}  // namespace bdevkit::error

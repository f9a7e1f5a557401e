#include "tools/bdevperf/options.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bdevkit::perf {
namespace {

absl::StatusOr<Options> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "bdevperf");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return ParseOptions(static_cast<int>(args.size()), argv.data());
}

TEST(ParseSize, Suffixes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("4k"), 4096u);
  EXPECT_EQ(*ParseSize("4K"), 4096u);
  EXPECT_EQ(*ParseSize("1m"), 1u << 20);
  EXPECT_EQ(*ParseSize("2G"), 2ull << 30);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("k").ok());
  EXPECT_FALSE(ParseSize("-4k").ok());
  EXPECT_FALSE(ParseSize("4x").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999g").ok());
}

TEST(ParseOptions, SpdkCommandLine) {
  auto o = Parse(
      {"-q", "128", "-o", "4k", "-w", "randread", "-t", "10", "--json", "c.json", "--seed", "42"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->queue_depth, 128u);
  EXPECT_EQ(o->io_size, 4096u);
  EXPECT_EQ(o->workload, Workload::kRandRead);
  EXPECT_EQ(o->time_seconds, 10u);
  EXPECT_EQ(o->config_file, "c.json");
  EXPECT_EQ(o->seed, 42u);
  EXPECT_EQ(o->cores, std::vector<int>{0});
}

TEST(ParseOptions, ShortConfigFlagAndAttachedValues) {
  auto o = Parse({"-q8", "-o512", "-wverify", "-t1", "-cx.json"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->queue_depth, 8u);
  EXPECT_EQ(o->workload, Workload::kVerify);
  EXPECT_EQ(o->config_file, "x.json");
}

TEST(ParseOptions, ErrorsNameTheFlag) {
  const std::vector<std::string> base = {"-o", "4k", "-w", "read", "-t", "1", "-c", "c.json"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return Parse(args).status();
  };
  EXPECT_NE(std::string(with({"-q", "0"}).message()).find("queue depth (-q) '0'"),
            std::string::npos);
  EXPECT_NE(std::string(with({"-q", "1", "-w", "nope"}).message()).find("workload (-w) 'nope'"),
            std::string::npos);
  EXPECT_NE(std::string(with({"-q", "1", "-o", "0"}).message()).find("I/O size (-o) '0'"),
            std::string::npos);
  EXPECT_NE(std::string(with({"-q", "1", "-m", "zz"}).message()).find("-m"), std::string::npos);
  EXPECT_NE(std::string(with({"-q", "1", "--bogus"}).message()).find("unknown option --bogus"),
            std::string::npos);
  EXPECT_NE(std::string(with({"-q", "1", "extra"}).message()).find("unexpected argument"),
            std::string::npos);
  EXPECT_NE(std::string(with({}).message()).find("missing queue depth"), std::string::npos);
  EXPECT_NE(std::string(Parse({"-q", "1", "-o", "4k", "-w", "read", "-t", "1"}).status().message())
                .find("missing config file"),
            std::string::npos);
  EXPECT_NE(std::string(Parse({"-q"}).status().message()).find("option -q needs a value"),
            std::string::npos);
}

TEST(ParseOptions, Help) {
  auto o = Parse({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_NE(Usage("bdevperf").find("-w WORKLOAD"), std::string::npos);
}

}  // namespace
}  // namespace bdevkit::perf

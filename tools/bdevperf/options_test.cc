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
  EXPECT_EQ(o->test.queue_depth, 128u);
  EXPECT_EQ(o->test.io_size, 4096u);
  EXPECT_EQ(o->test.workload, Workload::kRandRead);
  EXPECT_EQ(o->test.time_seconds, 10u);
  EXPECT_EQ(o->config_file, "c.json");
  EXPECT_EQ(o->seed, 42u);
  EXPECT_EQ(o->cores, std::vector<int>{0});
}

TEST(ParseOptions, ShortConfigFlagAndAttachedValues) {
  auto o = Parse({"-q8", "-o512", "-wverify", "-t1", "-cx.json"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->test.queue_depth, 8u);
  EXPECT_EQ(o->test.workload, Workload::kVerify);
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

std::string Error(std::vector<std::string> args) {
  return std::string(Parse(std::move(args)).status().message());
}

TEST(ParseSize, IoSizeLimits) {
  EXPECT_EQ(*ParseIoSize("4k"), 4096u);
  EXPECT_EQ(*ParseIoSize("1g"), 1u << 30);
  EXPECT_NE(std::string(ParseIoSize("0").status().message()).find("greater than 0"),
            std::string::npos);
  EXPECT_NE(std::string(ParseIoSize("2g").status().message()).find("at most 1g"),
            std::string::npos);
  EXPECT_NE(std::string(ParseIoSize("1.5k").status().message()).find("not a size"),
            std::string::npos);
}

TEST(ParseOptions, AllSpdkFlags) {
  auto o = Parse(
      {"-q",     "4",  "-o",     "8k",  "-w", "randrw",  "-M",          "70",  "-t",
       "3",      "-c", "c.json", "-C",  "-T", "Malloc0", "-S",          "2",   "-k",
       "5",      "-f", "-F",     "1.2", "-z", "-r",      "/tmp/s.sock", "-ll", "--output-json",
       "o.json", "-m", "[0]"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->test.rw_percentage, 70);
  EXPECT_TRUE(o->every_core);
  EXPECT_EQ(o->only_bdev, "Malloc0");
  EXPECT_EQ(o->stats_period_seconds, 2u);
  EXPECT_EQ(o->timeout_seconds, 5u);
  EXPECT_TRUE(o->continue_on_failure);
  EXPECT_DOUBLE_EQ(o->zipf_theta, 1.2);
  EXPECT_TRUE(o->wait_for_rpc);
  EXPECT_EQ(o->rpc_socket, "/tmp/s.sock");
  EXPECT_EQ(o->latency_level, 2);
  EXPECT_EQ(o->output_json, "o.json");
  auto d = Parse({"-q", "4", "-o", "4k", "-w", "randwrite", "-t", "1", "-c", "c", "-D", "-l"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->random_map);
  EXPECT_EQ(d->latency_level, 1);
  auto cmp = Parse({"-q", "4", "-o", "4k", "-w", "read", "-t", "1", "-c", "c", "--compare",
                    "Null0,Malloc0", "--svg", "x.svg"});
  ASSERT_TRUE(cmp.ok()) << cmp.status();
  EXPECT_EQ(cmp->compare, (std::vector<std::string>{"Null0", "Malloc0"}));
  EXPECT_EQ(cmp->svg_file, "x.svg");
}

TEST(ParseOptions, WaitForRpcNeedsNothingElse) {
  auto o = Parse({"-z", "-r", "/tmp/x.sock"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->test.workload.has_value());
  EXPECT_TRUE(CheckTestParams(o->test, *o).message().find("missing queue depth") !=
              std::string_view::npos);
}

TEST(ParseOptions, BadCombinations) {
  const std::vector<std::string> base = {"-q", "4", "-o", "4k", "-t", "1", "-c", "c.json"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return Error(args);
  };
  EXPECT_EQ(with({"-w", "read", "-M", "50"}),
            "-M (read percentage) only applies to rw and randrw, not to read");
  EXPECT_EQ(with({"-w", "rw"}), "workload rw needs the read percentage (-M 0..100)");
  EXPECT_NE(with({"-w", "rw", "-M", "101"}).find("invalid read percentage (-M) '101'"),
            std::string::npos);
  EXPECT_NE(with({"-w", "read", "-F", "1"}).find("-F (zipf) needs a random workload"),
            std::string::npos);
  EXPECT_NE(with({"-w", "randread", "-F", "0"}).find("invalid zipf theta (-F) '0'"),
            std::string::npos);
  EXPECT_NE(with({"-w", "randread", "-F", "x"}).find("not a number"), std::string::npos);
  EXPECT_NE(with({"-w", "write", "-D"}).find("-D (random map) needs a random workload"),
            std::string::npos);
  EXPECT_NE(with({"-w", "randread", "-D", "-F", "1"}).find("use one"), std::string::npos);
  EXPECT_NE(with({"-w", "read", "-z", "--compare", "A"}).find("--compare and -z"),
            std::string::npos);
  EXPECT_NE(with({"-w", "read", "--compare", "A,,B"}).find("a bdev name is empty"),
            std::string::npos);
  EXPECT_NE(with({"-w", "read", "--compare", "A", "-T", "B"}).find("drop -T"), std::string::npos);
  EXPECT_NE(with({"-w", "read", "-q", "65537"}).find("must be at most 65536"), std::string::npos);
  // Depth x size beyond the buffer budget.
  EXPECT_NE(with({"-w", "verify", "-q", "4096", "-o", "1m"})
                .find("queue depth 4096 x I/O size 1048576 x 2 (verify) needs 8192 MiB"),
            std::string::npos)
      << with({"-w", "verify", "-q", "4096", "-o", "1m"});
  EXPECT_NE(with({"-w", "read", "-S", "0"}).find("invalid stats period (-S) '0'"),
            std::string::npos);
  EXPECT_NE(with({"-w", "read", "-T", ""}).find("empty name"), std::string::npos);
}

// --idle-spins sets how long an --interrupt-mode reactor polls before it sleeps.
TEST(ParseOptions, IdleSpins) {
  const std::vector<std::string> base = {"-q", "1",  "-o",     "4k", "-t",
                                         "1",  "-c", "c.json", "-w", "randread"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return Parse(args);
  };
  auto o = with({"--interrupt-mode", "--idle-spins", "1"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->interrupt_mode);
  EXPECT_EQ(o->idle_spins, 1);
  o = with({"--interrupt-mode"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->idle_spins, 0);  // the runtime's default
  auto err = [&](std::vector<std::string> extra) {
    return std::string(with(std::move(extra)).status().message());
  };
  EXPECT_NE(err({"--idle-spins", "1"}).find("--idle-spins applies to --interrupt-mode only"),
            std::string::npos);
  EXPECT_NE(
      err({"--interrupt-mode", "--idle-spins", "0"}).find("invalid idle spins (--idle-spins) '0'"),
      std::string::npos);
  EXPECT_NE(
      err({"--interrupt-mode", "--idle-spins", "x"}).find("invalid idle spins (--idle-spins) 'x'"),
      std::string::npos);
}

TEST(ParseOptions, EveryWorkloadParses) {
  for (const char* w : {"read", "write", "randread", "randwrite", "verify", "reset", "unmap",
                        "flush", "write_zeroes"}) {
    auto o = Parse({"-q", "1", "-o", "4k", "-w", w, "-t", "1", "-c", "c"});
    ASSERT_TRUE(o.ok()) << w << ": " << o.status();
    EXPECT_EQ(WorkloadName(*o->test.workload), w);
  }
  for (const char* w : {"rw", "randrw"}) {
    auto o = Parse({"-q", "1", "-o", "4k", "-w", w, "-M", "0", "-t", "1", "-c", "c"});
    ASSERT_TRUE(o.ok()) << w << ": " << o.status();
  }
}

TEST(ParseOptions, Help) {
  auto o = Parse({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_NE(Usage("bdevperf").find("-w WORKLOAD"), std::string::npos);
}

}  // namespace
}  // namespace bdevkit::perf

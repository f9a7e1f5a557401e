// bdevctl's argument parser: rpc.py's positional forms, --param values typed by the
// method description, boolean flags, errors naming the argument.
#include "tools/bdevctl/args.h"

#include <string>
#include <vector>

#include "bdevkit/bdev.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bdevkit::ctl {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

json Build(const std::string& method, std::vector<std::string> args) {
  RegisterBuiltinModules();
  auto r = BuildParams(method, FindRpcMethod(method), args);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : json("error");
}

std::string Error(const std::string& method, std::vector<std::string> args) {
  RegisterBuiltinModules();
  auto r = BuildParams(method, FindRpcMethod(method), args);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(BdevctlArgsTest, SpdkPositionalForms) {
  EXPECT_EQ(Build("bdev_malloc_create", {"-b", "Malloc0", "64", "4096"}),
            json({{"name", "Malloc0"}, {"num_blocks", 16384}, {"block_size", 4096}}));
  EXPECT_EQ(Build("bdev_malloc_create", {"8", "512"}),
            json({{"num_blocks", 16384}, {"block_size", 512}}));
  EXPECT_EQ(Build("bdev_null_create", {"Null0", "1", "512", "-u", "abc"}),
            json({{"name", "Null0"}, {"num_blocks", 2048}, {"block_size", 512}, {"uuid", "abc"}}));
  EXPECT_EQ(Build("bdev_malloc_delete", {"Malloc0"}), json({{"name", "Malloc0"}}));
  EXPECT_EQ(Build("bdev_set_qos_limit", {"Malloc0", "--rw_ios_per_sec", "1500"}),
            json({{"name", "Malloc0"}, {"rw_ios_per_sec", 1500}}));
  EXPECT_EQ(Build("bdev_get_bdevs", {"-b", "M", "-t", "100"}),
            json({{"name", "M"}, {"timeout", 100}}));
  EXPECT_EQ(
      Build("bdev_nvme_attach_controller", {"-b", "Nvme0", "-t", "pcie", "-a", "0000:00:03.0"}),
      json({{"name", "Nvme0"}, {"trtype", "pcie"}, {"traddr", "0000:00:03.0"}}));
  EXPECT_EQ(Build("bdev_nvme_detach_controller", {"Nvme0"}), json({{"name", "Nvme0"}}));
  EXPECT_EQ(Build("bdev_nvme_reset_controller", {"-b", "Nvme0"}), json({{"name", "Nvme0"}}));
  EXPECT_EQ(Build("bdev_nvme_get_controllers", {"-n", "Nvme0"}), json({{"name", "Nvme0"}}));
  EXPECT_EQ(Build("spdk_kill_instance", {"SIGTERM"}), json({{"sig_name", "SIGTERM"}}));
  EXPECT_EQ(Build("spdk_get_version", {}), json());
}

TEST(BdevctlArgsTest, NamedParamsAreTypedByTheDescription) {
  EXPECT_EQ(
      Build("bdev_malloc_create",
            {"--name", "007", "--num-blocks", "8", "--block_size=512", "--md_interleave"}),
      json({{"name", "007"}, {"num_blocks", 8}, {"block_size", 512}, {"md_interleave", true}}));
  EXPECT_EQ(Build("bdev_get_iostat", {"-b", "M", "-c", "--reset_mode", "all"}),
            json({{"name", "M"}, {"per_channel", true}, {"reset_mode", "all"}}));
  EXPECT_EQ(Build("bdev_get_iostat", {"--per_channel", "false"}), json({{"per_channel", false}}));
  EXPECT_EQ(Build("bdev_get_iostat", {"--names", "[\"a\",\"b\"]"}), json({{"names", {"a", "b"}}}));
  // Unknown to this bdevctl: JSON if it parses, else a string.
  EXPECT_EQ(Build("bdev_future_method", {"--n", "5", "--s", "text", "--o", "{\"k\":1}"}),
            json({{"n", 5}, {"s", "text"}, {"o", {{"k", 1}}}}));
}

TEST(BdevctlArgsTest, ErrorsNameTheArgument) {
  EXPECT_THAT(Error("bdev_malloc_create", {"--colour", "red"}), HasSubstr("colour"));
  EXPECT_THAT(Error("bdev_malloc_create", {"-b", "M", "8", "abc"}),
              HasSubstr("block_size: expected an unsigned integer, got 'abc'"));
  EXPECT_THAT(Error("bdev_malloc_create", {"-b", "M", "0", "512"}), HasSubstr("SIZE_MB"));
  EXPECT_THAT(Error("bdev_malloc_create", {"8"}), HasSubstr("block size"));
  EXPECT_THAT(Error("bdev_malloc_delete", {"a", "b"}), HasSubstr("unexpected argument"));
  EXPECT_THAT(Error("bdev_get_bdevs", {"-x"}), HasSubstr("unknown option"));
  EXPECT_THAT(Error("bdev_get_bdevs", {"--name"}), HasSubstr("needs a value"));
}

}  // namespace
}  // namespace bdevkit::ctl

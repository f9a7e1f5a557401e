// bdev_wait_for_examine (a core RPC method) waits for a module's late ExamineDone.
#include "bdevkit/rpc.h"
#include "gtest/gtest.h"
#include "tests/unit/modules/slow_examine_module.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit {
namespace {

using json = nlohmann::json;
using testing::CallRpc;

TEST(WaitForExamineTest, ConfigWaitsForLateExamine) {
  int before = testing::g_slow_examines_done.load();
  // One config: create, then wait. The create returns before examine finishes.
  json config = {
      {"subsystems",
       {{{"subsystem", "bdev"},
         {"config",
          {{{"method", "bdev_malloc_create"},
            {"params", {{"name", "SlowExamine0"}, {"block_size", 512}, {"num_blocks", 8}}}},
           {{"method", "bdev_wait_for_examine"}}}}}}}};
  absl::Status s = testing::OnApp<absl::Status>(
      [&](std::function<void(absl::Status)> done) { LoadJsonConfig(config, done); });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(testing::g_slow_examines_done.load(), before + 1);
  EXPECT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "SlowExamine0"}}).ok());
}

TEST(WaitForExamineTest, ReturnsTrueAtOnceWhenNothingIsPending) {
  RpcResult r = CallRpc("bdev_wait_for_examine", nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json(true));
}

}  // namespace
}  // namespace bdevkit

// The rbd module's parts that need no cluster: config_param parsing, how settings
// become librados options (defaults, file, config_param, key_file) and their errors,
// a connect that times out, librbd results as I/O status, and the completion hand-off
// from a foreign thread to a runtime thread.
#include "modules/rbd/rados_connection.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "modules/rbd/rbd_completion.h"
#include "nlohmann/json.hpp"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::rbd {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

int Code(const absl::Status& s) { return StatusToJsonRpcError(s).code; }

TEST(ParseConfPairs, StringsInKeyOrder) {
  absl::StatusOr<ConfPairs> p =
      ParseConfPairs(json{{"mon_host", "127.0.0.1"}, {"a_first", "1"}}, "config_param");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0], (std::pair<std::string, std::string>("a_first", "1")));
  EXPECT_EQ((*p)[1], (std::pair<std::string, std::string>("mon_host", "127.0.0.1")));
  EXPECT_EQ(ConfPairsToJson(*p), (json{{"mon_host", "127.0.0.1"}, {"a_first", "1"}}));
  EXPECT_TRUE(ParseConfPairs(json(nullptr), "config")->empty());
}

TEST(ParseConfPairs, ErrorsNameParamAndKey) {
  absl::StatusOr<ConfPairs> p = ParseConfPairs(json{{"rados_osd_op_timeout", 5}}, "config");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("\"config\""));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("rados_osd_op_timeout"));
  p = ParseConfPairs(json::array({"x"}), "config_param");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("\"config_param\": must be an object"));
  p = ParseConfPairs(json{{"", "x"}}, "config_param");
  EXPECT_FALSE(p.ok());
}

// A scratch file removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/bdevkit-rbd-conf-XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    close(fd);
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Option(const RadosConnection& c, const std::string& name) {
  absl::StatusOr<std::string> v = c.GetOption(name);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.value_or("?");
}

TEST(RadosConnection, DefaultTimeoutsUnlessFileOrParamsSetThem) {
  TempFile conf("[global]\nmon host = v2:127.0.0.1:1\nrados osd op timeout = 7\n");
  RadosSettings s;
  s.config_file = conf.path();
  s.config_param = {{"rados_mon_op_timeout", "4"}};
  absl::StatusOr<std::unique_ptr<RadosConnection>> c = RadosConnection::Configure(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Option(**c, "client_mount_timeout"), "10");  // ours: nobody set it
  EXPECT_EQ(Option(**c, "rados_osd_op_timeout"), "7");   // the file's
  EXPECT_EQ(Option(**c, "rados_mon_op_timeout"), "4");   // config_param's
  EXPECT_EQ(Option(**c, "mon_host"), "v2:127.0.0.1:1");
  EXPECT_EQ((*c)->entity(), "client.admin");
}

TEST(RadosConnection, ParamsWithoutFileUserAndKeyFile) {
  TempFile key("[client.bob]\n\tkey = AQAjpgFrY7GiBxAAOeO+QQ/RTdDeBgUNFhOF1w==\n");
  RadosSettings s;
  s.user_id = "bob";
  s.config_param = {{"mon_host", "127.0.0.1:1"}, {"rados_osd_op_timeout", "3"}};
  s.key_file = key.path();
  absl::StatusOr<std::unique_ptr<RadosConnection>> c = RadosConnection::Configure(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->entity(), "client.bob");
  EXPECT_EQ(Option(**c, "keyring"), key.path());
  EXPECT_EQ(Option(**c, "rados_osd_op_timeout"), "3");
  EXPECT_EQ(Option(**c, "rados_mon_op_timeout"), "10");
}

TEST(RadosConnection, ErrorsNameTheParameter) {
  RadosSettings s;
  s.config_file = "/nonexistent/ceph.conf";
  absl::StatusOr<std::unique_ptr<RadosConnection>> c = RadosConnection::Configure(s);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(Code(c.status()), -ENOENT);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("\"config_file\": /nonexistent/ceph.conf: No such file"));

  s = {};
  s.config_param = {{"mon_host", "127.0.0.1:1"}, {"no_such_ceph_option", "1"}};
  c = RadosConnection::Configure(s);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("\"config_param\": unknown Ceph option \"no_such_ceph_option\""));

  s = {};
  s.config_param = {{"rados_osd_op_timeout", "soon"}};
  c = RadosConnection::Configure(s);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("\"config_param\": option \"rados_osd_op_timeout\": invalid value"));

  s = {};
  s.config_param = {{"mon_host", "127.0.0.1:1"}};
  s.key_file = "/nonexistent/keyring";
  c = RadosConnection::Configure(s);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(Code(c.status()), -ENOENT);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("\"key_file\": /nonexistent/keyring"));
}

// Nothing listens on the monitor's port: the connect gives up after
// client_mount_timeout with -ETIMEDOUT (-110) instead of hanging.
TEST(RadosConnection, UnreachableMonitorTimesOut) {
  RadosSettings s;
  s.config_param = {{"mon_host", "v2:127.0.0.1:1"}, {"client_mount_timeout", "1"}};
  absl::StatusOr<std::unique_ptr<RadosConnection>> c = RadosConnection::Configure(s);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::Status st = (*c)->Connect("\"t\"");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(Code(st), -ETIMEDOUT);
  EXPECT_THAT(std::string(st.message()), HasSubstr("cannot connect to the Ceph cluster \"t\""));
  EXPECT_THAT(std::string(st.message()), HasSubstr("v2:127.0.0.1:1"));
}

TEST(RbdResultToStatus, ReadsMustBeWhole) {
  EXPECT_TRUE(RbdResultToStatus(IoType::kRead, 4096, 4096).ok());
  EXPECT_EQ(RbdResultToStatus(IoType::kRead, 512, 4096).error, -EIO);
  EXPECT_EQ(RbdResultToStatus(IoType::kRead, -ETIMEDOUT, 4096).error, -ETIMEDOUT);
  EXPECT_TRUE(RbdResultToStatus(IoType::kWrite, 0, 4096).ok());
  EXPECT_EQ(RbdResultToStatus(IoType::kWrite, -EROFS, 4096).error, -EROFS);
  EXPECT_TRUE(RbdResultToStatus(IoType::kFlush, 0, 0).ok());
  EXPECT_TRUE(RbdResultToStatus(IoType::kReset, 0, 0).ok());
  EXPECT_EQ(RbdResultToStatus(IoType::kUnmap, -EIO, 4096).error, -EIO);
}

// What librbd's callback does: from a thread outside the runtime, hand a completion to
// the submitting thread. Here 3x the ring's capacity is sent while that thread is
// held, so the ring fills and the sender must wait and retry; every message still
// runs, once, on the target thread.
struct HandOff {
  std::atomic<int> ran{0};
  std::atomic<int> wrong_thread{0};
  Thread* target = nullptr;
};

void CountOnTarget(void* arg) {
  auto* h = static_cast<HandOff*>(arg);
  if (Thread::Current() != h->target) h->wrong_thread++;
  h->ran++;
}

TEST(SendFromForeignThread, RunsOnTargetEvenWhenRingIsFull) {
  HandOff h;
  h.target = Runtime::AppThread();
  constexpr int kMessages = 3 * 4096;  // test_env.h: message_ring_size 4096
  std::atomic<bool> release{false};
  std::atomic<bool> held{false};
  // Hold the app thread so the ring cannot drain.
  ASSERT_EQ(h.target->Send([&] {
    held = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }),
            0);
  while (!held) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::atomic<int> sent{0};
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) {
      if (SendFromForeignThread(*h.target, CountOnTarget, &h)) sent++;
    }
  });
  // The sender is stuck on the full ring until the thread runs again.
  while (sent.load() < 4000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_LT(sent.load(), kMessages);
  release = true;
  sender.join();
  EXPECT_EQ(sent.load(), kMessages);
  for (int i = 0; i < 5000 && h.ran.load() < kMessages; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(h.ran.load(), kMessages);
  EXPECT_EQ(h.wrong_thread.load(), 0);
}

}  // namespace
}  // namespace bdevkit::rbd

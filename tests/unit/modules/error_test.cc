// The error module over the real bdev layer: EE bdevs over a base, each error type,
// held I/O released by resume, reset and removal, the base's hot removal under load,
// bad input, save_config.
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bdevkit/bdev.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/test_env.h"
#include "tests/unit/modules/vbdev_test_helpers.h"

namespace bdevkit {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::BdevExists;
using testing::CallRpc;
using testing::TestDisk;
namespace vt = testing::vbdev;

constexpr uint32_t kBs = 512;

void Inject(const std::string& name, const std::string& io_type, const std::string& type,
            json extra = json::object()) {
  json p = {{"name", name}, {"io_type", io_type}, {"error_type", type}};
  p.update(extra);
  RpcResult r = CallRpc("bdev_error_inject_error", p);
  ASSERT_TRUE(r.ok()) << r.status();
}

// bdev_error_create, then examine: the raid module's superblock probe reads the new
// bdev, and must not meet the test's injections.
void CreateEE(const std::string& base) {
  RpcResult r = CallRpc("bdev_error_create", {{"base_name", base}});
  ASSERT_TRUE(r.ok()) << r.status();
  vt::WaitForExamine();
}

IoStats Stats(const std::string& name) {
  return testing::OnApp<IoStats>([name](std::function<void(IoStats)> done) {
    GetIoStats(*FindBdev(name), [done](const IoStats& s) { done(s); });
  });
}

json DriverSpecific(const std::string& name) {
  json out;
  testing::OnAppSync([&] { out = FindBdev(name)->DriverSpecificJson(); });
  return out;
}

// One read submitted on the app thread whose completion is looked at later (held I/O).
class AsyncRead {
 public:
  explicit AsyncRead(const std::string& name) : buf_(8 * kBs) {
    testing::OnAppSync([&] {
      // Closes on removal, as a consumer must (its read may still be held then).
      auto d = OpenBdev(name, /*writable=*/false, [this](BdevEvent e) {
        if (e == BdevEvent::kRemove) Close();
      });
      ASSERT_TRUE(d.ok()) << d.status();
      desc_ = std::move(*d);
      ch_ = desc_->GetIoChannel();
      int rc = desc_->Read(
          ch_, buf_.data(), 0, 8,
          [](void* arg, IoStatus s) {
            auto* self = static_cast<AsyncRead*>(arg);
            self->status_.store(s.error);
            self->calls_.fetch_add(1);
          },
          this);
      ASSERT_EQ(rc, 0);
    });
  }
  ~AsyncRead() {
    testing::OnAppSync([&] { Close(); });
  }
  int calls() const { return calls_.load(); }
  int status() const { return status_.load(); }
  bool WaitDone() {
    for (int i = 0; i < 500 && calls_.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return calls_.load() == 1;
  }

 private:
  void Close() {  // app thread
    if (ch_ != nullptr) ch_->Put();
    ch_ = nullptr;
    desc_.reset();
  }

  std::vector<uint8_t> buf_;
  std::unique_ptr<BdevDesc> desc_;
  IoChannel* ch_ = nullptr;
  std::atomic<int> calls_{0};
  std::atomic<int> status_{1};
};

// BdevIo taken on all threads (bdev_get_io_pools' count).
uint64_t BdevIoInUse() {
  return testing::OnApp<uint64_t>([](std::function<void(uint64_t)> done) {
    GetBdevIoPoolLevels([done](std::vector<BdevIoPoolLevel> levels) {
      uint64_t n = 0;
      for (const BdevIoPoolLevel& l : levels) n += l.in_use;
      done(n);
    });
  });
}

class ErrorBdevTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Every I/O of the test completed (examine's probe reads of new bdevs included):
    // none of them left a BdevIo taken.
    vt::WaitForExamine();
    EXPECT_EQ(BdevIoInUse(), 0u);
    EXPECT_EQ(BdevIoLeakedAtPoolDestroy(), 0u);
    for (const char* n : {"EE_E0", "EE_Late", "EE_Gone", "EE_Bad", "EE_Cfg"}) {
      (void)CallRpc("bdev_error_delete", {{"name", n}});  // whichever exist
    }
    (void)CallRpc("bdev_split_delete", {{"base_bdev", "EE_E0"}});
    vt::DeleteAllMallocAndAio();
  }
};

TEST_F(ErrorBdevTest, PassesThroughAndClaimsTheBase) {
  vt::Malloc("E0", 256, kBs);
  RpcResult r = CallRpc("bdev_error_create", {{"base_name", "E0"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(vt::J(r), json(true));
  testing::OnAppSync([] {
    Bdev* e = FindBdev("EE_E0");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->product_name(), "Error Injection Disk");
    EXPECT_EQ(e->num_blocks(), 256u);
    EXPECT_EQ(FindBdev("E0")->claim_module(), "error");
    EXPECT_TRUE(e->IoTypeSupported(IoType::kReset));
  });
  EXPECT_EQ(DriverSpecific("EE_E0")["error_disk"]["base_bdev"], "E0");
  std::vector<uint8_t> w = vt::Pattern(16 * kBs, 1);
  TestDisk ee("EE_E0");
  ASSERT_TRUE(ee.ok());
  ASSERT_TRUE(ee.Write(w.data(), 7, 16).ok());
  std::vector<uint8_t> back(w.size());
  ASSERT_TRUE(ee.Read(back.data(), 7, 16).ok());
  EXPECT_EQ(back, w);
  EXPECT_EQ(vt::ReadBase("E0", 7, 16), w);
  EXPECT_TRUE(ee.Unmap(0, 8).ok());
  EXPECT_TRUE(ee.Flush(0, 256).ok());
  EXPECT_TRUE(ee.WriteZeroes(100, 4).ok());
}

TEST_F(ErrorBdevTest, FailureHitsExactlyNumAndIostatCountsThem) {
  vt::Malloc("E0", 256, kBs);
  CreateEE("E0");
  const IoStats before = Stats("EE_E0");
  Inject("EE_E0", "read", "failure", {{"num", 2}});
  Inject("EE_E0", "write", "failure", {{"num", 1}});
  Inject("EE_E0", "unmap", "failure");
  Inject("EE_E0", "flush", "failure");
  TestDisk ee("EE_E0");
  std::vector<uint8_t> buf(kBs);
  EXPECT_EQ(ee.Read(buf.data(), 0, 1).error, -EIO);
  EXPECT_EQ(ee.Read(buf.data(), 0, 1).error, -EIO);
  EXPECT_TRUE(ee.Read(buf.data(), 0, 1).ok());
  EXPECT_EQ(ee.Write(buf.data(), 0, 1).error, -EIO);
  EXPECT_TRUE(ee.Write(buf.data(), 0, 1).ok());
  EXPECT_EQ(ee.Unmap(0, 1).error, -EIO);
  EXPECT_EQ(ee.Flush(0, 1).error, -EIO);
  EXPECT_TRUE(ee.Flush(0, 1).ok());
  IoStats s = Stats("EE_E0");
  EXPECT_EQ(s.num_errors, 5u);
  EXPECT_EQ(s.errors_by_type[static_cast<int>(IoType::kRead)], 2u);
  EXPECT_EQ(s.errors_by_type[static_cast<int>(IoType::kWrite)], 1u);
  EXPECT_EQ(s.errors_by_type[static_cast<int>(IoType::kUnmap)], 1u);
  EXPECT_EQ(s.errors_by_type[static_cast<int>(IoType::kFlush)], 1u);
  EXPECT_EQ(s.num_read_ops - before.num_read_ops, 1u);
  EXPECT_EQ(s.num_write_ops - before.num_write_ops, 1u);
  EXPECT_EQ(before.num_errors, 0u);
  EXPECT_EQ(DriverSpecific("EE_E0")["error_disk"]["injected"]["failure"], 5);
  // nvme_failure carries its status; clear disarms everything.
  Inject("EE_E0", "read", "nvme_failure", {{"nvme_sct", 1}, {"nvme_sc", 0x80}});
  IoStatus st = ee.Read(buf.data(), 0, 1);
  EXPECT_EQ(st.error, -EIO);
  EXPECT_EQ(st.nvme_sct, 1);
  EXPECT_EQ(st.nvme_sc, 0x80);
  Inject("EE_E0", "all", "failure", {{"num", 100}});
  Inject("EE_E0", "clear", "failure");
  EXPECT_TRUE(ee.Read(buf.data(), 0, 1).ok());
  EXPECT_EQ(DriverSpecific("EE_E0")["error_disk"]["armed"], json::object());
}

TEST_F(ErrorBdevTest, CorruptDataChangesOneByteOfReadsAndWrites) {
  vt::Malloc("E0", 64, kBs);
  CreateEE("E0");
  TestDisk ee("EE_E0");
  std::vector<uint8_t> w = vt::Pattern(4 * kBs, 3);
  ASSERT_TRUE(ee.Write(w.data(), 0, 4).ok());
  Inject("EE_E0", "read", "corrupt_data", {{"corrupt_offset", 700}, {"corrupt_value", 0x41}});
  std::vector<uint8_t> back(w.size());
  ASSERT_TRUE(ee.Read(back.data(), 0, 4).ok());
  std::vector<uint8_t> expect = w;
  expect[700] ^= 0x41;
  EXPECT_EQ(back, expect);
  EXPECT_EQ(vt::ReadBase("E0", 0, 4), w);  // the base holds the good data
  ASSERT_TRUE(ee.Read(back.data(), 0, 4).ok());
  EXPECT_EQ(back, w);  // num was 1
  Inject("EE_E0", "write", "corrupt_data", {{"corrupt_offset", 5}, {"corrupt_value", 0x80}});
  std::vector<uint8_t> w2 = w;
  ASSERT_TRUE(ee.Write(w2.data(), 0, 4).ok());
  expect = w;
  expect[5] ^= 0x80;
  EXPECT_EQ(vt::ReadBase("E0", 0, 4), expect);  // written corrupted
}

TEST_F(ErrorBdevTest, PendingHeldUntilResumeResetOrDelete) {
  vt::Malloc("E0", 64, kBs);
  CreateEE("E0");
  Inject("EE_E0", "read", "pending", {{"num", 3}});
  {
    AsyncRead held("EE_E0");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(held.calls(), 0);
    EXPECT_EQ(BdevIoInUse(), 1u);  // the held read's
    ASSERT_TRUE(CallRpc("bdev_error_resume_pending", {{"name", "EE_E0"}}).ok());
    ASSERT_TRUE(held.WaitDone());
    EXPECT_EQ(held.status(), 0);
  }
  Inject("EE_E0", "read", "pending", {{"num", 1}});
  {
    AsyncRead held("EE_E0");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(held.calls(), 0);
    TestDisk ee("EE_E0");
    EXPECT_TRUE(ee.Reset().ok());
    ASSERT_TRUE(held.WaitDone());
    EXPECT_EQ(held.status(), -ECANCELED);
  }
  Inject("EE_E0", "read", "pending", {{"num", 1}});
  {
    AsyncRead held("EE_E0");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(held.calls(), 0);
    // The held read would keep the bdev forever; delete fails it and completes.
    ASSERT_TRUE(CallRpc("bdev_error_delete", {{"name", "EE_E0"}}).ok());
    ASSERT_TRUE(held.WaitDone());
    EXPECT_EQ(held.status(), -ENODEV);
  }
  EXPECT_FALSE(BdevExists("EE_E0"));
  testing::OnAppSync([] { EXPECT_EQ(FindBdev("E0")->claim_type(), ClaimType::kNone); });
}

TEST_F(ErrorBdevTest, NomemIsRetriedAndSucceeds) {
  vt::Malloc("E0", 64, kBs);
  CreateEE("E0");
  Inject("EE_E0", "write", "nomem", {{"num", 3}});
  TestDisk ee("EE_E0");
  std::vector<uint8_t> w = vt::Pattern(kBs, 5);
  ASSERT_TRUE(ee.Write(w.data(), 9, 1).ok());  // refused 3 times, then through
  EXPECT_EQ(vt::ReadBase("E0", 9, 1), w);
  EXPECT_EQ(DriverSpecific("EE_E0")["error_disk"]["injected"]["nomem"], 3);
  EXPECT_EQ(Stats("EE_E0").num_errors, 0u);
}

TEST_F(ErrorBdevTest, QueueDepthCountsIoAtTheBase) {
  vt::Malloc("E0", 64, kBs);
  CreateEE("E0");
  Inject("EE_E0", "write", "failure", {{"num", 1}, {"queue_depth", 4}});
  TestDisk ee("EE_E0");
  std::vector<uint8_t> w = vt::Pattern(kBs, 6);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(ee.Write(w.data(), i, 1).ok());  // depth 0: kept
  // 8 writes submitted in one go: the malloc base completes them only after this step,
  // so the 5th meets 4 at the base and takes the one failure.
  struct Batch {
    std::unique_ptr<BdevDesc> desc;
    IoChannel* ch = nullptr;
    std::vector<int> status = std::vector<int>(8, 1);
    int done = 0;
    std::function<void(bool)> finish;
  };
  Batch b;
  testing::OnApp<bool>([&](std::function<void(bool)> finish) {
    b.desc = std::move(*OpenBdev("EE_E0", true));
    b.ch = b.desc->GetIoChannel();
    b.finish = finish;
    struct Arg {
      Batch* b;
      int i;
    };
    static Arg args[8];
    for (int i = 0; i < 8; ++i) {
      args[i] = {&b, i};
      ASSERT_EQ(b.desc->Write(
                    b.ch, w.data(), 10 + i, 1,
                    [](void* a, IoStatus s) {
                      auto* arg = static_cast<Arg*>(a);
                      arg->b->status[arg->i] = s.error;
                      if (++arg->b->done == 8) arg->b->finish(true);
                    },
                    &args[i]),
                0);
    }
  });
  testing::OnAppSync([&] {
    b.ch->Put();
    b.desc.reset();
  });
  EXPECT_EQ(b.status, std::vector<int>({0, 0, 0, 0, -EIO, 0, 0, 0}));
}

TEST_F(ErrorBdevTest, DeclaredBeforeItsBaseAndBackAfterHotRemoval) {
  ASSERT_TRUE(CallRpc("bdev_error_create", {{"base_name", "Late"}}).ok());
  EXPECT_FALSE(BdevExists("EE_Late"));
  vt::Malloc("Late", 128, kBs);
  vt::WaitForExamine();
  ASSERT_TRUE(BdevExists("EE_Late"));
  std::string uuid;
  testing::OnAppSync([&] { uuid = FindBdev("EE_Late")->uuid(); });
  // Hot removal under load: every I/O submitted completes, then the EE bdev is gone.
  Inject("EE_Late", "read", "failure", {{"num", 10}});
  vt::Load load("EE_Late", 32, 8);
  ASSERT_TRUE(load.Start());
  ASSERT_TRUE(load.WaitForCompletions(300));
  Inject("EE_Late", "write", "pending", {{"num", 5}});  // held when the base goes
  ASSERT_TRUE(CallRpc("bdev_malloc_delete", {{"name", "Late"}}).ok());
  EXPECT_TRUE(load.WaitUntilClosed());
  EXPECT_EQ(load.submitted(), load.completed());
  EXPECT_GE(load.failed(), 10u);
  EXPECT_FALSE(BdevExists("EE_Late"));
  vt::Malloc("Late", 128, kBs);
  vt::WaitForExamine();
  ASSERT_TRUE(BdevExists("EE_Late"));
  testing::OnAppSync([&] { EXPECT_EQ(FindBdev("EE_Late")->uuid(), uuid); });
  EXPECT_EQ(DriverSpecific("EE_Late")["error_disk"]["armed"], json::object());  // fresh
}

TEST_F(ErrorBdevTest, BadInputLeavesNothingBehind) {
  auto code = [](const RpcResult& r) { return StatusToJsonRpcError(r.status()).code; };
  auto message = [](const RpcResult& r) { return std::string(r.status().message()); };
  vt::Malloc("Bad", 64, kBs);
  RpcResult r = CallRpc("bdev_error_create", {{"base_name", "Bad"}, {"uuid", "nope"}});
  EXPECT_EQ(code(r), -32602);
  EXPECT_THAT(message(r), HasSubstr("uuid"));
  EXPECT_FALSE(BdevExists("EE_Bad"));
  EXPECT_EQ(code(CallRpc("bdev_error_create", {{"base_name", ""}})), -32602);
  EXPECT_EQ(code(CallRpc("bdev_error_create", {{"base_name", "Bad"}, {"extra", 1}})), -32602);
  // A base claimed by someone else.
  vt::Malloc("Other", 64, kBs);
  ASSERT_TRUE(CallRpc("bdev_split_create", {{"base_bdev", "Other"}, {"split_count", 2}}).ok());
  r = CallRpc("bdev_error_create", {{"base_name", "Other"}});
  EXPECT_THAT(message(r), HasSubstr("claimed by module 'split'"));
  EXPECT_FALSE(BdevExists("EE_Other"));
  ASSERT_TRUE(CallRpc("bdev_split_delete", {{"base_bdev", "Other"}}).ok());
  // Twice over one base; a name taken.
  ASSERT_TRUE(CallRpc("bdev_error_create", {{"base_name", "Bad"}}).ok());
  EXPECT_EQ(code(CallRpc("bdev_error_create", {{"base_name", "Bad"}})), -17);
  vt::Malloc("EE_Taken", 8, kBs);
  EXPECT_EQ(code(CallRpc("bdev_error_create", {{"base_name", "Taken"}})), -17);
  // Injection into what is not an error bdev, bad types and values.
  json p = {{"name", "Bad"}, {"io_type", "read"}, {"error_type", "failure"}};
  EXPECT_EQ(code(CallRpc("bdev_error_inject_error", p)), -19);
  p["name"] = "EE_Bad";
  p["io_type"] = "reset";
  EXPECT_EQ(code(CallRpc("bdev_error_inject_error", p)), -32602);
  p["io_type"] = "read";
  p["error_type"] = "corrupt_data";
  r = CallRpc("bdev_error_inject_error", p);
  EXPECT_EQ(code(r), -32602);
  EXPECT_THAT(message(r), HasSubstr("corrupt_value"));
  EXPECT_EQ(DriverSpecific("EE_Bad")["error_disk"]["armed"], json::object());
  EXPECT_EQ(code(CallRpc("bdev_error_delete", {{"name", "Bad"}})), -19);
  EXPECT_EQ(code(CallRpc("bdev_error_resume_pending", {{"name", "Nope"}})), -19);
}

TEST_F(ErrorBdevTest, SaveConfigDeclaresItAndDeleteForgetsIt) {
  ASSERT_TRUE(CallRpc("bdev_error_create",
                      {{"base_name", "Cfg"}, {"uuid", "12345678-1234-4234-8234-123456789abc"}})
                  .ok());
  auto entries = [] {
    std::vector<json> out;
    for (const json& e : vt::J(CallRpc("framework_get_config", {{"name", "bdev"}}))) {
      if (e["method"] == "bdev_error_create") out.push_back(e["params"]);
    }
    return out;
  };
  std::vector<json> found = entries();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0],
            json({{"base_name", "Cfg"}, {"uuid", "12345678-1234-4234-8234-123456789abc"}}));
  vt::Malloc("Cfg", 32, kBs);
  vt::WaitForExamine();
  testing::OnAppSync([] {
    ASSERT_NE(FindBdev("EE_Cfg"), nullptr);
    EXPECT_EQ(FindBdev("EE_Cfg")->uuid(), "12345678-1234-4234-8234-123456789abc");
  });
  ASSERT_TRUE(CallRpc("bdev_error_delete", {{"name", "EE_Cfg"}}).ok());
  EXPECT_FALSE(BdevExists("EE_Cfg"));
  EXPECT_TRUE(entries().empty());
}

TEST_F(ErrorBdevTest, SplitOverErrorBdevSeesItsFailures) {
  vt::Malloc("E0", 256, kBs);
  CreateEE("E0");
  ASSERT_TRUE(CallRpc("bdev_split_create", {{"base_bdev", "EE_E0"}, {"split_count", 2}}).ok());
  Inject("EE_E0", "write", "failure", {{"num", 1}});
  TestDisk part("EE_E0p1");
  ASSERT_TRUE(part.ok());
  std::vector<uint8_t> w = vt::Pattern(kBs, 9);
  EXPECT_EQ(part.Write(w.data(), 0, 1).error, -EIO);
  EXPECT_TRUE(part.Write(w.data(), 0, 1).ok());
  EXPECT_EQ(vt::ReadBase("E0", 128, 1), w);
  IoStats s = Stats("EE_E0p1");
  EXPECT_EQ(s.errors_by_type[static_cast<int>(IoType::kWrite)], 1u);
  EXPECT_EQ(s.num_write_ops, 1u);
}

}  // namespace
}  // namespace bdevkit

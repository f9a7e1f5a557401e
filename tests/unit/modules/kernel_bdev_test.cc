// The aio and uring modules through the real runtime, bdev core and kernel: real files
// (and a loop device when one can be set up), real Linux AIO and io_uring. Every test
// here runs for both modules; data is checked through the bdev *and* in the file itself.
#include "tests/unit/modules/kernel_bdev_fixture.h"

namespace bdevkit::kernel_test {
namespace {

INSTANTIATE_TEST_SUITE_P(Modules, KernelBdevTest, ::testing::Values("aio", "uring"),
                         [](const auto& param_info) { return param_info.param; });

TEST_P(KernelBdevTest, DetectsGeometryAndReportsDriverSpecific) {
  RpcResult r = Create({{"name", "K0"}, {"filename", file_}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, json("K0"));
  testing::OnAppSync([&] {
    Bdev* b = FindBdev("K0");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->product_name(), kind() == "aio" ? "AIO disk" : "URING bdev");
    EXPECT_EQ(b->block_size(), kBlock);  // ext4 on a 512-byte-sector disk
    EXPECT_EQ(b->num_blocks(), kFileBlocks);
    EXPECT_GE(b->properties().required_alignment, 512u);
    json info = testing::ConfigPeer::DumpInfo(*b);
    ASSERT_TRUE(info.contains(kind())) << info.dump();
    EXPECT_EQ(info[kind()]["filename"], file_);
    EXPECT_EQ(info[kind()]["readonly"], false);
    if (kind() == "uring") {
      for (const char* k : {"queue_depth", "sqpoll", "iopoll", "fixed_buffers"}) {
        EXPECT_TRUE(info["uring"].contains(k)) << k;
      }
    } else {
      for (const char* k : {"block_size_override", "fallocate", "nowait"}) {
        EXPECT_TRUE(info["aio"].contains(k)) << k;
      }
    }
    EXPECT_TRUE(b->IoTypeSupported(IoType::kWriteZeroes));
    EXPECT_TRUE(b->IoTypeSupported(IoType::kUnmap));
  });
  // A larger block size given explicitly: fewer, larger blocks.
  ASSERT_TRUE(Delete("K0").ok());
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}, {"block_size", 4096}}).ok());
  testing::OnAppSync([&] {
    EXPECT_EQ(FindBdev("K0")->block_size(), 4096u);
    EXPECT_EQ(FindBdev("K0")->num_blocks(), kFileBlocks * kBlock / 4096);
  });
}

TEST_P(KernelBdevTest, WritesReachTheFileAndReadBack) {
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}}).ok());
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok()) << disk.open_status();
  // The file's existing contents read through the bdev.
  void* buf = AlignedBuf(64 * kBlock);
  ASSERT_TRUE(disk.Read(buf, 100, 64).ok());
  EXPECT_EQ(std::memcmp(buf, data_.data() + 100 * kBlock, 64 * kBlock), 0);
  // Writes land at the right offset of the file, and only there.
  std::vector<uint8_t> w = Pattern(16 * kBlock, 77);
  std::memcpy(buf, w.data(), w.size());
  ASSERT_TRUE(disk.Write(buf, 500, 16).ok());
  ASSERT_TRUE(disk.Write(buf, kFileBlocks - 16, 16).ok());  // the last blocks
  EXPECT_EQ(ReadFile(file_, 500 * kBlock, w.size()), w);
  EXPECT_EQ(ReadFile(file_, (kFileBlocks - 16) * kBlock, w.size()), w);
  EXPECT_EQ(ReadFile(file_, 499 * kBlock, kBlock),
            std::vector<uint8_t>(data_.begin() + 499 * kBlock, data_.begin() + 500 * kBlock));
  std::memset(buf, 0, 16 * kBlock);
  ASSERT_TRUE(disk.Read(buf, 500, 16).ok());
  EXPECT_EQ(std::memcmp(buf, w.data(), w.size()), 0);
  std::free(buf);
}

TEST_P(KernelBdevTest, IovecsAlignedAndOddSegments) {
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}}).ok());
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  // Aligned segments of whole blocks: straight to readv/writev.
  std::vector<void*> segs;
  for (int i = 0; i < 3; ++i) segs.push_back(AlignedBuf(2 * kBlock));
  std::vector<uint8_t> expect;
  iovec wv[3];
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> p = Pattern(2 * kBlock, static_cast<uint8_t>(10 * i + 1));
    std::memcpy(segs[i], p.data(), p.size());
    wv[i] = {segs[i], p.size()};
    expect.insert(expect.end(), p.begin(), p.end());
  }
  ASSERT_TRUE(disk.Writev(wv, 3, 40, 6).ok());
  EXPECT_EQ(ReadFile(file_, 40 * kBlock, expect.size()), expect);
  for (int i = 0; i < 3; ++i) std::memset(segs[i], 0, 2 * kBlock);
  ASSERT_TRUE(disk.Readv(wv, 3, 40, 6).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(std::memcmp(segs[i], expect.data() + i * 2 * kBlock, 2 * kBlock), 0) << i;
  }
  // Aligned addresses but lengths that split blocks (100 + 1300 + 648 bytes = 4
  // blocks): the core does not bounce these, O_DIRECT would refuse them.
  void* a = AlignedBuf(4096);
  void* b = AlignedBuf(4096);
  void* c = AlignedBuf(4096);
  std::vector<uint8_t> odd = Pattern(4 * kBlock, 55);
  std::memcpy(a, odd.data(), 100);
  std::memcpy(b, odd.data() + 100, 1300);
  std::memcpy(c, odd.data() + 1400, 648);
  iovec ov[] = {{a, 100}, {b, 1300}, {c, 648}};
  ASSERT_TRUE(disk.Writev(ov, 3, 60, 4).ok());
  EXPECT_EQ(ReadFile(file_, 60 * kBlock, odd.size()), odd);
  std::memset(a, 0, 100);
  std::memset(b, 0, 1300);
  std::memset(c, 0, 648);
  ASSERT_TRUE(disk.Readv(ov, 3, 60, 4).ok());
  EXPECT_EQ(std::memcmp(a, odd.data(), 100), 0);
  EXPECT_EQ(std::memcmp(b, odd.data() + 100, 1300), 0);
  EXPECT_EQ(std::memcmp(c, odd.data() + 1400, 648), 0);
  for (void* p : segs) std::free(p);
  for (void* p : {a, b, c}) std::free(p);
}

TEST_P(KernelBdevTest, UnalignedCallerBuffersGoThroughTheCoreBounce) {
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}}).ok());
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  // std::vector's storage + 1: never 512-aligned. 300 blocks = more than one
  // 128 KiB bounce buffer, so the core also splits.
  constexpr uint64_t kN = 300;
  std::vector<uint8_t> wraw(kN * kBlock + 1), rraw(kN * kBlock + 1, 0);
  std::vector<uint8_t> w = Pattern(kN * kBlock, 91);
  std::memcpy(wraw.data() + 1, w.data(), w.size());
  ASSERT_TRUE(disk.Write(wraw.data() + 1, 1000, kN).ok());
  EXPECT_EQ(ReadFile(file_, 1000 * kBlock, w.size()), w);
  ASSERT_TRUE(disk.Read(rraw.data() + 1, 1000, kN).ok());
  EXPECT_EQ(std::memcmp(rraw.data() + 1, w.data(), w.size()), 0);
}

TEST_P(KernelBdevTest, WriteZeroesUnmapAndFlush) {
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}}).ok());
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  ASSERT_TRUE(disk.WriteZeroes(8, 8).ok());
  ASSERT_TRUE(disk.Unmap(24, 16).ok());  // ext4 punches a hole: reads back zeroes
  ASSERT_TRUE(disk.Flush(0, kFileBlocks).ok());
  std::vector<uint8_t> file = ReadFile(file_, 0, 48 * kBlock);
  for (uint64_t blk = 0; blk < 48; ++blk) {
    bool zeroed = (blk >= 8 && blk < 16) || (blk >= 24 && blk < 40);
    std::vector<uint8_t> expect(data_.begin() + blk * kBlock, data_.begin() + (blk + 1) * kBlock);
    if (zeroed) expect.assign(kBlock, 0);
    EXPECT_TRUE(std::equal(expect.begin(), expect.end(), file.begin() + blk * kBlock))
        << "block " << blk;
  }
  void* buf = AlignedBuf(48 * kBlock);
  ASSERT_TRUE(disk.Read(buf, 0, 48).ok());
  EXPECT_EQ(std::memcmp(buf, file.data(), file.size()), 0);
  std::free(buf);
  // A reset drains (nothing outstanding) and the disk still works.
  EXPECT_TRUE(disk.Reset().ok());
}

TEST_P(KernelBdevTest, WriteZeroesOnTmpfsFallsBackToPunchHole) {
  // tmpfs has PUNCH_HOLE but no ZERO_RANGE; O_DIRECT on tmpfs needs Linux >= 6.6.
  std::string path = "/dev/shm/bdevkit-kern-test-" + std::to_string(getpid()) + ".img";
  MakeFile(path, 256 * kBlock, 9);
  RpcResult r = Create({{"name", "K1"}, {"filename", path}});
  if (!r.ok()) {
    std::remove(path.c_str());
    GTEST_SKIP() << "no O_DIRECT on /dev/shm here: " << r.status();
  }
  {
    TestDisk disk("K1");
    ASSERT_TRUE(disk.ok());
    ASSERT_TRUE(disk.WriteZeroes(16, 8).ok());
    EXPECT_EQ(ReadFile(path, 16 * kBlock, 8 * kBlock), std::vector<uint8_t>(8 * kBlock, 0));
    EXPECT_NE(ReadFile(path, 15 * kBlock, kBlock), std::vector<uint8_t>(kBlock, 0));
  }
  EXPECT_TRUE(Delete("K1").ok());
  std::remove(path.c_str());
}

TEST_P(KernelBdevTest, ManyInFlightBeyondTheRing) {
  // uring: a 4-entry ring with 200 I/Os in flight exercises the backlog.
  json params = {{"name", "K0"}, {"filename", file_}};
  if (kind() == "uring") params["queue_depth"] = 4;
  ASSERT_TRUE(Create(params).ok());
  constexpr int kIos = 200;
  struct State {
    std::atomic<int> completed{0}, failed{0};
  } state;
  void* bufs = AlignedBuf(kIos * 4 * kBlock);
  std::vector<uint8_t> w = Pattern(kIos * 4 * kBlock, 5);
  std::memcpy(bufs, w.data(), w.size());
  std::unique_ptr<BdevDesc> desc;
  IoChannel* ch = nullptr;
  testing::OnAppSync([&] {
    desc = std::move(*OpenBdev("K0", true));
    ch = desc->GetIoChannel();
    for (int i = 0; i < kIos; ++i) {
      int rc = desc->Write(
          ch, static_cast<uint8_t*>(bufs) + i * 4 * kBlock, static_cast<uint64_t>(i) * 4, 4,
          [](void* arg, IoStatus s) {
            auto* st = static_cast<State*>(arg);
            if (!s.ok()) st->failed++;
            st->completed++;
          },
          &state);
      ASSERT_EQ(rc, 0);
    }
  });
  for (int i = 0; i < 2000 && state.completed.load() < kIos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(state.completed.load(), kIos);
  EXPECT_EQ(state.failed.load(), 0);
  EXPECT_EQ(ReadFile(file_, 0, w.size()), w);
  testing::OnAppSync([&] {
    ch->Put();
    desc.reset();
  });
  std::free(bufs);
}

TEST_P(KernelBdevTest, DeleteWithIoInFlight) {
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}}).ok());
  constexpr int kIos = 64;
  struct State {
    std::atomic<int> completed{0};
    std::atomic<bool> deleted{false};
    absl::Status delete_status;
  } state;
  void* bufs = AlignedBuf(kIos * 8 * kBlock);
  testing::OnAppSync([&] {
    std::unique_ptr<BdevDesc> desc = std::move(*OpenBdev("K0", true));
    IoChannel* ch = desc->GetIoChannel();
    for (int i = 0; i < kIos; ++i) {
      uint8_t* buf = static_cast<uint8_t*>(bufs) + i * 8 * kBlock;
      auto cb = [](void* arg, IoStatus) { static_cast<State*>(arg)->completed++; };
      int rc = (i % 2) ? desc->Read(ch, buf, i * 8, 8, cb, &state)
                       : desc->Write(ch, buf, i * 8, 8, cb, &state);
      ASSERT_EQ(rc, 0);
    }
    auto deleted = [&state](absl::Status s) {
      state.delete_status = s;
      state.deleted = true;
    };
    if (kind() == "aio") {
      DeleteAioBdev("K0", deleted);
    } else {
      DeleteUringBdev("K0", deleted);
    }
    // Released with I/O still in flight, as an application reacting to kRemove does.
    ch->Put();
    desc.reset();
  });
  for (int i = 0; i < 2000 && !(state.deleted && state.completed == kIos); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(state.completed.load(), kIos);  // every callback ran, exactly once
  ASSERT_TRUE(state.deleted.load());
  EXPECT_TRUE(state.delete_status.ok()) << state.delete_status;
  EXPECT_FALSE(BdevExists("K0"));
  std::free(bufs);
  // The file was released: it can back a new bdev.
  EXPECT_TRUE(Create({{"name", "K0"}, {"filename", file_}}).ok());
}

TEST_P(KernelBdevTest, BadInput) {
  // Missing file: -2, as SPDK.
  absl::Status s = CreateFails({{"name", "K0"}, {"filename", dir_.path() + "/nope.img"}});
  EXPECT_EQ(StatusToJsonRpcError(s).code, -2);
  EXPECT_THAT(std::string(s.message()), HasSubstr("No such file or directory"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("nope.img"));
  // A directory.
  s = CreateFails({{"name", "K0"}, {"filename", dir_.path()}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("is a directory"));
  EXPECT_EQ(StatusToJsonRpcError(s).code, -21);
  // Block size not a power of two; below 512; smaller than the file.
  s = CreateFails({{"name", "K0"}, {"filename", file_}, {"block_size", 1000}});
  EXPECT_EQ(StatusToJsonRpcError(s).code, -32602);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"block_size\": must be a power of two"));
  s = CreateFails({{"name", "K0"}, {"filename", file_}, {"block_size", 256}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"block_size\""));
  std::string tiny = dir_.path() + "/tiny.img";
  MakeFile(tiny, 100);
  s = CreateFails({{"name", "K0"}, {"filename", tiny}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("smaller than one block"));
  s = CreateFails({{"name", "K0"}, {"filename", file_}, {"block_size", 2u << 20}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("smaller than one block"));
  // Missing params, wrong types, unknown keys, bad uuid.
  s = CreateFails({{"name", "K0"}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"filename\""));
  s = CreateFails({{"name", "K0"}, {"filename", 7}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"filename\""));
  s = CreateFails({{"name", "K0"}, {"filename", file_}, {"bogus", 1}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"bogus\": unknown parameter"));
  s = CreateFails({{"name", "K0"}, {"filename", file_}, {"uuid", "xyz"}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"uuid\""));
  // Duplicate name: -17, and the file of the failed create is not left "in use".
  ASSERT_TRUE(Create({{"name", "K0"}, {"filename", file_}}).ok());
  std::string other = dir_.path() + "/other.img";
  MakeFile(other, 64 * kBlock);
  s = CreateFails({{"name", "K0"}, {"filename", other}});
  EXPECT_EQ(StatusToJsonRpcError(s).code, -17);
  ASSERT_TRUE(Create({{"name", "K1"}, {"filename", other}}).ok());
  ASSERT_TRUE(Delete("K1").ok());
  // The same file again, under another path (a hard link): refused, by either module.
  std::string link = dir_.path() + "/link.img";
  ASSERT_EQ(::link(file_.c_str(), link.c_str()), 0);
  s = CreateFails({{"name", "K1"}, {"filename", link}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("already backs another bdev"));
  EXPECT_EQ(StatusToJsonRpcError(s).code, -16);
  json other_kind = {{"name", "K1"}, {"filename", file_}};
  RpcResult r = CallRpc(kind() == "aio" ? "bdev_uring_create" : "bdev_aio_create", other_kind);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(BdevExists("K1"));
  // Delete of an unknown or foreign bdev: -19.
  EXPECT_EQ(StatusToJsonRpcError(Delete("NoSuch")).code, -19);
  ASSERT_TRUE(
      CallRpc("bdev_null_create", {{"name", "NullK"}, {"block_size", 512}, {"num_blocks", 8}})
          .ok());
  EXPECT_EQ(StatusToJsonRpcError(Delete("NullK")).code, -19);
  EXPECT_TRUE(BdevExists("NullK"));
  EXPECT_TRUE(CallRpc("bdev_null_delete", {{"name", "NullK"}}).ok());
}

TEST_P(KernelBdevTest, NoPermissionAndReadOnlyFiles) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch the fs identity per thread";
  std::string secret = dir_.path() + "/secret.img";
  MakeFile(secret, 64 * kBlock);
  ASSERT_EQ(chmod(secret.c_str(), 0600), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  RpcResult r;
  AsNobody([&] {
    CallRpcMethod(create_method(), {{"name", "K0"}, {"filename", secret}},
                  [&](RpcResult res) { r = std::move(res); });
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -13);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("Permission denied"));
  EXPECT_FALSE(BdevExists("K0"));

  // Readable but not writable: a read-only bdev that refuses writes.
  ASSERT_EQ(chmod(secret.c_str(), 0644), 0);
  AsNobody([&] {
    CallRpcMethod(create_method(), {{"name", "K0"}, {"filename", secret}},
                  [&](RpcResult res) { r = std::move(res); });
  });
  ASSERT_TRUE(r.ok()) << r.status();
  testing::OnAppSync([&] {
    Bdev* b = FindBdev("K0");
    EXPECT_FALSE(b->IoTypeSupported(IoType::kWrite));
    EXPECT_FALSE(b->IoTypeSupported(IoType::kWriteZeroes));
    EXPECT_TRUE(b->IoTypeSupported(IoType::kRead));
    EXPECT_EQ(testing::ConfigPeer::DumpInfo(*b)[kind()]["readonly"], true);
  });
  TestDisk disk("K0");
  ASSERT_TRUE(disk.ok());
  void* buf = AlignedBuf(kBlock);
  EXPECT_TRUE(disk.Read(buf, 0, 1).ok());
  EXPECT_EQ(disk.Write(buf, 0, 1).error, -EINVAL);
  std::free(buf);
}

TEST_P(KernelBdevTest, FilesystemWithoutODirect) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a ramfs";
  std::string mnt = dir_.path() + "/ramfs";
  std::filesystem::create_directory(mnt);
  if (mount("none", mnt.c_str(), "ramfs", 0, nullptr) != 0) {
    GTEST_SKIP() << "cannot mount a ramfs: " << std::strerror(errno);
  }
  MakeFile(mnt + "/f.img", 64 * kBlock);
  absl::Status s = CreateFails({{"name", "K0"}, {"filename", mnt + "/f.img"}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("does not support direct I/O"));
  EXPECT_EQ(StatusToJsonRpcError(s).code, -22);
  umount(mnt.c_str());
}

TEST_P(KernelBdevTest, SaveConfigRoundTrips) {
  json params = {{"name", "K0"},
                 {"filename", file_},
                 {"block_size", 1024},
                 {"uuid", "6D3AF4C4-8B1D-4E0F-9A55-0123456789AB"}};
  if (kind() == "uring") {
    params["queue_depth"] = 64;
    params["sqpoll"] = true;
    params["sqpoll_idle_ms"] = 20;
  } else {
    params["nowait"] = true;
  }
  RpcResult r = Create(params);
  ASSERT_TRUE(r.ok()) << r.status();
  json config, info;
  testing::OnAppSync([&] {
    config = testing::ConfigPeer::WriteConfig(*FindBdev("K0"));
    info = testing::ConfigPeer::DumpInfo(*FindBdev("K0"));
  });
  ASSERT_EQ(config.size(), 1u);
  EXPECT_EQ(config[0]["method"], create_method());
  EXPECT_EQ(config[0]["params"]["uuid"], "6d3af4c4-8b1d-4e0f-9a55-0123456789ab");
  EXPECT_EQ(config[0]["params"]["block_size"], 1024);
  if (kind() == "uring") {
    EXPECT_EQ(info["uring"]["sqpoll"], true);
    EXPECT_EQ(info["uring"]["queue_depth"], 64);
  } else {
    EXPECT_EQ(info["aio"]["nowait"], true);
    EXPECT_EQ(info["aio"]["fallocate"], true);
  }
  // The sqpoll/nowait bdev does real I/O.
  {
    TestDisk disk("K0");
    ASSERT_TRUE(disk.ok());
    void* buf = AlignedBuf(4096);
    ASSERT_TRUE(disk.Read(buf, 3, 1).ok());
    EXPECT_EQ(std::memcmp(buf, data_.data() + 3 * 1024, 1024), 0);
    std::free(buf);
  }
  ASSERT_TRUE(Delete("K0").ok());

  json file = {{"subsystems", {{{"subsystem", "bdev"}, {"config", config}}}}};
  absl::Status s = testing::OnApp<absl::Status>(
      [&](std::function<void(absl::Status)> done) { LoadJsonConfig(file, done); });
  ASSERT_TRUE(s.ok()) << s;
  testing::OnAppSync([&] {
    Bdev* b = FindBdev("6d3af4c4-8b1d-4e0f-9a55-0123456789ab");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->name(), "K0");
    EXPECT_EQ(b->block_size(), 1024u);
    EXPECT_EQ(b->num_blocks(), kFileBlocks * kBlock / 1024);
    EXPECT_EQ(testing::ConfigPeer::DumpInfo(*b), info);
    EXPECT_EQ(testing::ConfigPeer::WriteConfig(*b), config);
  });
}

// A loop device with 4 KiB sectors: BLKSSZGET detection, BLKGETSIZE64, block-size
// validation against the device, and I/O on a block device.
TEST_P(KernelBdevTest, LoopDeviceWith4KSectors) {
  if (geteuid() != 0 || system("command -v losetup >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs root and losetup for a loop device";
  }
  std::string backing = dir_.path() + "/loop.img";
  std::vector<uint8_t> content = MakeFile(backing, 4 << 20, 21);
  std::string cmd = "losetup --find --show --sector-size 4096 --direct-io=on " + backing;
  FILE* p = popen(cmd.c_str(), "r");
  char dev[64] = {};
  bool got = p != nullptr && std::fgets(dev, sizeof(dev), p) != nullptr;
  if (p != nullptr) pclose(p);
  if (!got) GTEST_SKIP() << "losetup could not set up a loop device";
  std::string loop(dev);
  loop.erase(loop.find_last_not_of("\n") + 1);
  absl::Status s = CreateFails({{"name", "K0"}, {"filename", loop}, {"block_size", 512}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("smaller than the logical block size"));
  RpcResult r = Create({{"name", "K0"}, {"filename", loop}});
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) {
    testing::OnAppSync([&] {
      EXPECT_EQ(FindBdev("K0")->block_size(), 4096u);
      EXPECT_EQ(FindBdev("K0")->num_blocks(), (4u << 20) / 4096);
    });
    TestDisk disk("K0");
    ASSERT_TRUE(disk.ok());
    void* buf = AlignedBuf(8192);
    ASSERT_TRUE(disk.Read(buf, 10, 2).ok());
    EXPECT_EQ(std::memcmp(buf, content.data() + 10 * 4096, 8192), 0);
    std::vector<uint8_t> w = Pattern(8192, 200);
    std::memcpy(buf, w.data(), w.size());
    ASSERT_TRUE(disk.Write(buf, 20, 2).ok());
    ASSERT_TRUE(disk.Flush(0, 1).ok());
    ASSERT_TRUE(disk.WriteZeroes(30, 2).ok());
    std::memset(buf, 1, 8192);
    ASSERT_TRUE(disk.Read(buf, 30, 2).ok());
    EXPECT_EQ(std::memcmp(buf, std::vector<uint8_t>(8192, 0).data(), 8192), 0);
    // A loop device over a file does write-zeroes, so unmap is offered on it and
    // deallocates (reads back as zeroes) through the block device too.
    bool unmap = false;
    testing::OnAppSync([&] { unmap = FindBdev("K0")->IoTypeSupported(IoType::kUnmap); });
    EXPECT_TRUE(unmap);
    if (unmap) {
      ASSERT_TRUE(disk.Unmap(40, 2).ok());
      std::memset(buf, 1, 8192);
      ASSERT_TRUE(disk.Read(buf, 40, 2).ok());
      EXPECT_EQ(std::memcmp(buf, std::vector<uint8_t>(8192, 0).data(), 8192), 0);
    }
    std::free(buf);
  }
  if (BdevExists("K0")) {
    EXPECT_TRUE(Delete("K0").ok());
  }
  std::ignore = system(("losetup -d " + loop).c_str());
  // Data written through the loop device is in its backing file.
  std::vector<uint8_t> w = Pattern(8192, 200);
  if (r.ok()) {
    EXPECT_EQ(ReadFile(backing, 20 * 4096, 8192), w);
  }
}

}  // namespace
}  // namespace bdevkit::kernel_test

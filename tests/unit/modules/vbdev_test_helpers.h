// Helpers for the raid and split tests: bases on demand, reading a claimed base,
// waiting for examine, temporary backing files, and a load that keeps I/O in flight
// until the bdev under it is removed.
#ifndef BDEVKIT_TESTS_UNIT_MODULES_VBDEV_TEST_HELPERS_H_
#define BDEVKIT_TESTS_UNIT_MODULES_VBDEV_TEST_HELPERS_H_

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "gtest/gtest.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::testing::vbdev {

inline std::vector<uint8_t> Pattern(size_t n, unsigned seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng() | 1);  // never 0, unlike unmapped data
  return v;
}

inline void Malloc(const std::string& name, uint64_t blocks, uint32_t block_size) {
  RpcResult r = CallRpc("bdev_malloc_create",
                        {{"name", name}, {"num_blocks", blocks}, {"block_size", block_size}});
  ASSERT_TRUE(r.ok()) << r.status();
}

// An RPC result as nlohmann::json, whatever JSON type RpcResult carries (null on error).
inline nlohmann::json J(const RpcResult& r) { return r.ok() ? nlohmann::json(*r) : nullptr; }

inline void WaitForExamine() { ASSERT_TRUE(CallRpc("bdev_wait_for_examine", nullptr).ok()); }

// Reads blocks of a bdev through a read-only descriptor (works on claimed bases).
inline std::vector<uint8_t> ReadBase(const std::string& name, uint64_t offset, uint64_t blocks) {
  struct Ctx {
    std::unique_ptr<BdevDesc> desc;
    IoChannel* ch = nullptr;
    std::vector<uint8_t> buf;
    std::function<void(IoStatus)> done;
  };
  auto ctx = std::make_shared<Ctx>();
  IoStatus st = OnApp<IoStatus>([&](std::function<void(IoStatus)> done) {
    auto d = OpenBdev(name, /*writable=*/false);
    if (!d.ok()) return done(IoStatus::Error(-ENODEV));
    ctx->desc = std::move(*d);
    ctx->ch = ctx->desc->GetIoChannel();
    ctx->buf.resize(blocks * ctx->desc->bdev().block_size());
    ctx->done = done;
    int rc = ctx->desc->Read(
        ctx->ch, ctx->buf.data(), offset, blocks,
        [](void* arg, IoStatus s) { static_cast<Ctx*>(arg)->done(s); }, ctx.get());
    if (rc != 0) done(IoStatus::Error(rc));
  });
  OnAppSync([&] {
    if (ctx->ch != nullptr) ctx->ch->Put();
    ctx->desc.reset();
  });
  EXPECT_TRUE(st.ok()) << "reading " << name << ": " << st.error;
  return ctx->buf;
}

// Deletes every malloc and aio bdev (after the raids and splits over them are gone).
inline void DeleteAllMallocAndAio() {
  std::vector<std::pair<std::string, std::string>> victims;
  OnAppSync([&] {
    for (const std::string& n : ListBdevs()) {
      Bdev* b = FindBdev(n);
      const std::string& m = b->module().name();
      if (m == "malloc" || m == "aio") victims.emplace_back(m, n);
    }
  });
  for (const auto& [m, n] : victims) {
    RpcResult r = CallRpc("bdev_" + m + "_delete", {{"name", n}});
    EXPECT_TRUE(r.ok()) << n << ": " << r.status();
  }
}

// Backing files for aio bdevs, written in full first (so reads are real).
class TempFiles {
 public:
  TempFiles(int n, size_t bytes) {
    char tmpl[] = "/tmp/bdevkit-vbdev-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::vector<char> chunk(1 << 20, 0x5c);
    for (int i = 0; i < n; ++i) {
      paths_.push_back(dir_ + "/f" + std::to_string(i));
      int fd = open(paths_.back().c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
      for (size_t done = 0; done < bytes; done += chunk.size()) {
        EXPECT_EQ(write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
      }
      close(fd);
    }
  }
  ~TempFiles() { std::filesystem::remove_all(dir_); }
  const std::string& path(int i) const { return paths_[i]; }
  void FlipByte(int i, off_t at) {
    int fd = open(paths_[i].c_str(), O_RDWR);
    unsigned char c = 0;
    EXPECT_EQ(pread(fd, &c, 1, at), 1);
    c ^= 0x20;
    EXPECT_EQ(pwrite(fd, &c, 1, at), 1);
    close(fd);
  }

 private:
  std::string dir_;
  std::vector<std::string> paths_;
};

// `depth` random reads and writes in flight on the app thread, each resubmitted as it
// completes, until the bdev is removed (kRemove): then the load stops submitting,
// lets what is in flight finish, and closes.
class Load {
 public:
  Load(std::string name, int depth, uint64_t max_blocks)
      : name_(std::move(name)), depth_(depth), max_blocks_(max_blocks) {}
  ~Load() {
    OnAppSync([this] { Close(); });
  }

  bool Start() {
    bool ok = false;
    OnAppSync([&] {
      auto d = OpenBdev(name_, true, [this](BdevEvent e) {
        if (e != BdevEvent::kRemove) return;
        stop_ = true;
        if (inflight_ == 0) Close();
      });
      if (!d.ok()) return;
      desc_ = std::move(*d);
      ch_ = desc_->GetIoChannel();
      blocks_ = desc_->bdev().num_blocks();
      bs_ = desc_->bdev().block_size();
      tasks_.resize(depth_);
      for (Task& t : tasks_) {
        t.load = this;
        t.buf.resize(max_blocks_ * bs_);
        Submit(t);
      }
      ok = ch_ != nullptr;
    });
    return ok;
  }
  bool WaitForCompletions(uint64_t n) {
    for (int i = 0; i < 1000 && ok_count() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ok_count() >= n;
  }
  bool WaitUntilClosed() {
    for (int i = 0; i < 1000 && !closed_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return closed_.load();
  }
  uint64_t submitted() const { return submitted_.load(); }
  uint64_t completed() const { return completed_.load(); }
  uint64_t ok_count() const { return ok_.load(); }
  uint64_t failed() const { return completed_.load() - ok_.load(); }

 private:
  struct Task {
    Load* load = nullptr;
    std::vector<uint8_t> buf;
  };
  static void Done(void* arg, IoStatus s) {
    Task& t = *static_cast<Task*>(arg);
    Load& l = *t.load;
    --l.inflight_;
    l.completed_.fetch_add(1);
    if (s.ok()) l.ok_.fetch_add(1);
    if (!l.stop_) {
      l.Submit(t);
    } else if (l.inflight_ == 0) {
      l.Close();
    }
  }
  void Submit(Task& t) {
    const uint64_t n = 1 + rng_() % max_blocks_;
    const uint64_t off = rng_() % (blocks_ - n + 1);
    const int rc = rng_() % 2 ? desc_->Read(ch_, t.buf.data(), off, n, Done, &t)
                              : desc_->Write(ch_, t.buf.data(), off, n, Done, &t);
    if (rc == 0) {
      ++inflight_;
      submitted_.fetch_add(1);
    }
    // A refused submit (the bdev is going) ends this task.
  }
  void Close() {
    if (desc_ == nullptr) return;
    if (ch_ != nullptr) ch_->Put();
    ch_ = nullptr;
    desc_.reset();
    closed_.store(true);
  }

  const std::string name_;
  const int depth_;
  const uint64_t max_blocks_;
  std::unique_ptr<BdevDesc> desc_;
  IoChannel* ch_ = nullptr;
  uint64_t blocks_ = 0;
  uint32_t bs_ = 512;
  std::vector<Task> tasks_;
  std::mt19937_64 rng_{42};
  int inflight_ = 0;
  bool stop_ = false;
  std::atomic<uint64_t> submitted_{0}, completed_{0}, ok_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace bdevkit::testing::vbdev

#endif  // BDEVKIT_TESTS_UNIT_MODULES_VBDEV_TEST_HELPERS_H_

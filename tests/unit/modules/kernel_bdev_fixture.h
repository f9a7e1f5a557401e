// The fixture shared by the aio and uring tests: temp files with known contents,
// helpers to read them back and to act as an unprivileged user, and KernelBdevTest
// (create/delete through the modules' RPC methods, checking nothing is left behind).
#ifndef BDEVKIT_TESTS_UNIT_MODULES_KERNEL_BDEV_FIXTURE_H_
#define BDEVKIT_TESTS_UNIT_MODULES_KERNEL_BDEV_FIXTURE_H_

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bdevkit/bdev.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "modules/aio/aio_bdev.h"
#include "modules/uring/uring_bdev.h"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit::kernel_test {

using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::BdevExists;
using testing::CallRpc;
using testing::TestDisk;

constexpr uint32_t kBlock = 512;
constexpr uint64_t kFileBlocks = 2048;  // 1 MiB

inline std::vector<uint8_t> Pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>((seed + i * 7 + i / 512) | 1);
  return v;
}

// Page-aligned memory (free with std::free).
inline void* AlignedBuf(size_t size) {
  return std::aligned_alloc(4096, (size + 4095) / 4096 * 4096);
}

// A scratch directory on the test's filesystem (ext4 here: O_DIRECT works).
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bdevkit-kern-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes `size` bytes of a pattern (whole file written: no sparse reads).
inline std::vector<uint8_t> MakeFile(const std::string& path, size_t size, uint8_t seed = 0) {
  std::vector<uint8_t> data = Pattern(size, seed);
  FILE* f = std::fopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  if (f == nullptr) return data;
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
  return data;
}

// The file's bytes, read past the bdev: checks the data really went there.
inline std::vector<uint8_t> ReadFile(const std::string& path, uint64_t offset, size_t len) {
  std::vector<uint8_t> out(len);
  int fd = open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(pread(fd, out.data(), len, static_cast<off_t>(offset)), static_cast<ssize_t>(len));
  close(fd);
  return out;
}

// Runs `fn` on the app thread with the filesystem identity of "nobody", which drops
// root's file capabilities for that thread only (fsuid is per thread).
template <typename Fn>
void AsNobody(Fn fn) {
  testing::OnAppSync([&] {
    setfsgid(65534);
    setfsuid(65534);
    fn();
    setfsuid(0);
    setfsgid(0);
  });
}

class KernelBdevTest : public ::testing::TestWithParam<std::string> {
 protected:
  virtual std::string kind() const { return GetParam(); }
  std::string create_method() const { return "bdev_" + kind() + "_create"; }

  RpcResult Create(json params) {
    // aio offers write_zeroes/unmap only with fallocate (SPDK's opt-in).
    if (kind() == "aio" && !params.contains("fallocate")) params["fallocate"] = true;
    return CallRpc(create_method(), params);
  }
  absl::Status Delete(const std::string& name) {
    RpcResult r = CallRpc("bdev_" + kind() + "_delete", {{"name", name}});
    return r.status();
  }
  // Create must fail; returns the status, and checks nothing was left behind.
  absl::Status CreateFails(json params) {
    std::vector<std::string> before, after;
    testing::OnAppSync([&] { before = ListBdevs(); });
    RpcResult r = Create(params);
    EXPECT_FALSE(r.ok()) << "accepted " << params.dump();
    testing::OnAppSync([&] { after = ListBdevs(); });
    EXPECT_EQ(before, after);
    return r.ok() ? absl::OkStatus() : r.status();
  }

  void SetUp() override {
    file_ = dir_.path() + "/disk.img";
    data_ = MakeFile(file_, kFileBlocks * kBlock, 3);
  }
  void TearDown() override {
    for (const char* n : {"K0", "K1"}) {
      if (BdevExists(n)) {
        EXPECT_TRUE(Delete(n).ok());
      }
    }
  }

  TempDir dir_;
  std::string file_;
  std::vector<uint8_t> data_;
};

}  // namespace bdevkit::kernel_test

#endif  // BDEVKIT_TESTS_UNIT_MODULES_KERNEL_BDEV_FIXTURE_H_

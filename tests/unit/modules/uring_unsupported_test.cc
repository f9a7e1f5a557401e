// A kernel without io_uring, made real for this process: a seccomp filter, installed
// before anything else runs, answers io_uring_setup with ENOSYS (what a kernel built
// without CONFIG_IO_URING answers). bdev_uring_create must say so clearly and leave
// nothing behind; the aio module must still work.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "modules/uring/uring_bdev.h"
#include "rpc/status_mapping.h"
#include "tests/unit/modules/bdev_io_helpers.h"
#include "tests/unit/modules/test_env.h"

namespace bdevkit {
namespace {

using ::testing::HasSubstr;

bool InstallNoIoUringFilter() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Before main: every thread the runtime starts later inherits the filter.
const bool g_filtered = InstallNoIoUringFilter();
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new testing::BdevLayerEnv());

TEST(UringUnsupported, CreateFailsClearlyAndAioStillWorks) {
  ASSERT_TRUE(g_filtered) << "could not install the seccomp filter";
  EXPECT_THAT(std::string(ProbeIoUring().message()), HasSubstr("this kernel has no io_uring"));

  char path[] = "/tmp/bdevkit-nouring-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string data(64 * 512, 'x');
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);

  RpcResult r = testing::CallRpc("bdev_uring_create", {{"name", "U0"}, {"filename", path}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("this kernel has no io_uring"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("bdev_aio_create"));
  EXPECT_EQ(StatusToJsonRpcError(r.status()).code, -ENOSYS);
  EXPECT_FALSE(testing::BdevExists("U0"));

  // The file was not left "in use", and aio works without io_uring.
  r = testing::CallRpc("bdev_aio_create", {{"name", "A0"}, {"filename", path}});
  ASSERT_TRUE(r.ok()) << r.status();
  {
    testing::TestDisk disk("A0");
    ASSERT_TRUE(disk.ok());
    void* buf = std::aligned_alloc(4096, 4096);
    ASSERT_TRUE(disk.Read(buf, 0, 8).ok());
    EXPECT_EQ(std::memcmp(buf, data.data(), 4096), 0);
    std::free(buf);
  }
  EXPECT_TRUE(testing::CallRpc("bdev_aio_delete", {{"name", "A0"}}).ok());
  unlink(path);
}

}  // namespace
}  // namespace bdevkit

// The socket server through a real Unix socket: file mode, lock, stale socket,
// connection limit, request size limit, Stop. (The runtime comes from the binary's
// global environment, see config_loader_test.cc.)
#include "bdevkit/rpc_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/modules/test_env.h"

namespace bdevkit {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using testing::OnApp;
using testing::OnAppSync;

// A fresh directory per test for the socket; removed (with anything left in it)
// when the test ends.
class TempSocket {
 public:
  TempSocket() {
    char dir[] = "/tmp/bdevkit_rpc_server_test.XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  ~TempSocket() {
    for (const char* suffix : {"", ".lock"}) unlink((path() + suffix).c_str());
    rmdir(dir_.c_str());
  }
  std::string path() const { return dir_ + "/rpc.sock"; }

 private:
  std::string dir_;
};

absl::StatusOr<std::unique_ptr<RpcServer>> StartOnApp(const RpcServerOptions& options) {
  return OnApp<absl::StatusOr<std::unique_ptr<RpcServer>>>(
      [&](std::function<void(absl::StatusOr<std::unique_ptr<RpcServer>>)> done) {
        done(RpcServer::Start(options));
      });
}

void StopOnApp(std::unique_ptr<RpcServer>& server) {
  OnApp<bool>([&](std::function<void(bool)> done) {
    server->Stop([&server, done] {
      server.reset();
      done(true);
    });
  });
}

int Connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until a newline-terminated line arrives, EOF, or 10 s.
std::string ReadLine(int fd, bool* eof = nullptr) {
  std::string out;
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 10000) <= 0) return out;
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      return out;
    }
    if (c == '\n') return out;
    out += c;
  }
}

void SendAll(int fd, const std::string& text) {
  for (size_t sent = 0; sent < text.size();) {
    ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
  }
}

TEST(RpcServerTest, SocketIsOwnerOnlyLockedAndRemovedOnStop) {
  TempSocket tmp;
  RpcServerOptions options;
  options.socket_path = tmp.path();
  auto server = StartOnApp(options);
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st {};
  ASSERT_EQ(stat(options.socket_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((options.socket_path + ".lock").c_str(), &st), 0);

  // A second server on the same path is refused while the first holds the lock.
  auto second = StartOnApp(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(options.socket_path));

  int fd = Connect(options.socket_path);
  ASSERT_GE(fd, 0);
  SendAll(fd, R"({"jsonrpc":"2.0","method":"spdk_get_version","id":1})");
  json reply = json::parse(ReadLine(fd));
  EXPECT_EQ(reply["id"], 1);
  EXPECT_TRUE(reply.contains("result"));
  close(fd);

  StopOnApp(*server);
  EXPECT_NE(stat(options.socket_path.c_str(), &st), 0) << "socket left behind";
  EXPECT_NE(stat((options.socket_path + ".lock").c_str(), &st), 0) << "lock file left behind";
}

TEST(RpcServerTest, ModeOptionStaleSocketReplacedButOtherFilesKept) {
  TempSocket tmp;
  RpcServerOptions options;
  options.socket_path = tmp.path();
  options.socket_mode = 0660;
  // A socket file left behind by a crashed daemon (bound, never unlinked).
  int stale = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", options.socket_path.c_str());
  ASSERT_EQ(bind(stale, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(stale);
  auto server = StartOnApp(options);
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st {};
  ASSERT_EQ(stat(options.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  int fd = Connect(options.socket_path);
  EXPECT_GE(fd, 0) << "the stale socket was not replaced";
  close(fd);
  StopOnApp(*server);

  // A regular file at the path is not ours to delete.
  std::ofstream(options.socket_path) << "precious";
  auto refused = StartOnApp(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("not a socket"));
  EXPECT_EQ(stat(options.socket_path.c_str(), &st), 0);
  unlink(options.socket_path.c_str());
}

TEST(RpcServerTest, ConnectionOverTheLimitGetsAnErrorReply) {
  TempSocket tmp;
  RpcServerOptions options;
  options.socket_path = tmp.path();
  options.max_connections = 2;
  auto server = StartOnApp(options);
  ASSERT_TRUE(server.ok()) << server.status();
  int a = Connect(options.socket_path);
  int b = Connect(options.socket_path);
  // Make sure both were accepted before the third arrives.
  for (int fd : {a, b}) {
    SendAll(fd, R"({"method":"rpc_get_methods","id":0})");
    ASSERT_THAT(ReadLine(fd), HasSubstr("\"result\""));
  }
  int c = Connect(options.socket_path);
  ASSERT_GE(c, 0);
  bool eof = false;
  std::string line = ReadLine(c, &eof);
  json reply = json::parse(line, nullptr, false);
  ASSERT_FALSE(reply.is_discarded()) << line;
  EXPECT_EQ(reply["error"]["code"], -16);
  EXPECT_THAT(line, HasSubstr("too many connections"));
  ReadLine(c, &eof);
  EXPECT_TRUE(eof) << "the refused connection should be closed";
  close(c);
  // The first two still work.
  SendAll(a, R"({"method":"spdk_get_version","id":5})");
  EXPECT_EQ(json::parse(ReadLine(a))["id"], 5);
  close(a);
  close(b);
  StopOnApp(*server);
}

TEST(RpcServerTest, RequestOverTheSizeLimitIsAnsweredAndTheConnectionLives) {
  TempSocket tmp;
  RpcServerOptions options;
  options.socket_path = tmp.path();
  options.max_request_size = 1024;
  auto server = StartOnApp(options);
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = Connect(options.socket_path);
  SendAll(fd, R"({"method":"bdev_get_bdevs","id":1,"params":{"name":")" +
                  std::string(1 << 20, 'n') + "\"}}");
  json reply = json::parse(ReadLine(fd));
  EXPECT_EQ(reply["error"]["code"], -32600);
  SendAll(fd, R"({"method":"spdk_get_version","id":2})");
  EXPECT_EQ(json::parse(ReadLine(fd))["id"], 2);
  close(fd);
  StopOnApp(*server);
}

TEST(RpcServerTest, StopSendsRepliesAlreadyMade) {
  TempSocket tmp;
  RpcServerOptions options;
  options.socket_path = tmp.path();
  auto server = StartOnApp(options);
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = Connect(options.socket_path);
  SendAll(fd, R"({"method":"spdk_get_version","id":9})");
  // Wait for the reply to exist, then stop before reading it.
  pollfd pfd{fd, POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 10000), 1);
  StopOnApp(*server);
  bool eof = false;
  EXPECT_EQ(json::parse(ReadLine(fd, &eof))["id"], 9);
  ReadLine(fd, &eof);
  EXPECT_TRUE(eof);
  close(fd);
}

}  // namespace
}  // namespace bdevkit

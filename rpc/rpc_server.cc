// The Unix-socket transport of the JSON-RPC server: listening socket + lock file,
// non-blocking connections watched with epoll (polled with a zero timeout, never
// waited on), each connection's bytes handed to its RpcSession. Everything runs in
// one poller on the thread that started the server.
#include "bdevkit/rpc_server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/log.h"
#include "bdevkit/runtime.h"
#include "rpc/jsonrpc_session.h"
#include "rpc/status_mapping.h"

namespace bdevkit {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Bytes read from one connection per poll, so one busy client cannot starve others.
constexpr size_t kReadBudget = 1024 * 1024;
// Events taken per poll: more than the usual connection limit, so every departed
// client is seen before new connections are counted against the limit.
constexpr int kMaxEvents = 256;

absl::Status Errno(std::string_view what, const std::string& path, int err) {
  return absl::Status(err == EACCES || err == EPERM ? absl::StatusCode::kPermissionDenied
                                                    : absl::StatusCode::kUnavailable,
                      absl::StrCat(std::string(what), " ", path, ": ", std::strerror(err)));
}

}  // namespace

struct RpcServer::Impl {
  struct Conn {
    int fd = -1;
    std::shared_ptr<RpcSession> session;
    uint32_t events = 0;  // current epoll interest
  };

  RpcServerOptions opts;
  std::string lock_path;
  int listen_fd = -1;
  int lock_fd = -1;
  int epoll_fd = -1;
  std::map<int, Conn> conns;
  Thread* thread = nullptr;
  Poller* poller = nullptr;
  bool stopping = false;
  absl::Time stop_deadline;
  std::function<void()> stop_done;

  ~Impl() {
    if (poller != nullptr) thread->UnregisterPoller(poller);
    for (auto& [fd, conn] : conns) close(fd);
    conns.clear();
    CloseListener();
    if (epoll_fd >= 0) close(epoll_fd);
  }

  // Removes the socket and the lock file (the lock is held until after the unlink,
  // so a new daemon cannot take the path between the two).
  void CloseListener() {
    if (listen_fd >= 0) {
      close(listen_fd);
      listen_fd = -1;
      unlink(opts.socket_path.c_str());
    }
    if (lock_fd >= 0) {
      unlink(lock_path.c_str());
      close(lock_fd);
      lock_fd = -1;
    }
  }

  absl::Status Listen() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (opts.socket_path.empty() || opts.socket_path.size() >= sizeof(addr.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat("socket path \"", opts.socket_path,
                                                     "\" is empty or longer than ",
                                                     sizeof(addr.sun_path) - 1, " bytes"));
    }
    std::memcpy(addr.sun_path, opts.socket_path.c_str(), opts.socket_path.size() + 1);
    lock_path = opts.socket_path + ".lock";
    lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) return Errno("cannot create lock file", lock_path, errno);
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      close(lock_fd);
      lock_fd = -1;  // not ours: leave the file alone
      if (err == EWOULDBLOCK) {
        return absl::AlreadyExistsError(absl::StrCat(
            "another process serves RPC on ", opts.socket_path, " (", lock_path, " is locked)"));
      }
      return Errno("cannot lock", lock_path, err);
    }
    // Holding the lock, any socket file left at the path is stale: replace it, but
    // never delete something that is not a socket.
    struct stat st {};
    if (lstat(opts.socket_path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrCat(opts.socket_path, " exists and is not a socket"));
      }
      unlink(opts.socket_path.c_str());
    }
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) return Errno("cannot create socket for", opts.socket_path, errno);
    // The umask makes bind() create the file with the final mode, so there is no
    // moment where it is more open than asked; chmod then sets it exactly.
    mode_t old_mask = umask(~opts.socket_mode & 0777);
    int rc = bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    int err = errno;
    umask(old_mask);
    if (rc != 0) {
      close(listen_fd);
      listen_fd = -1;
      return Errno("cannot bind", opts.socket_path, err);
    }
    if (chmod(opts.socket_path.c_str(), opts.socket_mode) != 0 || listen(listen_fd, 128) != 0) {
      return Errno("cannot listen on", opts.socket_path, errno);
    }
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) return Errno("epoll for", opts.socket_path, errno);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
      return Errno("epoll for", opts.socket_path, errno);
    }
    return absl::OkStatus();
  }

  void Accept() {
    for (;;) {
      int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          LOG_WARNING("rpc: accept on %s: %s", opts.socket_path, std::strerror(errno));
        }
        return;
      }
      // Clients that left since the last look must not count against the limit.
      if (conns.size() >= opts.max_connections) PollConnections();
      if (conns.size() >= opts.max_connections) {
        // Tell the client why instead of closing silently. The socket buffer of a new
        // connection is empty, so this small write does not block or come up short.
        JsonRpcError e = StatusToJsonRpcError(absl::UnavailableError(absl::StrCat(
            "too many connections (limit ", opts.max_connections, "); try again later")));
        std::string text = JsonRpcErrorText(nullptr, e.code, e.message) + "\n";
        ssize_t n = send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
        close(fd);
        LOG_WARNING("rpc: refused a connection: %zu connections already open", conns.size());
        continue;
      }
      RpcSessionLimits limits;
      limits.max_request_size = opts.max_request_size;
      limits.max_response_size = opts.max_response_size;
      Conn& conn = conns[fd];
      conn.fd = fd;
      conn.session = RpcSession::Create(limits);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        LOG_WARNING("rpc: epoll_ctl: %s", std::strerror(errno));
        Close(fd);
        continue;
      }
      conn.events = EPOLLIN;
      LOG_DEBUG("rpc", "connection %d accepted (%zu open)", fd, conns.size());
    }
  }

  void Close(int fd) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
    LOG_DEBUG("rpc", "connection %d closed (%zu open)", fd, conns.size());
  }

  // Returns false if the connection failed and must be closed.
  bool Read(Conn& conn) {
    char buf[kReadChunk];
    size_t total = 0;
    while (total < kReadBudget && conn.session->WantsInput()) {
      ssize_t n = recv(conn.fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        total += static_cast<size_t>(n);
        conn.session->Feed(std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0) {
        conn.session->FeedEof();
        return true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return true;
      } else {
        return false;
      }
    }
    return true;
  }

  bool Write(Conn& conn) {
    while (!conn.session->output().empty()) {
      const std::string& out = conn.session->output();
      ssize_t n = send(conn.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        conn.session->Consume(static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return true;  // the client is not reading: keep it for later
      } else {
        return false;  // EPIPE, ECONNRESET: the client went away
      }
    }
    return true;
  }

  // Sends pending replies, resumes a paused session, closes finished connections and
  // keeps the epoll interest in step with whether the session wants input.
  bool Service(Conn& conn) {
    if (!Write(conn)) return false;
    if (!stopping && conn.session->WantsInput()) conn.session->Resume();
    if (!Write(conn)) return false;
    if (conn.session->closing() && conn.session->output().empty()) return false;
    uint32_t want = (!stopping && conn.session->WantsInput()) ? uint32_t{EPOLLIN} : 0u;
    if (want != conn.events) {
      epoll_event ev{};
      ev.events = want;
      ev.data.fd = conn.fd;
      epoll_ctl(epoll_fd, EPOLL_CTL_MOD, conn.fd, &ev);
      conn.events = want;
    }
    return true;
  }

  // Reads what connections sent (the listening socket's readiness is returned),
  // sends replies, closes finished connections. Returns whether anything happened.
  bool PollConnections(bool* accept = nullptr) {
    bool busy = false;
    epoll_event events[kMaxEvents];
    int n = epoll_wait(epoll_fd, events, kMaxEvents, 0);  // zero timeout: never waits
    for (int i = 0; i < n; ++i) {
      busy = true;
      int fd = events[i].data.fd;
      if (fd == listen_fd) {
        if (accept != nullptr) *accept = true;
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      if (!Read(it->second)) Close(fd);
    }
    for (auto it = conns.begin(); it != conns.end();) {
      int fd = it->first;
      bool had_output = !it->second.session->output().empty();
      bool keep = Service(it->second);
      ++it;
      busy = busy || had_output;
      if (!keep) Close(fd);
    }
    return busy;
  }

  PollStatus Poll() {
    if (stopping) return PollStopping();
    bool accept = false;
    bool busy = PollConnections(&accept);
    // Last, so connections whose clients already left are closed first.
    if (accept) Accept();
    return busy ? PollStatus::kBusy : PollStatus::kIdle;
  }

  PollStatus PollStopping() {
    for (auto it = conns.begin(); it != conns.end();) {
      int fd = it->first;
      bool keep = Write(it->second) && !it->second.session->output().empty();
      ++it;
      if (!keep) Close(fd);
    }
    if (!conns.empty() && absl::Now() < stop_deadline) return PollStatus::kIdle;
    while (!conns.empty()) Close(conns.begin()->first);
    thread->UnregisterPoller(poller);
    poller = nullptr;
    auto done = std::move(stop_done);
    stop_done = nullptr;
    if (done) done();  // may destroy the server: nothing after this
    return PollStatus::kBusy;
  }
};

RpcServer::RpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RpcServer::~RpcServer() = default;

absl::StatusOr<std::unique_ptr<RpcServer>> RpcServer::Start(const RpcServerOptions& options) {
  Thread* thread = Thread::Current();
  if (thread == nullptr) {
    return absl::FailedPreconditionError("the RPC server must be started on a runtime thread");
  }
  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  if (absl::Status s = impl->Listen(); !s.ok()) return s;  // ~Impl cleans up
  Impl* raw = impl.get();
  impl->thread = thread;
  impl->poller =
      thread->RegisterPoller([raw] { return raw->Poll(); }, options.poll_period, "rpc_server");
  LOG_NOTICE("RPC server listening on %s (mode %04o)", options.socket_path,
             static_cast<unsigned>(options.socket_mode));
  return std::unique_ptr<RpcServer>(new RpcServer(std::move(impl)));
}

void RpcServer::Stop(std::function<void()> done, absl::Duration grace) {
  if (impl_->stopping) {
    LOG_ERROR("rpc: Stop() called twice");
    return;
  }
  impl_->stopping = true;
  impl_->stop_deadline = absl::Now() + grace;
  impl_->stop_done = std::move(done);
  if (impl_->listen_fd >= 0) epoll_ctl(impl_->epoll_fd, EPOLL_CTL_DEL, impl_->listen_fd, nullptr);
  impl_->CloseListener();
}

size_t RpcServer::num_connections() const { return impl_->conns.size(); }

const std::string& RpcServer::socket_path() const { return impl_->opts.socket_path; }

}  // namespace bdevkit

#include "modules/aio/wake_eventfd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "bdevkit/log.h"

namespace bdevkit {

WakeEventFd::WakeEventFd(std::string name) : thread_(Thread::Current()) {
  if (!thread_->MaySleep()) return;
  fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) {
    LOG_ERROR(
        "%s: cannot create an eventfd (%s); the reactor will stay awake while I/O is "
        "outstanding",
        name, std::strerror(errno));
    return;
  }
  const int fd = fd_;
  wake_fd_ = thread_->RegisterWakeFd(
      fd,
      [fd] {
        // One read resets the counter however many completions signalled it; the
        // poller that runs next reaps them all.
        uint64_t count;
        ssize_t rc = read(fd, &count, sizeof(count));
        (void)rc;  // EAGAIN: already drained; nothing else can fail on an eventfd
      },
      std::move(name));
}

WakeEventFd::~WakeEventFd() {
  if (wake_fd_ != nullptr) thread_->UnregisterWakeFd(wake_fd_);
  if (fd_ >= 0) close(fd_);
}

}  // namespace bdevkit

// An eventfd that wakes the channel's reactor when the kernel signals a completion,
// shared by both kernel backends: the uring channel registers it with its ring
// (io_uring_register_eventfd), the aio channel names it in each iocb
// (IOCB_FLAG_RESFD). Only set up where the reactor may sleep.
#ifndef BDEVKIT_MODULES_AIO_WAKE_EVENTFD_H_
#define BDEVKIT_MODULES_AIO_WAKE_EVENTFD_H_

#include <string>

#include "bdevkit/runtime.h"

namespace bdevkit {

class WakeEventFd {
 public:
  // On a thread whose reactor may sleep (Thread::MaySleep), creates a non-blocking
  // eventfd and registers it as the thread's wake fd; its on_ready drains the counter.
  // On a busy-polling reactor it does nothing and fd() is -1: no wake-up is needed,
  // and the kernel is spared an eventfd signal per completion. If the eventfd cannot
  // be made (fd limit), fd() is -1 too and the failure is logged: the owner must then
  // keep its reactor awake while it has I/O outstanding. Runtime thread.
  explicit WakeEventFd(std::string name);
  // Unregisters and closes. The owner first stops the kernel from signalling it
  // (io_uring_unregister_eventfd, or no iocb naming it left in flight). Same thread.
  ~WakeEventFd();
  WakeEventFd(const WakeEventFd&) = delete;
  WakeEventFd& operator=(const WakeEventFd&) = delete;

  int fd() const { return fd_; }

 private:
  Thread* const thread_;
  int fd_ = -1;
  WakeFd* wake_fd_ = nullptr;
};

}  // namespace bdevkit

#endif  // BDEVKIT_MODULES_AIO_WAKE_EVENTFD_H_

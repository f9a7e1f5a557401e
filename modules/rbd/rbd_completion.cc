// Completion hand-off from librbd's threads to the submitting reactor.
#include "modules/rbd/rbd_completion.h"

#include <cerrno>
#include <chrono>
#include <thread>

#include "bdevkit/log.h"

namespace bdevkit::rbd {

bool SendFromForeignThread(Thread& thread, MessageFn fn, void* arg) {
  int rc;
  while ((rc = thread.Send(fn, arg)) == -ENOMEM) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  if (rc != 0) {
    LOG_ERROR("rbd: cannot return a completion to thread %s (%d)", thread.name(), rc);
    return false;
  }
  return true;
}

IoStatus RbdResultToStatus(IoType type, int64_t result, uint64_t length_bytes) {
  if (result < 0) return IoStatus::Error(static_cast<int32_t>(result));
  if (type == IoType::kRead && static_cast<uint64_t>(result) != length_bytes) {
    return IoStatus::Error(-EIO);  // a short read: the image is smaller than the bdev
  }
  return IoStatus::Success();
}

}  // namespace bdevkit::rbd

// How an I/O completed by librbd on one of its own threads gets back to the reactor
// thread that submitted it: the completion callback records librbd's result in the
// BdevIo's driver context and sends the submitting thread a message (the runtime's
// lock-free ring: no lock, no allocation); the message completes the I/O there.
#ifndef BDEVKIT_MODULES_RBD_RBD_COMPLETION_H_
#define BDEVKIT_MODULES_RBD_RBD_COMPLETION_H_

#include <cstdint>

#include "bdevkit/bdev.h"
#include "bdevkit/runtime.h"

namespace bdevkit::rbd {

// Sends fn(arg) to `thread` from a thread outside the runtime (librbd's). A full ring
// is transient (its thread is draining it): waits 50 us and tries again; returns
// false only when the thread has exited (the message is then lost, and logged).
// Any thread; never blocks a reactor (it runs on librbd's threads).
bool SendFromForeignThread(Thread& thread, MessageFn fn, void* arg);

// The status of an I/O from rbd_aio_get_return_value: reads return the bytes read
// (anything but `length_bytes` is an error: -EIO), the others 0; negative = -errno.
IoStatus RbdResultToStatus(IoType type, int64_t result, uint64_t length_bytes);

}  // namespace bdevkit::rbd

#endif  // BDEVKIT_MODULES_RBD_RBD_COMPLETION_H_

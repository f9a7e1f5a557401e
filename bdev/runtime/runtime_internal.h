// Runtime state shared by the files of bdev/runtime. Private to bdev/.
#ifndef BDEVKIT_BDEV_RUNTIME_RUNTIME_INTERNAL_H_
#define BDEVKIT_BDEV_RUNTIME_RUNTIME_INTERNAL_H_

#include <atomic>
#include <vector>

#include "bdevkit/io_channel.h"

namespace bdevkit {

class ThreadImpl;

namespace runtime_internal {

// Set by Runtime::RequestStop(); reactors drain and exit once they see it.
bool StopRequested();

// Every thread of the running runtime, in creation order. Any thread.
std::vector<ThreadImpl*> AllThreads();

// Destroys a channel whose reference count dropped to zero, unless it was taken
// again meanwhile. Called by its thread's Poll().
void DestroyChannelIfUnused(IoChannel* channel);

}  // namespace runtime_internal
}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_RUNTIME_RUNTIME_INTERNAL_H_

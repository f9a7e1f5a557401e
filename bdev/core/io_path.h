// The core's I/O path, shared by its files: submission (io_submit.cc), splitting
// (io_split.cc), bounce buffers (bounce.cc) and reset (reset.cc). Every function runs
// on the thread that owns the BdevIo's channel and never blocks.
#ifndef BDEVKIT_BDEV_CORE_IO_PATH_H_
#define BDEVKIT_BDEV_CORE_IO_PATH_H_

#include <sys/uio.h>

#include <cstdint>

#include "bdev/core/bdev_channel.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"

namespace bdevkit::core {

// Validates and starts an application I/O (the Submit* contract of bdev.h).
int SubmitIo(BdevDesc& desc, IoChannel* ch, IoType type, const iovec* iov, int iovcnt,
             void* contiguous_buf, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
             void* cb_arg);
int SubmitReset(BdevDesc& desc, IoChannel* ch, IoCallback cb, void* cb_arg);

// Starts an accepted top-level I/O: splits it if it must be, else StartLeaf.
void StartIo(BdevIo& io);
// Hands a leaf I/O (not split further) to the backend, bouncing its data first if the
// caller's buffers break the bdev's alignment (it may wait for a bounce buffer).
void StartLeaf(BdevIo& io);
// Calls the backend. Completions reported meanwhile are deferred (in_submit).
void Dispatch(BdevIo& io);
// Reports the end of an I/O the core itself finishes: deferred if it is still inside
// a submit call, else finished now.
void Complete(BdevIo& io, IoStatus status);
// Finishes an I/O outside any submit: bounce copy-out, child/parent bookkeeping,
// stats, callback, return to the pool.
void FinishIo(BdevIo& io, IoStatus status);
// Calls the application back and recycles the BdevIo.
void CompleteToUser(BdevIo& io, IoStatus status);

// Splitting (io_split.cc). ChildLength() is how many blocks from `offset` the next
// piece may cover; a top-level I/O needs splitting when that is less than all of it.
uint64_t ChildLength(const BdevIo& parent, uint64_t offset);
void SplitStart(BdevIo& parent);
void SplitContinue(BdevIo& parent);
void ChildDone(BdevIo& child, IoStatus status);

// Bounce buffers (bounce.cc).
bool IsDataIo(const BdevIo& io);
bool NeedsBounce(const BdevIo& io);
// Points the I/O at `buf` (a free bounce buffer), copying write data in.
void BounceAttach(BdevIo& io, void* buf);
// Copies read data out, restores the caller's iovs and frees the buffer.
void BounceDetach(BdevIo& io, IoStatus status);

// Reset (reset.cc): a reset BdevIo finished by the backend or by the drain wait.
void ResetIoFinished(BdevIo& io, IoStatus status);

}  // namespace bdevkit::core

#endif  // BDEVKIT_BDEV_CORE_IO_PATH_H_

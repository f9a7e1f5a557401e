// The API for writing a bdev module (a backend): subclass Bdev and implement its
// operation table, complete each BdevIo exactly once, register the module and its
// bdevs. Applications only need bdevkit/bdev.h.
#ifndef BDEVKIT_MODULE_H_
#define BDEVKIT_MODULE_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/bdev.h"
#include "bdevkit/io_channel.h"
#include "nlohmann/json_fwd.hpp"

namespace bdevkit {

class BdevChannel;
struct ForwardPath;

// Scratch space each BdevIo carries for the module that executes it, so modules need
// no per-I/O allocation of their own.
inline constexpr size_t kBdevIoDriverCtxSize = 192;
// iovecs a BdevIo holds inline (used by splitting and bounce buffers).
inline constexpr int kBdevIoInlineIovs = 16;

// One I/O request as a module sees it. Taken from a per-thread cache by the core.
// The request fields are set by the core and must be treated as read-only.
struct BdevIo {
  // ---- Request ----------------------------------------------------------------------
  IoType type = IoType::kRead;
  Bdev* bdev = nullptr;
  uint64_t offset_blocks = 0;
  uint64_t num_blocks = 0;
  // Data of a read or write: block_size * num_blocks bytes in total, each element
  // aligned to the bdev's required_alignment (the core bounces when the caller's
  // buffers are not).
  iovec* iovs = nullptr;
  int iovcnt = 0;

  uint64_t length_bytes() const { return num_blocks * bdev_block_size; }

  // The module's per-I/O scratch space. T must fit and be trivially destructible
  // (the core never runs destructors on it).
  template <typename T>
  T& driver_ctx() {
    static_assert(sizeof(T) <= kBdevIoDriverCtxSize, "driver context too large");
    static_assert(alignof(T) <= 16, "driver context over-aligned");
    static_assert(std::is_trivially_destructible_v<T>, "driver context needs a destructor");
    return *reinterpret_cast<T*>(driver_ctx_storage);
  }

  // ---- Core bookkeeping: modules do not touch these ---------------------------------
  uint32_t bdev_block_size = 0;
  BdevChannel* channel = nullptr;  // the core's channel it was submitted on
  IoCallback cb = nullptr;
  void* cb_arg = nullptr;
  uint64_t submit_ticks = 0;
  IoStatus status;
  bool in_submit = false;  // completion while set is deferred (no recursion)
  bool bounced = false;
  BdevIo* next = nullptr;  // free list / queues
  // Splitting: a parent tracks its children.
  BdevIo* parent = nullptr;
  uint64_t split_next_block = 0;   // parent: first block not yet handed to a child
  uint32_t split_outstanding = 0;  // parent: children in flight
  // The caller's data description, kept when splitting or bouncing replaced iovs.
  const iovec* orig_iovs = nullptr;
  int orig_iovcnt = 0;
  void* bounce_buf = nullptr;
  uint32_t bounce_size_class = 0;
  iovec inline_iovs[kBdevIoInlineIovs];

  alignas(16) unsigned char driver_ctx_storage[kBdevIoDriverCtxSize];
};

// Completes an I/O. Must be called exactly once per submitted BdevIo, on the thread it
// was submitted on (a module whose completions arrive elsewhere sends a message back
// first). The BdevIo must not be touched afterwards. Never blocks.
void CompleteIo(BdevIo& io, IoStatus status);

// A backend module. Register one instance per module before the bdev layer starts.
class BdevModule {
 public:
  explicit BdevModule(std::string name) : name_(std::move(name)) {}
  BdevModule(const BdevModule&) = delete;
  BdevModule& operator=(const BdevModule&) = delete;
  virtual ~BdevModule() = default;

  const std::string& name() const { return name_; }

  // App thread, at bdev layer start, in registration order. An error stops start-up.
  virtual absl::Status Init() { return absl::OkStatus(); }
  // App thread, at bdev layer stop, in reverse order, after every bdev is gone.
  virtual void Fini() {}
  // Offered each newly registered bdev (app thread), so virtual modules can assemble
  // themselves on it. Must call ExamineDone(bdev, *this) exactly once, now or later.
  virtual void Examine(Bdev& bdev);
  // Module-wide options for save_config, written before any bdev's config.
  virtual void WriteConfigJson(nlohmann::json& config) const;

 private:
  const std::string name_;
};

// Adds a module. Before StartBdevLayer(); any thread. Modules listed in the build's
// module list are registered by RegisterBuiltinModules().
void RegisterModule(std::unique_ptr<BdevModule> module);
// The registered module of that name, or nullptr. Any thread.
BdevModule* FindModule(std::string_view name);
// Every registered module, in registration order (the order save_config writes their
// options in). Modules are never removed, so the pointers stay valid. Any thread.
std::vector<BdevModule*> ListModules();

// Tells the core a module finished examining `bdev`. App thread.
void ExamineDone(Bdev& bdev, BdevModule& module);

// Makes a bdev visible. Fails with kAlreadyExists (name, alias or UUID taken) or
// kInvalidArgument (block size not a multiple of 512, zero blocks, empty name, bad
// alignment...). On failure the bdev is destroyed and nothing is registered.
// App thread; never blocks.
absl::Status RegisterBdev(std::unique_ptr<Bdev> bdev);

// Starts removing a bdev: open descriptors get kRemove, new opens and new I/O fail,
// and once every descriptor is closed and every channel released the bdev is
// destructed and `done` runs (on the calling thread) with OK, or with kNotFound if
// no such bdev. App thread; never blocks.
void UnregisterBdev(std::string_view name, std::function<void(absl::Status)> done);

// What a module's delete method does: finds `name` (name, alias or UUID), checks the
// bdev belongs to `module` (kNotFound naming the owner otherwise, so one module cannot
// delete another's bdev) and unregisters it. App thread; never blocks.
void UnregisterModuleBdev(std::string_view name, const BdevModule& module,
                          std::function<void(absl::Status)> done);

// Makes a bdev's UUID text from 16 random bytes (RFC 4122 version 4). Any thread.
std::string GenerateUuid();
// Validates and lower-cases a UUID given by a user. Any thread.
absl::StatusOr<std::string> ParseUuid(std::string_view text);
// A create method's "uuid" parameter: the user's UUID validated (kInvalidArgument
// naming the parameter), or a fresh one when empty — fixed at creation so save_config
// writes it and a reloaded config recreates the same UUID. Any thread.
absl::StatusOr<std::string> UuidParamOrGenerate(std::string_view user_uuid);

// ---- Virtual bdevs (split, raid, ...): passing I/O on to a base ----------------------

// A virtual bdev's channel to one of its bases on one thread: the base descriptor's
// channel, plus what passing I/O to that base needs, looked up once by Open instead of
// on every I/O (the base's per-thread state, its block size, which I/O types it takes
// from this descriptor, whether it has splitting or alignment rules at all). A base's
// properties are fixed while it is registered and its supported I/O types are asked
// once here, as the layer does for any bdev a module wraps. Made in the virtual bdev's
// CreateChannelContext and kept in its channel context; used and closed on that
// channel's thread only. Movable (it lives in vectors), not copyable.
class BaseChannel {
 public:
  BaseChannel() = default;
  BaseChannel(BaseChannel&& other) noexcept { *this = std::move(other); }
  BaseChannel& operator=(BaseChannel&& other) noexcept;
  BaseChannel(const BaseChannel&) = delete;
  BaseChannel& operator=(const BaseChannel&) = delete;
  ~BaseChannel() { Close(); }

  // Gets `base`'s channel on the calling thread. Returns false, holding nothing, if
  // the base is going away. `base` must stay open until Close(). Runtime thread.
  bool Open(BdevDesc& base);
  // Puts the channel, if one is held (the virtual bdev's OnChannelDestroy; else the
  // destructor). Its thread.
  void Close();

  bool is_open() const { return ch_ != nullptr; }
  BdevDesc& desc() const { return *desc_; }
  // The base descriptor's channel, for its submit functions and QueueIoWait.
  IoChannel* channel() const { return ch_; }

 private:
  friend struct ForwardPath;  // the per-I/O side (forward.cc)
  BdevDesc* desc_ = nullptr;
  IoChannel* ch_ = nullptr;
  // Looked up by Open, read by ForwardIo.
  Bdev* bdev_ = nullptr;
  BdevInternal* internal_ = nullptr;  // removal flag and current size
  BdevChannel* bdev_ch_ = nullptr;    // the base's state on this thread (reset freeze, QoS)
  IoChannel* backend_ch_ = nullptr;   // the base's backend channel on this thread
  uint32_t block_size_ = 0;
  uint32_t forward_types_ = 0;  // a bit per IoType the base takes from this descriptor
  // Of those, the ones taken with no per-I/O look at the base's rules: all of them for
  // a base that never splits or bounces, else none.
  uint32_t plain_types_ = 0;
};

// `io` is an I/O the virtual bdev was given in SubmitIo, and [base_offset_blocks,
// + io.num_blocks) where it lands on the base behind `base`.

// The cheap path: hands `io` itself to the base's backend, so a stack of virtual bdevs
// costs one BdevIo and one trip through the layer rather than one per level. Returns
// true when forwarded: the base's backend completes `io` (CompleteIo), which completes
// the virtual bdev's I/O; io.offset_blocks now holds the base offset, and the base's
// backend uses io's driver context. Returns false, leaving `io` untouched, when the
// base cannot take it as it is: being removed, frozen by a reset, rate-limited (QoS),
// another block size, out of the base's range, a type the base does not support or
// this descriptor may not write, or the base would have to split or bounce it.
// Forwarded I/O is counted in the virtual bdev's iostat, not the base's.
// io's thread; never blocks; allocates nothing.
bool ForwardIo(BaseChannel& base, BdevIo& io, uint64_t base_offset_blocks);

// ForwardIo, or else a new I/O of the same type and data submitted through the base's
// descriptor (waiting for a BdevIo after -ENOMEM) whose completion completes `io`; a
// submit error completes `io` with that error. Either way `io` is completed exactly
// once. Uses io's driver context. io's thread; never blocks.
void PassIoToBase(BaseChannel& base, BdevIo& io, uint64_t base_offset_blocks);

}  // namespace bdevkit

#endif  // BDEVKIT_MODULE_H_

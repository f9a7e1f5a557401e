// The block-device API for applications: find a bdev, open a descriptor, get a
// per-thread channel, submit I/O and get a completion callback on the same thread.
//
// Submission contract (every Submit* below): 0 -> the callback will always run;
// an error -> it will not. In detail:
//   returns 0        -> the callback WILL be called exactly once, on this thread,
//                       never before the submit call has returned.
//   returns -ENOMEM  -> no BdevIo was free on this thread; the callback will NOT be
//                       called. Wait for one with QueueIoWait() and submit again.
//   returns -EINVAL  -> bad arguments (out of range, not writable, type unsupported);
//                       the callback will NOT be called.
//   returns -ENODEV  -> the bdev is being removed; the callback will NOT be called.
//   returns -EAGAIN  -> a reset is freezing the bdev; the callback will NOT be called.
// Thread: the submit runs on the thread that owns `ch` (the one that got it from
// GetIoChannel), and the callback runs there too. Never blocks.
// Submission is on the I/O path: it allocates nothing and takes no locks.
#ifndef BDEVKIT_BDEV_H_
#define BDEVKIT_BDEV_H_

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/io_channel.h"
#include "bdevkit/runtime.h"
#include "nlohmann/json_fwd.hpp"

namespace bdevkit {

enum class IoType : uint8_t {
  kRead,
  kWrite,
  kWriteZeroes,
  kUnmap,
  kFlush,
  kReset,
};
inline constexpr int kNumIoTypes = 6;
// "read", "write", "write_zeroes", "unmap", "flush", "reset" (SPDK's names). Any thread.
std::string_view IoTypeName(IoType type);

// The outcome of one I/O: 0 or a negative errno, plus the NVMe status when a device
// reported one (sct/sc stay 0 otherwise). Small, copied by value.
struct IoStatus {
  int32_t error = 0;  // 0 = success, else -EIO, -ECANCELED, -ENODEV, ...
  uint8_t nvme_sct = 0;
  uint8_t nvme_sc = 0;
  bool ok() const { return error == 0; }
  static IoStatus Success() { return {}; }
  static IoStatus Error(int negative_errno) { return {negative_errno, 0, 0}; }
};

// Completion callback: plain function + argument, so submitting allocates nothing.
using IoCallback = void (*)(void* cb_arg, IoStatus status);

// Per-bdev counters, as bdev_get_iostat reports them.
struct IoStats {
  uint64_t bytes_read = 0, num_read_ops = 0;
  uint64_t bytes_written = 0, num_write_ops = 0;
  uint64_t bytes_unmapped = 0, num_unmap_ops = 0;
  uint64_t num_write_zeroes_ops = 0, bytes_write_zeroed = 0;
  uint64_t num_flush_ops = 0, num_reset_ops = 0;
  uint64_t read_latency_ticks = 0, max_read_latency_ticks = 0, min_read_latency_ticks = 0;
  uint64_t write_latency_ticks = 0, max_write_latency_ticks = 0, min_write_latency_ticks = 0;
  uint64_t unmap_latency_ticks = 0, max_unmap_latency_ticks = 0, min_unmap_latency_ticks = 0;
  uint64_t num_errors = 0;
  std::array<uint64_t, kNumIoTypes> errors_by_type{};

  // Adds `other` in (sums, maxima, minima ignoring zero).
  void Merge(const IoStats& other);
};

// Static description of a bdev. Modules fill it in when they create one.
struct BdevProperties {
  std::string name;
  std::vector<std::string> aliases;
  std::string uuid;  // canonical text form; empty = the core generates one
  std::string product_name;
  uint32_t block_size = 512;
  uint64_t num_blocks = 0;
  uint32_t write_unit_size = 1;      // blocks a write must be a multiple of
  uint32_t required_alignment = 0;   // buffer alignment in bytes (0 or a power of 2)
  uint32_t optimal_io_boundary = 0;  // blocks; 0 = none
  bool split_on_optimal_io_boundary = false;
  uint32_t max_transfer_blocks = 0;      // 0 = unlimited
  uint32_t max_unmap_blocks = 0;         // 0 = unlimited
  uint32_t max_write_zeroes_blocks = 0;  // 0 = unlimited
};

enum class ClaimType { kNone, kExclusiveWrite };

enum class BdevEvent { kRemove, kResize };
// Runs on the thread that opened the descriptor.
using BdevEventCallback = std::function<void(BdevEvent event)>;

struct BdevIo;
class BdevModule;
struct BdevInternal;  // the core's per-bdev state (descriptors, claim, channels)

// A block device. Applications read its properties; modules subclass it and
// implement the protected operation table (see bdevkit/module.h).
class Bdev {
 public:
  Bdev(const Bdev&) = delete;
  Bdev& operator=(const Bdev&) = delete;
  virtual ~Bdev();

  const std::string& name() const { return props_.name; }
  const std::vector<std::string>& aliases() const { return props_.aliases; }
  const std::string& uuid() const { return props_.uuid; }
  const std::string& product_name() const { return props_.product_name; }
  uint32_t block_size() const { return props_.block_size; }
  uint64_t num_blocks() const { return props_.num_blocks; }
  const BdevProperties& properties() const { return props_; }
  BdevModule& module() const { return *module_; }

  // Whether the backend handles `type`. Any thread; never blocks.
  virtual bool IoTypeSupported(IoType type) const = 0;

  // Claim state, as bdev_get_bdevs shows it. Any thread.
  ClaimType claim_type() const;
  std::string claim_module() const;

  BdevInternal& internal() const { return *internal_; }

  // For the control plane (bdev_get_bdevs, save_config); they call the protected
  // DumpInfoJson / WriteConfigJson hooks below. App thread; never block.
  // The module's "driver_specific" object ({} when the module adds nothing).
  nlohmann::json DriverSpecificJson() const;
  // Appends the {"method", "params"} calls that recreate this bdev to `config`.
  void AppendConfigJson(nlohmann::json& config) const;

 protected:
  // Modules construct with the properties filled in, then call RegisterBdev().
  Bdev(BdevModule* module, BdevProperties props);

  // ---- The operation table, implemented by modules --------------------------------
  // Submits `io` on the backend channel `ch` (the one GetBackendChannel() returned on
  // this thread). Must complete it exactly once with CompleteIo(), possibly before
  // returning. The hot path: one virtual call per I/O.
  virtual void SubmitIo(IoChannel& ch, BdevIo& io) = 0;
  // This thread's backend channel (a reference the core Put()s when done).
  virtual IoChannel* GetBackendChannel() = 0;
  // Releases the backend's resources after the bdev is unregistered; runs on the app
  // thread; `done` may be called later (async teardown). Default: done() at once.
  virtual void Destruct(std::function<void()> done) { done(); }
  // Fills the module-specific object of bdev_get_bdevs ("driver_specific"), e.g.
  // {"aio": {...}}. Default: leaves it empty. Control plane.
  virtual void DumpInfoJson(nlohmann::json& driver_specific) const;
  // Appends the {"method": ..., "params": ...} calls that recreate this bdev to
  // `config` (a JSON array), for save_config. Default: nothing. Control plane.
  virtual void WriteConfigJson(nlohmann::json& config) const;

  // Changes num_blocks and tells every open descriptor (kResize). App thread.
  void NotifyResize(uint64_t new_num_blocks);

 private:
  friend class BdevRegistry;
  friend class BdevChannel;
  friend class BdevIoSubmitter;
  BdevModule* const module_;
  BdevProperties props_;
  std::unique_ptr<BdevInternal> internal_;
};

class BdevDesc;
class IoAwaitable;  // bdevkit/co.h

// Finds a bdev by name, alias or UUID. The pointer is only safe to use while the
// caller holds a descriptor open on it, or on the app thread. Any thread.
Bdev* FindBdev(std::string_view name_alias_or_uuid);

// Names of all registered bdevs, in registration order. Any thread.
std::vector<std::string> ListBdevs();

// Opens a descriptor. `event_cb` is told about removal (then close the descriptor
// soon) and resize. Fails with kNotFound (unknown name), kPermissionDenied (writable
// open of a bdev claimed by someone else) or kUnavailable (being removed).
// Runtime thread; never blocks.
absl::StatusOr<std::unique_ptr<BdevDesc>> OpenBdev(std::string_view name, bool writable,
                                                   BdevEventCallback event_cb = nullptr);

// Waits for BdevIo to free up on this thread after a submit returned -ENOMEM.
struct IoWaitEntry {
  void (*cb)(void* arg) = nullptr;  // called once, on this thread, when one frees
  void* cb_arg = nullptr;
  IoWaitEntry* next = nullptr;  // owned by the core while queued
};

// An open handle on a bdev. Close it (destroy it) on the thread that opened it.
class BdevDesc {
 public:
  BdevDesc(const BdevDesc&) = delete;
  BdevDesc& operator=(const BdevDesc&) = delete;
  ~BdevDesc();  // closes; owning thread; never blocks. Release channels first.

  Bdev& bdev() const { return *bdev_; }
  bool writable() const { return writable_; }

  // This thread's channel for the bdev (reference counted: Put() it when done).
  // nullptr if the bdev is going away. Runtime thread; never blocks.
  IoChannel* GetIoChannel();

  // Claims the bdev for a module (virtual bdevs claim their bases): no one else can
  // then open it for writing. The descriptor must be writable. Owning thread.
  absl::Status Claim(ClaimType type, std::string_view module_name);

  // I/O. Offsets and lengths in blocks. ch's thread; never blocks; see the submission
  // contract at the top (0 -> the callback will always run; error -> it will not).
  int Read(IoChannel* ch, void* buf, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
           void* cb_arg);
  int Readv(IoChannel* ch, const iovec* iov, int iovcnt, uint64_t offset_blocks,
            uint64_t num_blocks, IoCallback cb, void* cb_arg);
  int Write(IoChannel* ch, const void* buf, uint64_t offset_blocks, uint64_t num_blocks,
            IoCallback cb, void* cb_arg);
  int Writev(IoChannel* ch, const iovec* iov, int iovcnt, uint64_t offset_blocks,
             uint64_t num_blocks, IoCallback cb, void* cb_arg);
  int WriteZeroes(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
                  void* cb_arg);
  int Unmap(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
            void* cb_arg);
  int Flush(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks, IoCallback cb,
            void* cb_arg);
  // Quiesces the bdev on every thread, fails I/O queued in the layer with -ECANCELED,
  // lets the backend reset, then resumes. New I/O during a reset fails with -EAGAIN.
  int Reset(IoChannel* ch, IoCallback cb, void* cb_arg);

  // Coroutine forms (include bdevkit/co.h, which defines IoAwaitable): the same I/O,
  // awaited in a coroutine: `IoStatus s = co_await desc->Read(ch, buf, offset, n);`.
  // The coroutine resumes on this thread with the completion's status; a submit error
  // is the result at once, except -ENOMEM, which is waited out (QueueIoWait). Nothing
  // is allocated: the awaitable lives in the coroutine's frame.
  IoAwaitable Read(IoChannel* ch, void* buf, uint64_t offset_blocks, uint64_t num_blocks);
  IoAwaitable Readv(IoChannel* ch, const iovec* iov, int iovcnt, uint64_t offset_blocks,
                    uint64_t num_blocks);
  IoAwaitable Write(IoChannel* ch, const void* buf, uint64_t offset_blocks, uint64_t num_blocks);
  IoAwaitable Writev(IoChannel* ch, const iovec* iov, int iovcnt, uint64_t offset_blocks,
                     uint64_t num_blocks);
  IoAwaitable WriteZeroes(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks);
  IoAwaitable Unmap(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks);
  IoAwaitable Flush(IoChannel* ch, uint64_t offset_blocks, uint64_t num_blocks);
  IoAwaitable Reset(IoChannel* ch);

  // After -ENOMEM: `entry->cb` runs once a BdevIo frees on ch's thread (call it there). The entry
  // must stay alive until then. Returns -EINVAL if BdevIo are in fact available.
  int QueueIoWait(IoChannel* ch, IoWaitEntry* entry);

 private:
  friend class BdevRegistry;
  BdevDesc(Bdev* bdev, bool writable, BdevEventCallback event_cb, Thread* thread)
      : bdev_(bdev), writable_(writable), event_cb_(std::move(event_cb)), thread_(thread) {}

  Bdev* const bdev_;
  const bool writable_;
  BdevEventCallback event_cb_;
  Thread* const thread_;
  bool closed_ = false;
};

// Registers the modules compiled into this build (the module list). Idempotent.
// Any thread, before StartBdevLayer (App::Start calls it).
void RegisterBuiltinModules();

// Starts/stops the bdev layer: Start inits every module (then examine runs for new
// bdevs); Stop unregisters every bdev (bdevs nobody claims first, so virtual bdevs
// go before their bases) and finis the modules. App thread; never block; `done` runs
// on the app thread.
void StartBdevLayer(std::function<void(absl::Status)> done);
void StopBdevLayer(std::function<void()> done);

// Options of the bdev layer (SPDK's bdev_set_options). They are read when the layer
// starts, so they are set before StartBdevLayer (a config's start-up entries).
struct BdevLayerOptions {
  // BdevIo in each thread's fixed pool; a submit beyond it gets -ENOMEM. (SPDK shares
  // one pool among threads; bdevkit has none — bdev_set_options divides SPDK's
  // bdev_io_pool_size among the reactors.) At least 2 x the split-child reserve (128).
  uint32_t bdev_io_per_thread = 4096;
  // SPDK's per-thread cache in front of its shared pool. bdevkit's pools are already
  // per thread, so this is only validated and written back by save_config.
  uint32_t bdev_io_cache_size = 256;
  // New bdevs are offered to every module's Examine. When false, only bdevs named by
  // ExamineBdev (bdev_examine) are, as in SPDK.
  bool auto_examine = true;
};

// kFailedPrecondition while the layer runs (between StartBdevLayer and the end of
// StopBdevLayer), kInvalidArgument naming the bad field. App thread.
absl::Status SetBdevLayerOptions(const BdevLayerOptions& options);
BdevLayerOptions GetBdevLayerOptions();

// Allows examine of the bdev with this name (or alias) when auto_examine is off, and
// examines it now if it exists and has not been examined (bdev_examine). With
// auto_examine on, every bdev is examined anyway. kNotFound when no bdev has that name
// yet (it is still allowed: it will be examined when it registers). App thread.
absl::Status ExamineBdev(std::string_view name);

// Runs `done` once no module is still examining a bdev (bdev_wait_for_examine): at
// once if none is, else from the ExamineDone() call that finishes the last one.
// App thread; never blocks.
void WaitForExamine(std::function<void()> done);

// Collects the bdev's counters from every channel; `done` runs on the calling thread.
// Runtime thread; never blocks.
void GetIoStats(Bdev& bdev, std::function<void(const IoStats&)> done);

// What bdev_get_iostat's reset_mode resets right after reading (SPDK's names: "none",
// "all", "maxmin" = only the max/min latencies, "error" = only the error counters).
enum class IoStatsReset { kNone, kAll, kMaxMin, kError };

// As GetIoStats, then resets the counters as asked. Each channel is read and reset
// in the same step on its own thread, so no completion is lost between the two.
// Runtime thread; never blocks.
void GetIoStats(Bdev& bdev, IoStatsReset reset, std::function<void(const IoStats&)> done);

// One channel's counters (bdev_get_iostat per_channel).
struct ChannelIoStats {
  uint32_t thread_id = 0;
  std::string thread_name;
  IoStats stats;
};

// The counters of each live channel of the bdev (channels already destroyed are not
// listed), read and reset as asked on their own threads; `done` runs on the calling
// thread. Runtime thread; never blocks.
void GetChannelIoStats(Bdev& bdev, IoStatsReset reset,
                       std::function<void(std::vector<ChannelIoStats>)> done);

// One thread's BdevIo pool (bdev_get_io_pools): its size and how many BdevIo are taken
// (by I/O not yet completed, split parents and children included). A thread has a
// pool while it holds a channel of any bdev. Once every I/O has completed, in_use is 0
// on every thread: what the fault tests check for leaked BdevIo.
struct BdevIoPoolLevel {
  uint32_t thread_id = 0;
  std::string thread_name;
  uint32_t pool_size = 0;
  uint32_t in_use = 0;
};

// The pools of every thread that has one; `done` runs on the calling thread.
// Runtime thread; never blocks.
void GetBdevIoPoolLevels(std::function<void(std::vector<BdevIoPoolLevel>)> done);

// BdevIo that were still taken when their thread's pool was destroyed (each one a
// leak; also logged), summed since the process started. Any thread.
uint64_t BdevIoLeakedAtPoolDestroy();

// ---- Rate limits (QoS) -----------------------------------------------------------
// A bdev's rate limits, as bdev_set_qos_limit sets them; 0 = not limited. MB/s are
// MiB/s (1,048,576 bytes), as in SPDK. Reads and writes count (reads also against
// r_mbytes_per_sec, writes against w_mbytes_per_sec); other I/O types are not
// limited. A limit is for the whole bdev: the channels of all threads share it, each
// I/O stays on its own thread, and an I/O the core splits counts once, as submitted.
// I/O over the limit waits in its channel (submit still returns 0), in order.
struct QosLimits {
  uint64_t rw_ios_per_sec = 0;
  uint64_t rw_mbytes_per_sec = 0;
  uint64_t r_mbytes_per_sec = 0;
  uint64_t w_mbytes_per_sec = 0;
  bool any() const {
    return rw_ios_per_sec != 0 || rw_mbytes_per_sec != 0 || r_mbytes_per_sec != 0 ||
           w_mbytes_per_sec != 0;
  }
  bool operator==(const QosLimits&) const = default;
};

// The largest limit accepted (2^40 I/O or MiB per second).
inline constexpr uint64_t kMaxQosLimit = uint64_t{1} << 40;

// A change of limits: the ones given are set (0 removes that limit), the others keep
// their current value.
struct QosLimitsUpdate {
  std::optional<uint64_t> rw_ios_per_sec;
  std::optional<uint64_t> rw_mbytes_per_sec;
  std::optional<uint64_t> r_mbytes_per_sec;
  std::optional<uint64_t> w_mbytes_per_sec;
};

// The bdev's current limits. Any thread.
QosLimits GetQosLimits(const Bdev& bdev);

// Changes a bdev's limits while I/O runs: `done(OK)` runs once every thread's channel
// applies them (I/O waiting for a limit that was lifted starts then). Fails, changing
// nothing, with kNotFound (no such bdev, or being removed) or kInvalidArgument (no
// limit given, or one above kMaxQosLimit; the message names it). App thread; never
// blocks; `done` runs on the app thread.
void SetQosLimits(std::string_view name, const QosLimitsUpdate& update,
                  std::function<void(absl::Status)> done);

}  // namespace bdevkit

#endif  // BDEVKIT_BDEV_H_

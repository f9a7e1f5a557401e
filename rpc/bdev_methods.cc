// The core's bdev methods: bdev_get_bdevs, bdev_get_iostat, bdev_examine,
// bdev_wait_for_examine, and the bdev subsystem's save_config section.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "bdevkit/runtime.h"
#include "nlohmann/json.hpp"
#include "rpc/core_methods.h"

namespace bdevkit {
namespace {

using json = nlohmann::json;

// How often bdev_get_bdevs looks for a bdev it was told to wait for.
constexpr absl::Duration kBdevWaitPoll = absl::Milliseconds(10);

absl::Status NoSuchBdev(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("no bdev named \"", std::string(name), "\""));
}

RpcJson BdevObject(const Bdev& bdev) {
  const BdevProperties& p = bdev.properties();
  const uint64_t write_unit_bytes = uint64_t{p.write_unit_size} * p.block_size;
  RpcJson supported = RpcJson::object();
  auto io = [&](IoType type) { return bdev.IoTypeSupported(type); };
  supported["read"] = io(IoType::kRead);
  supported["write"] = io(IoType::kWrite);
  supported["unmap"] = io(IoType::kUnmap);
  supported["flush"] = io(IoType::kFlush);
  supported["reset"] = io(IoType::kReset);
  supported["write_zeroes"] = io(IoType::kWriteZeroes);
  // SPDK's other I/O types; bdevkit has none of them yet.
  for (const char* name :
       {"nvme_admin", "nvme_io", "nvme_io_md", "zcopy", "get_zone_info", "zone_management",
        "zone_append", "compare", "compare_and_write", "abort", "seek_hole", "seek_data", "copy",
        "nvme_iov_md", "nvme_nssr", "write_uncorrectable"}) {
    supported[name] = false;
  }
  RpcJson obj = {
      {"name", bdev.name()},
      {"aliases", bdev.aliases()},
      {"product_name", bdev.product_name()},
      {"block_size", p.block_size},
      {"num_blocks", bdev.num_blocks()},
      {"preferred_write_alignment", write_unit_bytes},
      {"preferred_write_granularity", write_unit_bytes},
      {"optimal_write_size", p.optimal_io_boundary != 0
                                 ? uint64_t{p.optimal_io_boundary} * p.block_size
                                 : write_unit_bytes},
      {"preferred_unmap_alignment", p.block_size},
      {"preferred_unmap_granularity", p.block_size},
      {"uuid", bdev.uuid()},
      {"assigned_rate_limits", QosLimitsJson(bdev)},
      {"claimed", bdev.claim_type() != ClaimType::kNone},
      {"zoned", false},
      {"supported_io_types", std::move(supported)},
      {"driver_specific", bdev.DriverSpecificJson()},
  };
  if (bdev.claim_type() == ClaimType::kExclusiveWrite) obj["claim_type"] = "exclusive_write";
  return obj;
}

void GetBdevs(const json& params, RpcDone done) {
  if (!HasParam(params, "name")) {
    RpcJson out = RpcJson::array();
    for (const std::string& name : ListBdevs()) {
      if (Bdev* b = FindBdev(name)) out.push_back(BdevObject(*b));
    }
    return done(std::move(out));
  }
  std::string name = ParamString(params, "name");
  if (Bdev* b = FindBdev(name)) return done(RpcJson::array({BdevObject(*b)}));
  const uint64_t timeout_ms = ParamUint(params, "timeout");
  if (timeout_ms == 0) return done(NoSuchBdev(name));
  // Wait for the bdev to appear (e.g. a split that assembles by examine), polling on
  // this thread; the poller removes itself.
  struct Wait {
    Poller* poller = nullptr;
    absl::Time deadline;
  };
  auto wait = std::make_shared<Wait>();
  wait->deadline = absl::Now() + absl::Milliseconds(static_cast<int64_t>(timeout_ms));
  Thread* thread = Thread::Current();
  wait->poller = thread->RegisterPoller(
      [wait, thread, name, timeout_ms, done = std::move(done)] {
        Bdev* b = FindBdev(name);
        if (b == nullptr && absl::Now() < wait->deadline) return PollStatus::kIdle;
        thread->UnregisterPoller(wait->poller);
        if (b != nullptr) {
          done(RpcJson::array({BdevObject(*b)}));
        } else {
          done(absl::DeadlineExceededError(
              absl::StrCat("bdev \"", name, "\" did not appear within ", timeout_ms, " ms")));
        }
        return PollStatus::kBusy;
      },
      kBdevWaitPoll, "bdev_get_bdevs_wait");
}

RpcJson StatsFields(const IoStats& s) {
  RpcJson io_error = RpcJson::object();
  for (int i = 0; i < kNumIoTypes; ++i) {
    if (s.errors_by_type[i] != 0) {
      io_error[std::string(IoTypeName(static_cast<IoType>(i)))] = s.errors_by_type[i];
    }
  }
  return {
      {"bytes_read", s.bytes_read},
      {"num_read_ops", s.num_read_ops},
      {"bytes_written", s.bytes_written},
      {"num_write_ops", s.num_write_ops},
      {"bytes_unmapped", s.bytes_unmapped},
      {"num_unmap_ops", s.num_unmap_ops},
      {"bytes_copied", 0},
      {"num_copy_ops", 0},
      {"read_latency_ticks", s.read_latency_ticks},
      {"max_read_latency_ticks", s.max_read_latency_ticks},
      {"min_read_latency_ticks", s.min_read_latency_ticks},
      {"write_latency_ticks", s.write_latency_ticks},
      {"max_write_latency_ticks", s.max_write_latency_ticks},
      {"min_write_latency_ticks", s.min_write_latency_ticks},
      {"unmap_latency_ticks", s.unmap_latency_ticks},
      {"max_unmap_latency_ticks", s.max_unmap_latency_ticks},
      {"min_unmap_latency_ticks", s.min_unmap_latency_ticks},
      {"copy_latency_ticks", 0},
      {"max_copy_latency_ticks", 0},
      {"min_copy_latency_ticks", 0},
      {"io_error", std::move(io_error)},
  };
}

// Reads each bdev's counters in turn (each read is asynchronous: it visits every
// channel), then answers with all of them.
struct IostatCollect : std::enable_shared_from_this<IostatCollect> {
  std::vector<std::string> names;
  size_t next = 0;
  IoStatsReset reset = IoStatsReset::kNone;
  RpcJson bdevs = RpcJson::array();
  RpcDone done;

  void Step() {
    while (next < names.size()) {
      Bdev* b = FindBdev(names[next]);
      if (b == nullptr) {  // removed meanwhile
        ++next;
        continue;
      }
      auto self = shared_from_this();
      std::string name = b->name();
      GetIoStats(*b, reset, [self, name](const IoStats& stats) {
        RpcJson entry = {{"name", name}};
        entry.update(StatsFields(stats));
        self->bdevs.push_back(std::move(entry));
        ++self->next;
        self->Step();
      });
      return;
    }
    done(RpcJson{{"tick_rate", GetTicksPerSecond()}, {"ticks", GetTicks()}, {"bdevs", bdevs}});
  }
};

void GetIostat(const json& params, RpcDone done) {
  IoStatsReset reset = IoStatsReset::kNone;
  if (HasParam(params, "reset_mode")) {
    std::string mode = ParamString(params, "reset_mode");
    if (mode == "all") {
      reset = IoStatsReset::kAll;
    } else if (mode == "maxmin") {
      reset = IoStatsReset::kMaxMin;
    } else if (mode == "error") {
      reset = IoStatsReset::kError;
    } else if (mode != "none") {
      return done(absl::InvalidArgumentError(absl::StrCat(
          "\"reset_mode\": expected \"all\", \"maxmin\", \"error\" or \"none\", got \"", mode,
          "\"")));
    }
  }
  std::vector<std::string> names;
  if (HasParam(params, "name")) names.push_back(ParamString(params, "name"));
  if (HasParam(params, "names")) {
    if (!names.empty()) {
      return done(absl::InvalidArgumentError("\"names\": give either \"name\" or \"names\""));
    }
    for (const json& n : params["names"]) {
      if (!n.is_string()) {
        return done(absl::InvalidArgumentError(
            absl::StrCat("\"names\": expected strings, got ", n.dump())));
      }
      names.push_back(n.get<std::string>());
    }
  }
  for (const std::string& n : names) {
    if (FindBdev(n) == nullptr) return done(NoSuchBdev(n));
  }
  if (ParamBool(params, "per_channel")) {
    if (names.size() != 1) {
      return done(absl::InvalidArgumentError("\"per_channel\": needs exactly one bdev (\"name\")"));
    }
    Bdev* b = FindBdev(names[0]);
    std::string name = b->name();
    GetChannelIoStats(*b, reset, [name, done = std::move(done)](std::vector<ChannelIoStats> chs) {
      RpcJson channels = RpcJson::array();
      for (const ChannelIoStats& ch : chs) {
        RpcJson entry = {{"thread_id", ch.thread_id}};
        entry.update(StatsFields(ch.stats));
        channels.push_back(std::move(entry));
      }
      done(RpcJson{{"tick_rate", GetTicksPerSecond()},
                   {"ticks", GetTicks()},
                   {"name", name},
                   {"channels", std::move(channels)}});
    });
    return;
  }
  auto collect = std::make_shared<IostatCollect>();
  collect->names = names.empty() ? ListBdevs() : names;
  collect->reset = reset;
  collect->done = std::move(done);
  collect->Step();
}

// SPDK's iobuf caches (per-thread data buffers) have no counterpart here: bdevkit's
// bounce buffers are per thread already. Kept only so save_config writes back what a
// config set.
struct IobufCacheSizes {
  uint64_t small = 128, large = 16;  // SPDK's defaults
};
IobufCacheSizes& IobufSizes() {
  static IobufCacheSizes sizes;  // app thread only
  return sizes;
}

uint32_t ReactorCount() {
  size_t n = Runtime::IsRunning() ? Runtime::ReactorThreads().size() : 0;
  return n == 0 ? 1 : static_cast<uint32_t>(n);
}

void SetOptions(const json& params, RpcDone done) {
  BdevLayerOptions options = GetBdevLayerOptions();
  const uint32_t reactors = ReactorCount();
  auto u32 = [&](std::string_view name, uint64_t& out) -> absl::Status {
    out = ParamUint(params, name);
    if (out > UINT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", std::string(name), "\": ", out, " is over 2^32 - 1"));
    }
    return absl::OkStatus();
  };
  uint64_t value = 0;
  if (HasParam(params, "bdev_io_pool_size")) {
    if (absl::Status s = u32("bdev_io_pool_size", value); !s.ok()) return done(s);
    options.bdev_io_per_thread = static_cast<uint32_t>(value / reactors);
  }
  if (HasParam(params, "bdev_io_cache_size")) {
    if (absl::Status s = u32("bdev_io_cache_size", value); !s.ok()) return done(s);
    options.bdev_io_cache_size = static_cast<uint32_t>(value);
  }
  if (HasParam(params, "bdev_auto_examine")) {
    options.auto_examine = ParamBool(params, "bdev_auto_examine");
  }
  if (absl::Status s = SetBdevLayerOptions(options); !s.ok()) return done(s);
  if (HasParam(params, "iobuf_small_cache_size")) {
    IobufSizes().small = ParamUint(params, "iobuf_small_cache_size");
  }
  if (HasParam(params, "iobuf_large_cache_size")) {
    IobufSizes().large = ParamUint(params, "iobuf_large_cache_size");
  }
  done(true);
}

// The bdev_set_options entry save_config starts with (SPDK writes it too, so SPDK
// users find their options where they expect them).
json SetOptionsEntry() {
  BdevLayerOptions options = GetBdevLayerOptions();
  return {{"method", "bdev_set_options"},
          {"params",
           {{"bdev_io_pool_size", uint64_t{options.bdev_io_per_thread} * ReactorCount()},
            {"bdev_io_cache_size", options.bdev_io_cache_size},
            {"bdev_auto_examine", options.auto_examine},
            {"iobuf_small_cache_size", IobufSizes().small},
            {"iobuf_large_cache_size", IobufSizes().large}}}};
}

}  // namespace

json BdevSubsystemConfig() {
  // SPDK's order: the layer's options, module options and module-written creates
  // (split), then each bdev's create call in registration order (bases before the
  // virtual bdevs built on them), each followed by its bdev_set_qos_limit, then a
  // final bdev_wait_for_examine so examine-assembled bdevs exist on return. A bdev
  // that writes no create call of its own (assembled by examine) gets its limits after
  // that wait, when it exists again.
  json config = json::array();
  json late_limits = json::array();
  config.push_back(SetOptionsEntry());
  for (BdevModule* m : ListModules()) m->WriteConfigJson(config);
  for (const std::string& name : ListBdevs()) {
    Bdev* b = FindBdev(name);
    if (b == nullptr) continue;
    const size_t before = config.size();
    b->AppendConfigJson(config);
    json limits = QosConfigEntry(*b);
    if (limits.is_null()) continue;
    (config.size() > before ? config : late_limits).push_back(std::move(limits));
  }
  config.push_back({{"method", "bdev_wait_for_examine"}});
  for (json& entry : late_limits) config.push_back(std::move(entry));
  return config;
}

std::vector<RpcMethod> CoreBdevRpcMethods() {
  std::vector<RpcMethod> methods;

  // Config files end with this call, so virtual bdevs assembled by examine (split,
  // raid) exist before the application starts using them.
  methods.push_back(RpcMethod{
      .name = "bdev_wait_for_examine",
      .summary = "Waits until every bdev has been examined by every module; returns true",
      .params = {},
      .handler = [](const json& /*params*/,
                    RpcDone done) { WaitForExamine([done = std::move(done)] { done(true); }); },
  });

  methods.push_back(RpcMethod{
      .name = "bdev_get_bdevs",
      .summary = "Lists bdevs (or one, by name, alias or UUID), with their properties",
      .params =
          {
              {"name", RpcParamType::kString, false, nullptr,
               "bdev name, alias or UUID (default: every bdev); unknown -> -19"},
              {"timeout", RpcParamType::kUint, false, nullptr,
               "ms to wait for `name` to appear; expiry -> -110"},
          },
      .handler = GetBdevs,
  });

  methods.push_back(RpcMethod{
      .name = "bdev_get_iostat",
      .summary = "I/O counters of bdevs (all, or the named ones), in ticks of tick_rate per second",
      .params =
          {
              {"name", RpcParamType::kString, false, nullptr, "one bdev (default: every bdev)"},
              {"names", RpcParamType::kArray, false, nullptr, "several bdevs, by name"},
              {"per_channel", RpcParamType::kBool, false, false,
               "one entry per thread's channel instead of the sum (needs `name`)"},
              {"reset_mode", RpcParamType::kString, false, nullptr,
               "reset after reading: \"all\", \"maxmin\" (max/min latencies), \"error\" (error "
               "counters) or \"none\""},
          },
      .handler = GetIostat,
  });

  // Ours (SPDK has no such method): the fault tests' check for leaked BdevIo.
  methods.push_back(RpcMethod{
      .name = "bdev_get_io_pools",
      .summary = "BdevIo pools of the threads (bdevkit's, for leak checks): per thread its "
                 "size and how many BdevIo are taken, the total taken (0 once every I/O has "
                 "completed), and how many were still taken when a thread's pool was destroyed",
      .params = {},
      .handler =
          [](const json& /*params*/, RpcDone done) {
            GetBdevIoPoolLevels([done = std::move(done)](std::vector<BdevIoPoolLevel> levels) {
              RpcJson threads = RpcJson::array();
              uint64_t in_use = 0;
              for (const BdevIoPoolLevel& l : levels) {
                in_use += l.in_use;
                threads.push_back({{"thread_id", l.thread_id},
                                   {"thread_name", l.thread_name},
                                   {"pool_size", l.pool_size},
                                   {"in_use", l.in_use}});
              }
              done(RpcJson{{"in_use", in_use},
                           {"leaked_at_pool_destroy", BdevIoLeakedAtPoolDestroy()},
                           {"threads", std::move(threads)}});
            });
          },
  });

  methods.push_back(RpcMethod{
      .name = "bdev_examine",
      .summary = "Has every module examine a bdev (with bdev_auto_examine off, only the bdevs "
                 "named here are examined); returns true once done. A bdev that does not "
                 "exist yet answers -19 but is examined when it registers, as in SPDK",
      .params = {{"name", RpcParamType::kString, true, nullptr, "bdev name, alias or UUID"}},
      .handler =
          [](const json& params, RpcDone done) {
            if (absl::Status s = ExamineBdev(ParamString(params, "name")); !s.ok()) {
              return done(s);
            }
            WaitForExamine([done = std::move(done)] { done(true); });
          },
  });

  methods.push_back(RpcMethod{
      .name = "bdev_set_options",
      .summary = "Options of the bdev layer, set before it starts (SPDK's params; every "
                 "SPDK save_config starts with this call)",
      .params =
          {
              {"bdev_io_pool_size", RpcParamType::kUint, false, nullptr,
               "BdevIo over all reactors: each reactor thread gets an equal share as its own "
               "fixed pool (bdevkit has no shared pool; default 4096 per thread)"},
              {"bdev_io_cache_size", RpcParamType::kUint, false, nullptr,
               "SPDK's per-thread cache; checked (1 .. BdevIo per thread), no effect: "
               "bdevkit's pools are per thread"},
              {"bdev_auto_examine", RpcParamType::kBool, false, nullptr,
               "offer every new bdev to the modules' examine (default true); when false, "
               "only bdevs named by bdev_examine"},
              {"iobuf_small_cache_size", RpcParamType::kUint, false, nullptr,
               "accepted and written back by save_config; bdevkit has no iobuf pool"},
              {"iobuf_large_cache_size", RpcParamType::kUint, false, nullptr,
               "accepted and written back by save_config; bdevkit has no iobuf pool"},
          },
      .handler = SetOptions,
      .allowed_states = kRpcStartup,
  });

  return methods;
}

}  // namespace bdevkit

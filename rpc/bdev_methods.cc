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

json BdevObject(const Bdev& bdev) {
  const BdevProperties& p = bdev.properties();
  const uint64_t write_unit_bytes = uint64_t{p.write_unit_size} * p.block_size;
  json supported = json::object();
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
  json obj = {
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
      {"assigned_rate_limits",
       {{"rw_ios_per_sec", 0},
        {"rw_mbytes_per_sec", 0},
        {"r_mbytes_per_sec", 0},
        {"w_mbytes_per_sec", 0}}},
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
    json out = json::array();
    for (const std::string& name : ListBdevs()) {
      if (Bdev* b = FindBdev(name)) out.push_back(BdevObject(*b));
    }
    return done(std::move(out));
  }
  std::string name = ParamString(params, "name");
  if (Bdev* b = FindBdev(name)) return done(json::array({BdevObject(*b)}));
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
          done(json::array({BdevObject(*b)}));
        } else {
          done(absl::DeadlineExceededError(
              absl::StrCat("bdev \"", name, "\" did not appear within ", timeout_ms, " ms")));
        }
        return PollStatus::kBusy;
      },
      kBdevWaitPoll, "bdev_get_bdevs_wait");
}

json StatsFields(const IoStats& s) {
  json io_error = json::object();
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
  json bdevs = json::array();
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
        json entry = {{"name", name}};
        entry.update(StatsFields(stats));
        self->bdevs.push_back(std::move(entry));
        ++self->next;
        self->Step();
      });
      return;
    }
    done(json{{"tick_rate", GetTicksPerSecond()}, {"ticks", GetTicks()}, {"bdevs", bdevs}});
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
    } else if (mode != "none") {
      return done(absl::InvalidArgumentError(absl::StrCat(
          "\"reset_mode\": expected \"all\", \"maxmin\" or \"none\", got \"", mode, "\"")));
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
      json channels = json::array();
      for (const ChannelIoStats& ch : chs) {
        json entry = {{"thread_id", ch.thread_id}};
        entry.update(StatsFields(ch.stats));
        channels.push_back(std::move(entry));
      }
      done(json{{"tick_rate", GetTicksPerSecond()},
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

}  // namespace

json BdevSubsystemConfig() {
  // SPDK's order: module options and module-written creates (split), then each bdev's
  // create call in registration order (bases before the virtual bdevs built on them),
  // then a final bdev_wait_for_examine so examine-assembled bdevs exist on return.
  json config = json::array();
  for (BdevModule* m : ListModules()) m->WriteConfigJson(config);
  for (const std::string& name : ListBdevs()) {
    if (Bdev* b = FindBdev(name)) b->AppendConfigJson(config);
  }
  config.push_back({{"method", "bdev_wait_for_examine"}});
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
               "reset after reading: \"all\", \"maxmin\" (max/min latencies) or \"none\""},
          },
      .handler = GetIostat,
  });

  methods.push_back(RpcMethod{
      .name = "bdev_examine",
      .summary = "Has every module examine a bdev; returns true once done. Auto-examine is "
                 "always on, so this waits for the examine already under way",
      .params = {{"name", RpcParamType::kString, true, nullptr, "bdev name, alias or UUID"}},
      .handler =
          [](const json& params, RpcDone done) {
            std::string name = ParamString(params, "name");
            if (FindBdev(name) == nullptr) return done(NoSuchBdev(name));
            WaitForExamine([done = std::move(done)] { done(true); });
          },
  });

  return methods;
}

}  // namespace bdevkit

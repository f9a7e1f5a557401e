#include "tools/bdevperf/job_plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace bdevkit::perf {
namespace {

absl::Status CheckGeometry(const BdevInfo& bdev, uint64_t io_size, uint64_t region_blocks,
                           bool slice) {
  const uint64_t bs = bdev.block_size;
  if (io_size % bs != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("I/O size %u (-o) is not a multiple of the block size %u of bdev %s",
                        io_size, bs, bdev.name));
  }
  const uint64_t bytes = region_blocks * bs;
  if (io_size > bytes) {
    if (slice) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "I/O size %u (-o) is larger than a -C slice of bdev %s (%u bytes per core)", io_size,
          bdev.name, bytes));
    }
    return absl::InvalidArgumentError(absl::StrFormat(
        "I/O size %u (-o) is larger than bdev %s (%u bytes)", io_size, bdev.name, bytes));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<BdevInfo> DescribeBdevs() {
  std::vector<BdevInfo> out;
  for (const std::string& name : ListBdevs()) {
    const Bdev* bdev = FindBdev(name);
    if (bdev == nullptr) continue;  // removed meanwhile
    BdevInfo info;
    info.name = bdev->name();
    info.block_size = bdev->block_size();
    info.num_blocks = bdev->num_blocks();
    info.claimed = bdev->claim_type() != ClaimType::kNone;
    for (int t = 0; t < kNumIoTypes; ++t) {
      info.supported[t] = bdev->IoTypeSupported(static_cast<IoType>(t));
    }
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<JobPlan> PlanJobs(const std::vector<BdevInfo>& bdevs, const TestParams& test,
                                 bool every_core, const std::string& only_bdev,
                                 size_t num_threads) {
  JobPlan plan;
  if (num_threads == 0) return absl::InvalidArgumentError("no reactor thread to run jobs on");
  const Workload workload = *test.workload;
  std::vector<const BdevInfo*> chosen;
  if (!only_bdev.empty()) {
    for (const BdevInfo& b : bdevs) {
      if (b.name == only_bdev) chosen.push_back(&b);
    }
    if (chosen.empty()) {
      std::vector<std::string> names;
      for (const BdevInfo& b : bdevs) names.push_back(b.name);
      return absl::NotFoundError(
          absl::StrCat("bdev '", only_bdev, "' does not exist (bdevs: ",
                       names.empty() ? std::string("none") : absl::StrJoin(names, ", "), ")"));
    }
  } else {
    for (const BdevInfo& b : bdevs) {
      // Claimed bdevs are the bases of virtual bdevs: test the top of each stack only.
      if (!b.claimed) chosen.push_back(&b);
    }
    if (chosen.empty()) return absl::NotFoundError("no bdevs to test");
  }

  std::vector<const BdevInfo*> runnable;
  for (const BdevInfo* b : chosen) {
    auto missing =
        MissingIoType(workload, [b](IoType t) { return b->supported[static_cast<int>(t)]; });
    if (!missing) {
      runnable.push_back(b);
      continue;
    }
    const std::string why =
        absl::StrCat("bdev ", b->name, " does not support ", std::string(IoTypeName(*missing)),
                     " (workload ", std::string(WorkloadName(workload)), ")");
    if (!only_bdev.empty()) return absl::InvalidArgumentError(why);
    plan.notes.push_back(absl::StrCat("Skipping ", b->name, ": it does not support ",
                                      std::string(IoTypeName(*missing))));
  }
  if (runnable.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no bdev supports workload ", std::string(WorkloadName(workload))));
  }

  size_t next_thread = 0;
  for (const BdevInfo* b : runnable) {
    if (!every_core) {
      if (absl::Status st = CheckGeometry(*b, test.io_size, b->num_blocks, false); !st.ok()) {
        return st;
      }
      plan.jobs.push_back({b->name, next_thread++ % num_threads, 0, 0});
      continue;
    }
    // -C: the bdev cut into one slice per thread; the remainder blocks are unused, so
    // no two jobs ever touch the same block.
    const uint64_t slice = b->num_blocks / num_threads;
    if (absl::Status st = CheckGeometry(*b, test.io_size, slice, num_threads > 1); !st.ok()) {
      return st;
    }
    for (size_t t = 0; t < num_threads; ++t) {
      plan.jobs.push_back({b->name, t, t * slice, slice});
    }
  }
  return plan;
}

}  // namespace bdevkit::perf

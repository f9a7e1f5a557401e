#include "tools/bdevperf/report_json.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"

namespace bdevkit::perf {

nlohmann::ordered_json JobResultJson(const JobResult& r) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["job"] = r.name;
  j["core_mask"] = r.core_mask;
  j["workload"] = std::string(WorkloadName(r.workload));
  if (IsMixed(r.workload)) j["percentage"] = r.rw_percentage;
  j["status"] = JobStatusName(r.status);
  if (Verifies(r.workload)) {
    j["verify_range"] = {{"start", r.verify_start_lba}, {"length", r.verify_num_blocks}};
  }
  j["queue_depth"] = r.queue_depth;
  j["io_size"] = r.io_size;
  j["runtime"] = r.RuntimeSeconds();
  j["iops"] = r.Iops();
  j["mibps"] = r.MibPerSecond();
  j["io_failed"] = r.counters.io_failed;
  j["io_timeout"] = r.counters.io_timeout;
  j["avg_latency_us"] = r.AverageLatencyUs();
  j["min_latency_us"] = r.MinLatencyUs();
  j["max_latency_us"] = r.MaxLatencyUs();
  nlohmann::ordered_json percentiles = nlohmann::ordered_json::object();
  for (double p : kReportedPercentiles) {
    percentiles[PercentileLabel(p)] = r.PercentileUs(p);
  }
  j["latency_percentiles_us"] = std::move(percentiles);
  nlohmann::ordered_json ops = nlohmann::ordered_json::object();
  for (int t = 0; t < kNumIoTypes; ++t) {
    ops[std::string(IoTypeName(static_cast<IoType>(t)))] = r.counters.ops[t];
  }
  j["ops"] = std::move(ops);
  return j;
}

nlohmann::ordered_json ResultsJson(const std::vector<JobResult>& results) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  std::set<std::string> masks;
  for (const JobResult& r : results) {
    list.push_back(JobResultJson(r));
    masks.insert(r.core_mask);  // each job runs on one core: one mask per core
  }
  return {{"results", std::move(list)}, {"core_count", masks.size()}};
}

absl::Status WriteJsonFile(const std::string& path, const nlohmann::ordered_json& json) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  const std::string text = json.dump(2) + "\n";
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace bdevkit::perf

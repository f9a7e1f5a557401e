// The results as JSON, in the shape of SPDK's perform_tests result:
//   {"results": [{"job", "core_mask", "workload", ["percentage",] "status",
//                 ["verify_range": {"start", "length"},] "queue_depth", "io_size",
//                 "runtime", "iops", "mibps", "io_failed", "io_timeout",
//                 "avg_latency_us", "min_latency_us", "max_latency_us", ...}],
//    "core_count": N}
// plus keys of ours after SPDK's (clients that read SPDK's keys are not disturbed):
// "latency_percentiles_us" {"p50", "p90", "p99", "p99.9", "p99.99"} and "ops" (successful
// I/Os by type, the same counts bdev_get_iostat reports for the job's I/O).
#ifndef BDEVKIT_TOOLS_BDEVPERF_REPORT_JSON_H_
#define BDEVKIT_TOOLS_BDEVPERF_REPORT_JSON_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "tools/bdevperf/report.h"

namespace bdevkit::perf {

// Keys in SPDK's order (ordered_json keeps insertion order).
nlohmann::ordered_json JobResultJson(const JobResult& result);
nlohmann::ordered_json ResultsJson(const std::vector<JobResult>& results);

// Writes `json` (pretty, with a final newline) to `path`. Errors name the file.
absl::Status WriteJsonFile(const std::string& path, const nlohmann::ordered_json& json);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_REPORT_JSON_H_

// Job::Task, shared by job.cc (setup) and job_io.cc (the I/O path). Private to
// bdevperf's job.
#ifndef BDEVKIT_TOOLS_BDEVPERF_JOB_TASK_H_
#define BDEVKIT_TOOLS_BDEVPERF_JOB_TASK_H_

#include <cstdint>

#include "bdevkit/bdev.h"
#include "tools/bdevperf/job.h"

namespace bdevkit::perf {

// One I/O slot of the queue: its buffers and where it is in its cycle. Tasks are made
// at setup and live until the job ends, so the I/O path allocates nothing.
struct Job::Task {
  Job* job = nullptr;
  unsigned char* buf = nullptr;       // data written, or read into (null: no data)
  unsigned char* read_buf = nullptr;  // verify: where the written data is read back
  uint64_t slot = 0;
  uint64_t offset_blocks = 0;
  uint64_t generation = 0;  // verify: which write this is
  uint64_t submit_ticks = 0;
  IoType io_type = IoType::kRead;  // of the I/O being submitted or in flight
  bool verify_reading = false;     // verify: the write is done, the read is next
  bool in_flight = false;          // between PrepareNext and TaskDone
  bool timed_out = false;          // -k: this I/O was already counted in TO/s
  IoWaitEntry wait;
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_JOB_TASK_H_

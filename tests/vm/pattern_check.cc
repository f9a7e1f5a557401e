// vm_pattern_check: checks, byte for byte, what one bdevperf verify run wrote into a
// namespace, as another reader sees it (the guest tests pipe the kernel's view in:
// dd if=/dev/nvme0n1 | vm_pattern_check ...). That is how tests/vm proves the data our
// user-space NVMe driver wrote is really on the device after the kernel takes it back.
//
// Usage: vm_pattern_check --block-size N --seed S [--min-blocks K] [FILE]   (default stdin)
// S is the --seed bdevperf ran with; each job writes with its own seed derived from S
// and the job's index (tools/bdevperf/perf_run.cc), and one namespace is one job.
// verify walks the bdev in order from LBA 0, so the run's blocks are a prefix
// [0, P) of the namespace (all of it if the run wrapped around):
//   - block 0 must carry a verify header of one of the run's jobs, which names the job;
//   - every block of the prefix must be exactly what bdevperf writes for its position,
//     that job's seed and the write generation its header names (pattern.h);
//   - the first block that is not the job's ends the prefix; after it, blocks hold
//     anything (zeroes, earlier runs' data) but never the job's data again — that
//     would be a hole in what was written (a lost or misdirected write).
// Exit 0: all of that holds and P >= K (default 1); 1: it does not (the first bad
// block is described); 2: usage.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tools/bdevperf/pattern.h"

namespace {

struct Args {
  uint32_t block_size = 0;
  uint64_t seed = 0;
  uint64_t min_blocks = 1;
  bool have_seed = false;
  const char* file = nullptr;
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "vm_pattern_check: %s\nusage: vm_pattern_check --block-size N --seed S "
               "[--min-blocks K] [FILE]\n",
               why);
  return 2;
}

bool ParseU64(const char* text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0') return false;
  *out = v;
  return true;
}

// Reads exactly `len` bytes unless the input ends first; returns the count read.
size_t ReadFull(int fd, unsigned char* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    const ssize_t n = read(fd, buf + got, len - got);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("vm_pattern_check: read");
      std::exit(1);
    }
    got += static_cast<size_t>(n);
  }
  return got;
}

// bdevperf's seed for job `index` of a run started with --seed `run_seed`
// (perf_run.cc: "distinct streams per job, repeatable for a given --seed").
uint64_t JobSeed(uint64_t run_seed, uint64_t index) {
  return run_seed ^ ((index + 1) * 0x9e3779b97f4a7c15ull);
}
constexpr uint64_t kMaxJobs = 4096;

uint64_t Load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    uint64_t v = 0;
    if ((arg == "--block-size" || arg == "--seed" || arg == "--min-blocks") && i + 1 < argc) {
      if (!ParseU64(argv[++i], &v)) return Usage(("bad number for " + arg).c_str());
      if (arg == "--block-size") a.block_size = static_cast<uint32_t>(v);
      if (arg == "--seed") a.seed = v, a.have_seed = true;
      if (arg == "--min-blocks") a.min_blocks = v;
    } else if (arg[0] != '-' && a.file == nullptr) {
      a.file = argv[i];
    } else {
      return Usage(("unexpected argument " + arg).c_str());
    }
  }
  if (a.block_size < 32 || a.block_size % 8 != 0) {
    return Usage("--block-size must be a multiple of 8, at least 32");
  }
  if (!a.have_seed) return Usage("--seed is required");
  const int fd = a.file != nullptr ? open(a.file, O_RDONLY) : 0;
  if (fd < 0) {
    std::fprintf(stderr, "vm_pattern_check: cannot open %s: %s\n", a.file, std::strerror(errno));
    return 1;
  }

  // The header's magic, taken from what bdevperf itself writes (not a copy of it).
  std::vector<unsigned char> expected(a.block_size);
  bdevkit::perf::FillPattern(expected.data(), a.block_size, 1, {});
  const uint64_t magic = Load64(expected.data());

  const size_t chunk_blocks = (1u << 20) / a.block_size + 1;
  std::vector<unsigned char> buf(chunk_blocks * a.block_size);
  uint64_t lba = 0, verified = 0, other = 0;
  uint64_t prefix_end = UINT64_MAX;  // the first LBA not written by the job
  uint64_t job = UINT64_MAX, job_seed = 0;
  for (;;) {
    const size_t got = ReadFull(fd, buf.data(), buf.size());
    const size_t blocks = got / a.block_size;
    for (size_t i = 0; i < blocks; ++i, ++lba) {
      const unsigned char* block = buf.data() + i * a.block_size;
      // Header: magic, LBA, generation, seed (pattern.h).
      const bool has_header = Load64(block) == magic;
      const uint64_t seen = Load64(block + 24);
      if (lba == 0) {
        for (uint64_t j = 0; has_header && j < kMaxJobs && job == UINT64_MAX; ++j) {
          if (JobSeed(a.seed, j) == seen) job = j;
        }
        if (job == UINT64_MAX) {
          std::printf(
              "vm_pattern_check: FAILED: LBA 0 does not hold data of a bdevperf verify "
              "run with --seed %llu (%s)\n",
              static_cast<unsigned long long>(a.seed),
              has_header ? "its header names another run's seed" : "no verify header");
          return 1;
        }
        job_seed = JobSeed(a.seed, job);
      }
      const bool ours = has_header && seen == job_seed;
      if (!ours) {
        if (prefix_end == UINT64_MAX) prefix_end = lba;
        ++other;
        continue;
      }
      if (prefix_end != UINT64_MAX) {
        std::printf(
            "vm_pattern_check: FAILED at block %llu: it holds this run's data, but block "
            "%llu before it does not (a lost or misdirected write)\n",
            static_cast<unsigned long long>(lba), static_cast<unsigned long long>(prefix_end));
        return 1;
      }
      // Rebuild the block the header claims to be, at this position and with the job's
      // seed, and compare every byte.
      const bdevkit::perf::PatternKey key{lba, Load64(block + 16), job_seed};
      bdevkit::perf::FillPattern(expected.data(), a.block_size, 1, key);
      if (auto m =
              bdevkit::perf::ComparePattern(expected.data(), block, a.block_size, 1, lba, key)) {
        std::printf("vm_pattern_check: FAILED at block %llu of %u bytes: %s\n",
                    static_cast<unsigned long long>(lba), a.block_size,
                    bdevkit::perf::FormatMismatch(*m).c_str());
        return 1;
      }
      ++verified;
    }
    if (got < buf.size()) {
      if (got % a.block_size != 0) {
        std::printf("vm_pattern_check: FAILED: the input ends inside a block (%zu stray bytes)\n",
                    got % a.block_size);
        return 1;
      }
      break;
    }
  }
  if (lba == 0) {
    std::printf("vm_pattern_check: FAILED: the input is empty\n");
    return 1;
  }
  std::printf(
      "vm_pattern_check: %llu blocks of %u bytes: the first %llu hold the data of job %lld of the "
      "verify run, all correct; %llu after them hold other data\n",
      static_cast<unsigned long long>(lba), a.block_size, static_cast<unsigned long long>(verified),
      static_cast<long long>(job), static_cast<unsigned long long>(other));
  if (verified < a.min_blocks) {
    std::printf("vm_pattern_check: FAILED: expected at least %llu verify blocks\n",
                static_cast<unsigned long long>(a.min_blocks));
    return 1;
  }
  return 0;
}

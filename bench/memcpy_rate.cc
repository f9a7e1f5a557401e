// The limit for the malloc bdev: how many random `block`-byte blocks one core can
// copy out of a buffer of `size` bytes per second, into `depth` rotating destination
// buffers (what a malloc randread at that queue depth does, minus the bdev layer).
// Built by bench/foundation.sh with g++ -O2; prints "copies_per_sec N".
//
// usage: memcpy_rate SIZE_BYTES BLOCK_BYTES DEPTH SECONDS
#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s SIZE_BYTES BLOCK_BYTES DEPTH SECONDS\n", argv[0]);
    return 1;
  }
  const uint64_t size = std::strtoull(argv[1], nullptr, 0);
  const uint64_t block = std::strtoull(argv[2], nullptr, 0);
  const uint64_t depth = std::strtoull(argv[3], nullptr, 0);
  const double seconds = std::strtod(argv[4], nullptr);
  if (block == 0 || depth == 0 || size < block || seconds <= 0) {
    std::fprintf(stderr, "memcpy_rate: bad arguments\n");
    return 1;
  }
  const uint64_t slots = size / block;
  // Same kind of memory as the malloc bdev (an anonymous mapping), written once so
  // every page is really there (as after bdevperf --prefill).
  auto* src = static_cast<unsigned char*>(
      mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  auto* dst = static_cast<unsigned char*>(std::aligned_alloc(4096, depth * block));
  if (src == MAP_FAILED || dst == nullptr) {
    std::fprintf(stderr, "memcpy_rate: out of memory\n");
    return 1;
  }
  std::memset(src, 0x5a, size);
  std::memset(dst, 0, depth * block);

  uint64_t state = 0x9e3779b97f4a7c15ull;  // xorshift64*, as bdevperf draws offsets
  uint64_t copies = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < end) {
    for (int i = 0; i < 4096; ++i) {
      state ^= state >> 12;
      state ^= state << 25;
      state ^= state >> 27;
      const uint64_t slot = (state * 0x2545f4914f6cdd1dull) % slots;
      std::memcpy(dst + (copies % depth) * block, src + slot * block, block);
      ++copies;
    }
    // Keep the copies: the compiler must assume dst is read.
    asm volatile("" : : "r"(dst) : "memory");
    now = std::chrono::steady_clock::now();
  }
  const double elapsed = std::chrono::duration<double>(now - start).count();
  std::printf("copies_per_sec %.0f\n", static_cast<double>(copies) / elapsed);
  return 0;
}

// The null module: bdevs that complete every I/O at once without touching data
// ("Null disk"). Reads leave the caller's buffer as it was. Used to measure the cost of
// the bdev layer itself.
#ifndef BDEVKIT_MODULES_NULL_NULL_BDEV_H_
#define BDEVKIT_MODULES_NULL_NULL_BDEV_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bdevkit {

struct NullOptions {
  std::string name;           // required
  std::string uuid;           // empty = generated
  uint32_t block_size = 512;  // a multiple of 512
  uint64_t num_blocks = 0;    // > 0
};

// Creates and registers a null bdev; returns its name. kInvalidArgument for bad
// options, kAlreadyExists for a taken name or UUID. App thread; never blocks.
absl::StatusOr<std::string> CreateNullBdev(const NullOptions& options);

// Unregisters a null bdev; `done` runs on the app thread once it is gone. kNotFound
// if no bdev of that name is a null bdev. App thread; never blocks.
void DeleteNullBdev(const std::string& name, std::function<void(absl::Status)> done);

}  // namespace bdevkit

#endif  // BDEVKIT_MODULES_NULL_NULL_BDEV_H_

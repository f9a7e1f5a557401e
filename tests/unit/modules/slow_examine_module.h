// A test module registered by bdev_layer_env.cc: bdevs named "SlowExamine*" finish
// examine ~100 ms after registration; this counts the finished ones.
#ifndef BDEVKIT_TESTS_UNIT_MODULES_SLOW_EXAMINE_MODULE_H_
#define BDEVKIT_TESTS_UNIT_MODULES_SLOW_EXAMINE_MODULE_H_

#include <atomic>

namespace bdevkit::testing {
extern std::atomic<int> g_slow_examines_done;
}  // namespace bdevkit::testing

#endif  // BDEVKIT_TESTS_UNIT_MODULES_SLOW_EXAMINE_MODULE_H_

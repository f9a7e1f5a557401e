// Module registry and bdev-layer lifecycle, as seen by the rest of the core.
#ifndef BDEVKIT_BDEV_CORE_MODULE_REGISTRY_H_
#define BDEVKIT_BDEV_CORE_MODULE_REGISTRY_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "bdevkit/bdev.h"

namespace bdevkit::core {

// Offers a newly registered bdev to every module (if the layer has started; bdevs
// registered earlier are examined by StartBdevLayer). App thread.
void ExamineNewBdev(Bdev& bdev);

// BdevLayerOptions::bdev_io_per_thread, read by each thread's layer channel. Any thread.
uint32_t BdevIoPerThread();

// Registered bdevs in registration order. The pointers are safe on the app thread.
std::vector<Bdev*> SnapshotBdevs();
// Lookup with core::ControlMutex() held.
Bdev* FindBdevLocked(std::string_view key);

}  // namespace bdevkit::core

#endif  // BDEVKIT_BDEV_CORE_MODULE_REGISTRY_H_

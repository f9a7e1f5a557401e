// The split module: a base bdev cut into equal parts BASEp0, BASEp1, ... ("Split
// Disk"). A split may be declared before its base exists: its parts appear when the
// base registers (examine), go when it is removed, and come back with it.
// Everything here runs on the app thread.
#ifndef BDEVKIT_MODULES_SPLIT_SPLIT_MODULE_H_
#define BDEVKIT_MODULES_SPLIT_SPLIT_MODULE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"

namespace bdevkit::split {

inline constexpr char kSplitModuleName[] = "split";

// One bdev_split_create.
struct SplitConfig {
  std::string base;
  uint64_t split_count = 0;
  uint64_t split_size_mb = 0;
  std::unique_ptr<BdevDesc> desc;  // open and claimed while parts exist
  std::vector<std::string> parts;  // registered part names
  size_t parts_alive = 0;          // parts not yet destructed
  bool deleting = false;
  std::vector<std::function<void()>> on_parts_gone;
};

class SplitModule final : public BdevModule {
 public:
  SplitModule() : BdevModule(kSplitModuleName) {}

  void Examine(Bdev& bdev) override;
  // bdev_split_create for every split, whether its base exists or not (SPDK writes
  // them first too), so a reloaded config declares them before their bases.
  void WriteConfigJson(nlohmann::json& config) const override;
  void Fini() override { configs_.clear(); }

  // bdev_split_create: the part names, or [] when the base does not exist yet. On
  // error nothing is left (no config, no claim, no part).
  absl::StatusOr<std::vector<std::string>> Create(const std::string& base, uint64_t split_count,
                                                  uint64_t split_size_mb);
  // bdev_split_delete: unregisters the parts (waiting for their users), releases the
  // base and forgets the split. kNotFound if the base has no split.
  void Delete(const std::string& base, std::function<void(absl::Status)> done);

  // From a part's Destruct.
  void OnPartGone(SplitConfig* config);

 private:
  SplitConfig* Find(const std::string& base) const;
  // Claims the base and registers the parts. On error nothing is left.
  absl::Status Activate(SplitConfig& config);
  void OnBaseEvent(SplitConfig* config, BdevEvent event);
  void UnregisterParts(SplitConfig& config);
  void Forget(SplitConfig* config);

  std::vector<std::unique_ptr<SplitConfig>> configs_;
};

}  // namespace bdevkit::split

#endif  // BDEVKIT_MODULES_SPLIT_SPLIT_MODULE_H_

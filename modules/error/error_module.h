// The error module: error-injection bdevs EE_<base> over base bdevs ("Error Injection
// Disk"), SPDK's bdev_error_* methods. A bdev_error_create names a base that may not
// exist yet: the EE bdev appears when the base registers (examine), goes when the base
// is removed and comes back with it, until bdev_error_delete. Everything here runs on
// the app thread.
#ifndef BDEVKIT_MODULES_ERROR_ERROR_MODULE_H_
#define BDEVKIT_MODULES_ERROR_ERROR_MODULE_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "bdevkit/bdev.h"
#include "bdevkit/module.h"
#include "modules/error/error_injection.h"

namespace bdevkit::error {

inline constexpr char kErrorModuleName[] = "error";
inline constexpr char kErrorBdevPrefix[] = "EE_";

class ErrorBdev;

// One bdev_error_create.
struct ErrorConfig {
  std::string base;
  std::string uuid;                     // of the EE bdev, fixed at creation
  std::unique_ptr<BdevDesc> base_desc;  // open and claimed while the EE bdev exists
  // The EE bdev's own descriptor, held only to hear kRemove whoever unregisters it
  // (base removal, delete, the layer stopping): pending I/O is failed then, or the
  // removal would wait for it forever.
  std::unique_ptr<BdevDesc> self_desc;
  ErrorBdev* bdev = nullptr;  // registered and not yet destructed
  bool deleting = false;
  std::vector<std::function<void()>> on_gone;

  std::string bdev_name() const { return kErrorBdevPrefix + base; }
};

class ErrorModule final : public BdevModule {
 public:
  ErrorModule() : BdevModule(kErrorModuleName) {}

  void Examine(Bdev& bdev) override;
  // bdev_error_create for every error bdev, whether its base exists or not, so a
  // reloaded config declares them before their bases (SPDK writes them first too).
  void WriteConfigJson(nlohmann::json& config) const override;
  void Fini() override { configs_.clear(); }

  // bdev_error_create. `uuid` empty: one is generated (and kept for save_config).
  // kAlreadyExists (an error bdev over that base, or a bdev named EE_<base>),
  // kInvalidArgument, or the base's open/claim error; nothing is left on error.
  absl::Status Create(const std::string& base, std::string_view uuid);
  // bdev_error_delete: `name` is the EE bdev's name (or alias); unregisters it if it
  // exists and forgets it. kNotFound when no error bdev has that name.
  void Delete(const std::string& name, std::function<void(absl::Status)> done);
  // The registered error bdev of that name or alias, or nullptr.
  ErrorBdev* FindErrorBdev(std::string_view name) const;

  // From an ErrorBdev's Destruct.
  void OnBdevGone(ErrorConfig* config);

 private:
  ErrorConfig* FindByBase(const std::string& base) const;
  ErrorConfig* FindByName(std::string_view name) const;
  // Claims the base and registers the EE bdev. On error nothing is left.
  absl::Status Activate(ErrorConfig& config);
  void Forget(ErrorConfig* config);

  std::vector<std::unique_ptr<ErrorConfig>> configs_;
};

}  // namespace bdevkit::error

#endif  // BDEVKIT_MODULES_ERROR_ERROR_MODULE_H_

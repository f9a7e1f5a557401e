// Default JSON hooks of bdevs and modules (modules override what they need).
#include <nlohmann/json.hpp>

#include "bdevkit/bdev.h"
#include "bdevkit/module.h"

namespace bdevkit {

// A bdev without module-specific information shows "driver_specific": {}.
void Bdev::DumpInfoJson(nlohmann::json& driver_specific) const {
  if (driver_specific.is_null()) driver_specific = nlohmann::json::object();
}

// A bdev that cannot be recreated from a config (e.g. one a module assembles by
// examine) writes nothing.
void Bdev::WriteConfigJson(nlohmann::json& /*config*/) const {}

nlohmann::json Bdev::DriverSpecificJson() const {
  nlohmann::json driver_specific = nlohmann::json::object();
  DumpInfoJson(driver_specific);
  if (driver_specific.is_null()) driver_specific = nlohmann::json::object();
  return driver_specific;
}

void Bdev::AppendConfigJson(nlohmann::json& config) const {
  if (!config.is_array()) config = nlohmann::json::array();
  WriteConfigJson(config);
}

void BdevModule::WriteConfigJson(nlohmann::json& /*config*/) const {}

}  // namespace bdevkit

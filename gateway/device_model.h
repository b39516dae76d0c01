// The bridge's view of a device's DPs: a config::DeviceModel (user overrides > cloud specification >
// built-in category template) plus the two conversions done on every message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/config.h"
#include "config/models.h"

namespace t2m::gw {

class DeviceModel {
 public:
  static DeviceModel build(const config::DeviceConfig& cfg, const nlohmann::json& reported_dps = nullptr);

  // Re-derives the model when a report names DPs the model did not know (templates choose a layout, e.g.
  // v1 or v2 lights, from the DPs a device really has). Returns true if the model changed.
  bool refine(const config::DeviceConfig& cfg, const nlohmann::json& merged_dps);

  // The MQTT state object for the merged wire dps ({"<property>": real value, ..., "dps": {...}}).
  // Values that cannot be read are passed through raw and counted in `problems`.
  nlohmann::json to_state(const nlohmann::json& dps, std::vector<Error>* problems = nullptr) const;
  // A set command (properties, entity keys or DP ids) -> wire dps, validated.
  Result<nlohmann::json> to_dps(const nlohmann::json& command,
                                const nlohmann::json& current_dps = nullptr) const;
  // For bridge/devices: every known DP with its description, and the entities.
  nlohmann::json describe() const;
  std::vector<std::string> dp_ids() const;
  const config::DeviceModel& model() const { return model_; }

 private:
  config::DeviceModel model_;
};

}  // namespace t2m::gw

// The bridge's view of a device's DPs: a DerivedModel (user overrides > cloud specification >
// built-in category template) plus the two conversions done on every message.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/config.h"
#include "model/derived_model.h"

namespace t2m::model {

// Hands out one shared copy of each distinct model. A fleet is mostly a few products repeated (a
// thousand plugs of one kind), and a derived model with its entities is several kB: sharing is what keeps
// the gateway near its per-device memory target. Models are immutable once interned; the cache holds them
// weakly, so a model no device uses any more goes away. Loop thread only.
class ModelCache {
 public:
  std::shared_ptr<const DerivedModel> intern(DerivedModel model);
  // Distinct models alive (tests, bridge/health).
  size_t size() const;

 private:
  std::unordered_multimap<size_t, std::weak_ptr<const DerivedModel>> by_hash_;
  size_t interned_since_sweep_ = 0;
};

class DeviceModel {
 public:
  // With a cache, identical models are shared between devices.
  static DeviceModel build(const config::DeviceConfig& cfg, const nlohmann::json& reported_dps = nullptr,
                           ModelCache* cache = nullptr);

  // Re-derives the model when a report names DPs the model did not know (templates choose a layout, e.g.
  // v1 or v2 lights, from the DPs a device really has). Returns true if the model changed.
  bool refine(const config::DeviceConfig& cfg, const nlohmann::json& merged_dps, ModelCache* cache = nullptr);

  // The MQTT state object for the merged wire dps ({"<property>": real value, ..., "dps": {...}}).
  // Values that cannot be read are passed through raw and counted in `problems`.
  nlohmann::json to_state(const nlohmann::json& dps, std::vector<Error>* problems = nullptr) const;
  // A set command (properties, entity keys or DP ids) -> wire dps, validated.
  Result<nlohmann::json> to_dps(const nlohmann::json& command,
                                const nlohmann::json& current_dps = nullptr) const;
  // For bridge/devices: every known DP with its description, and the entities.
  nlohmann::json describe() const;
  std::vector<std::string> dp_ids() const;
  const DerivedModel& model() const { return *model_; }
  // True when both share one interned model object.
  bool shares_with(const DeviceModel& other) const { return model_ == other.model_; }

 private:
  static std::shared_ptr<const DerivedModel> keep_(DerivedModel m, ModelCache* cache);

  std::shared_ptr<const DerivedModel> model_ = empty_();
  // One empty model shared by every DeviceModel not built yet (a Device is created, then given its model).
  static const std::shared_ptr<const DerivedModel>& empty_();
};

}  // namespace t2m::model

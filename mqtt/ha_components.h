// Internal to HA discovery: the payload of each component of a device (ha_components.cpp), one builder
// per HA platform. The envelope around them (device block, origin, which components a device gets,
// removed components, the bridge device) is ha_discovery.cpp. Not part of the public API: that is
// ha_discovery.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "model/derived_model.h"
#include "mqtt/ha_discovery.h"
#include "mqtt/topics.h"

namespace t2m::mqtt::ha::detail {

// Reads the "state" of a bridge/state or <name>/availability payload.
inline constexpr std::string_view AVAILABILITY_TEMPLATE = "{{ value_json['state'] }}";

// Entity id part: lower case, [a-z0-9_], no doubled or edge '_'.
std::string slug(std::string_view s);

// Builds the components of one device. `info.config` and `info.model` must be set and outlive the
// builder, as must `options`.
class ComponentBuilder {
 public:
  ComponentBuilder(const DeviceInfo& info, const Options& options);

  // The component of one model entity; null when HA could not use it (e.g. no state or command key).
  nlohmann::json entity(const model::Entity& e) const;
  // "Refresh": a button publishing to <base>/<name>/get.
  nlohmann::json refresh_button() const;
  // The firmware update entity (DeviceInfo::firmware_update).
  nlohmann::json update_entity() const;
  // An event entity on the device's action topic, firing when the payload's source is `ev.key`.
  nlohmann::json event_entity(const EventEntity& ev, const std::string& key) const;

 private:
  nlohmann::json availability(bool device_too) const;
  // Keys every entity component has.
  nlohmann::json base(std::string_view platform, std::string_view key, const std::string& name,
                      bool device_available = true) const;
  std::vector<std::string> effects(const model::Entity& e) const;
  nlohmann::json json_light(const model::Entity& e, nlohmann::json c) const;
  nlohmann::json template_light(const model::Entity& e, nlohmann::json c) const;
  nlohmann::json cover(const model::Entity& e, nlohmann::json c) const;
  nlohmann::json fan(const model::Entity& e, nlohmann::json c) const;
  nlohmann::json climate(const model::Entity& e, nlohmann::json c) const;

  const config::DeviceConfig& cfg_;
  const model::DerivedModel& model_;
  const Options& o_;
  Topics topics_;
  std::string name_;  // the friendly name, in topics and entity ids
};

}  // namespace t2m::mqtt::ha::detail

// Home Assistant MQTT discovery payloads (docs/conventions.md §2, §6). Pure: no I/O.
//
// One retained device-based discovery message per device:
//   <prefix>/device/tuya_<devId>/config   {"device":{...},"origin":{...},"components":{<key>:{...},...}}
// The topic and every unique_id are derived from the Tuya device id (and cid), never from the friendly
// name, so they survive renames; the state/command/availability topics inside use the friendly name, so
// a rename republishes the payload. Removing the device = an empty retained payload on the topic.
//
// Every component carries its own state topic and availability (bridge/state AND <name>/availability,
// availability_mode all), so a component never depends on root-level defaults. Templates read the state
// JSON the gateway publishes (model/convert.h: state_from_dps) with value_json['key'] (bracket form:
// value_json.update would be the dict method, not the key) and commands are written so that the gateway
// accepts them: JSON objects on <base>/<name>/set keyed by the entity's command key, or bare values on
// <base>/<name>/set/<property>.
//
// Entities beyond model::DerivedModel::entities:
//   button  "Refresh": <base>/<name>/get (every device)
//   update  firmware (only when DeviceInfo::firmware_update): reads the state's "update" object
//           {"state":"idle|available|updating","installed_version","latest_version","progress",
//            "release_notes"} and installs through <base>/bridge/request/device/ota_update/update {"id":name}
//   event   scene-switch buttons (read-only enum DPs coded switch<N>_value / switch_type_<N> /
//           scene_<N>) on <base>/<name>/action, payload {"event_type": <DP value>, "source": <code>} (see
//           events_from_report), plus DeviceInfo::events supplied by the caller.
// The bridge itself is a device too (bridge_discovery): connection state, version, and an event entity
// for scene runs read from <base>/bridge/event {"type":"scene_run","data":{"name":...}}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "model/derived_model.h"

namespace t2m::mqtt::ha {

inline constexpr std::string_view ORIGIN_NAME = "tuya2mqtt";
inline constexpr std::string_view MANUFACTURER = "Tuya";
// Prefix of device identifiers and discovery object ids.
inline constexpr std::string_view IDENTIFIER_PREFIX = "tuya2mqtt_";
inline constexpr std::string_view OBJECT_ID_PREFIX = "tuya_";
// HA's text entity refuses a max above 255 characters.
inline constexpr int HA_TEXT_MAX = 255;
// Keys of the per-device action topic payload.
inline constexpr std::string_view EVENT_TYPE_KEY = "event_type";
inline constexpr std::string_view EVENT_SOURCE_KEY = "source";
// bridge/event type of a cloud scene run (data.name = the scene's name).
inline constexpr std::string_view SCENE_RUN_EVENT = "scene_run";

struct Options {
  std::string prefix{"homeassistant"};  // discovery prefix
  std::string base_topic{"tuya2mqtt"};  // the gateway's MQTT base topic
  std::string version;                  // origin sw_version and bridge sw_version
  std::string support_url;              // origin support_url ("" = omitted)
};

// An event entity the caller adds (e.g. cloud scenes of a device). Its topic is the device's action
// topic; `key` must be unique within the device and is matched against the payload's "source".
struct EventEntity {
  std::string key;
  std::string name;
  std::vector<std::string> event_types;
  std::string device_class;  // "button", "doorbell", "motion" or ""
};

struct DeviceInfo {
  const config::DeviceConfig* config = nullptr;  // id, cid, parent, name, product, category
  const model::DerivedModel* model = nullptr;
  std::string firmware_version;  // device block sw_version ("" = unknown)
  bool firmware_update = false;  // add the firmware update entity (the cloud knows its firmware)
  std::vector<EventEntity> events;
};

// "<prefix>/device/tuya_<devId>[_<cid>]/config" (characters outside [A-Za-z0-9_-] become '_').
std::string discovery_topic(const Options& options, const config::DeviceConfig& device);
// "<prefix>/device/tuya2mqtt_bridge_<base>/config".
std::string bridge_discovery_topic(const Options& options);
// The device block identifier: "tuya2mqtt_<devId>[_<cid>]" (also used for via_device).
std::string device_identifier(const config::DeviceConfig& device);
std::string bridge_identifier(const Options& options);
// Unique id of one entity: "<devId>[_<cid>]_<entity key>".
std::string unique_id(const config::DeviceConfig& device, std::string_view entity_key);
// <base>/<name>/action: where scene-switch presses (and caller events) are published, not retained.
std::string action_topic(const Options& options, std::string_view friendly_name);

// The whole device-based discovery payload. `removed` lists component keys published before that this
// payload no longer has: they are sent as {"platform": <p>} so that HA deletes them (HA's documented way
// to drop one component of a device). Components are keyed by entity key.
nlohmann::json device_discovery(const DeviceInfo& info, const Options& options,
                                const std::vector<std::pair<std::string, std::string>>& removed = {});
// The bridge device: connectivity binary_sensor, version sensor, scene-run event entity (if scenes given).
nlohmann::json bridge_discovery(const Options& options, const std::vector<std::string>& scenes = {});

// Component key -> platform of a discovery payload (for tracking what to remove on the next publish).
std::vector<std::pair<std::string, std::string>> components_of(const nlohmann::json& payload);

// True for DPs whose reports are button presses rather than state (scene switches): read-only enum DPs
// coded switch<N>_value, switch_type_<N>, switch_mode<N> or scene_<N>.
bool is_action_dp(const model::DpDescription& dp);
// The action topic payloads for a report (the DPs that changed): one {"event_type","source"} per action
// DP in `dps` (wire form). Empty when the report has none.
std::vector<nlohmann::json> events_from_report(const model::DerivedModel& model, const nlohmann::json& dps);

// Jinja string literal for HA templates: 'text' with \ and ' escaped.
std::string jinja_string(std::string_view s);

}  // namespace t2m::mqtt::ha

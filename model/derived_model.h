// Device models: what each DP of a device means, and which Home Assistant entities the device has (pure).
//
// 1. DP descriptions. Every DP gets a DpDescription: code (the property name used in MQTT state and
//    commands), spec (type, range, step, scale, unit, enum values), access and where it came from.
//    Sources, highest precedence first:
//      a. the user's per-DP overrides in the config ("dps": {"19": {"scale": 2}}), field by field;
//      b. the cloud specification saved in the device list (tinytuya "mapping");
//      c. the built-in template for the device's category (templates.h).
//    DPs the device reports that no source describes still appear: as raw values keyed by their id
//    (DpDescription::known == false). When the device has reported its DPs, template DPs it does not have
//    are dropped (a 1-gang switch does not get four switch entities).
//
// 2. Entities. derive_model() groups DPs into HA entities by their Tuya codes (the standard instruction
//    set), so the same rules work for cloud mappings and templates:
//      light          roles: state (switch_led[_N]), brightness (bright_value[_v2][_N]),
//                     color_temp (temp_value[_v2][_N]), color (colour_data[_v2][_N]), mode (work_mode[_N])
//      cover          roles: control (control: open/stop/close enum), position (percent_control, command),
//                     position_state (percent_state, report), work_state (work_state: opening/closing)
//      fan            (category fs) roles: state (switch), percentage (fan_speed_percent) or speed
//                     (fan_speed enum), preset (mode), oscillation (switch_horizontal), direction
//                     (fan_direction)
//      climate        (category wk, or temp_set + temp_current) roles: state (switch), target (temp_set),
//                     current (temp_current), preset (mode)
//      sensor         one per metering/measurement DP, with HA device_class, state_class and unit:
//                     cur_power -> power W measurement; cur_voltage -> voltage V; cur_current -> current mA;
//                     add_ele -> energy kWh total_increasing (HA Energy dashboard); va_temperature /
//                     temp_current -> temperature °C; va_humidity -> humidity %; battery_percentage ->
//                     battery %; battery_state -> enum sensor
//      binary_sensor  doorcontact_state (door), pir_state (motion), smoke_sensor_status (smoke),
//                     watersensor_state (moisture), gas_sensor_status (gas)
//      switch         switch, switch_N, switch_usbN, and any other writable boolean
//      number/select/text  writable integer / enum / string DPs not used by an entity above
//      (read-only integers become sensors, read-only booleans binary_sensors, read-only enums enum sensors;
//      raw, bitmap, json and read-only string DPs get no entity but are always in the state JSON.)
//    A per-DP override "component" forces a simple component for that DP ("none" hides it).
//
// 3. The MQTT state JSON (built by state_from_dps in convert.h) has, for every DP reported:
//      "<code>": real value (scaled numbers, booleans, enum strings, ...), or "<dp id>": raw value when
//      the DP is unknown; plus the entity keys below; plus "dps": the raw wire object (tinytuya users).
//    The main entity (first light, else cover, else fan, else climate, else first switch) owns the plain
//    keys; other lights/covers/fans/climates get them suffixed with "_<entity key>" (a second dimmer
//    gang: "state_light_2", "brightness_light_2"; an HA JSON-schema light reads fixed keys, so discovery
//    must give such an entity a template or its own state topic):
//      light: "state" ("ON"/"OFF"), "brightness" (0-255), "color_mode" ("hs"/"color_temp"/"brightness"/
//             "onoff"), "color" {"h": 0-360, "s": 0-100}, "color_temp" (Kelvin)
//      cover: "state" ("open"/"opening"/"closed"/"closing"/"stopped"), "position" (0-100, 100 = open)
//      fan / climate / switch (main only): "state" ("ON"/"OFF") mirrors the power DP
//    Entity::state_keys gives the exact key per role, so discovery never guesses.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "model/colour.h"
#include "protocol/dps.h"

namespace t2m::model {

enum class DpSource { OVERRIDE, CLOUD, TEMPLATE, UNKNOWN };
std::string_view to_string(DpSource source);

struct DpDescription {
  int id = 0;
  std::string code;  // property name; empty when unknown (then the id is used)
  proto::DpSpec spec;
  bool writable = true;
  bool known = true;  // false: nothing describes this DP; values pass through raw
  DpSource source = DpSource::UNKNOWN;
  // Property name in MQTT state/commands: the code, or the id as a string.
  std::string property() const { return code.empty() ? std::to_string(id) : code; }
  bool operator==(const DpDescription&) const = default;
};

enum class Component { LIGHT, COVER, FAN, CLIMATE, SWITCH, SENSOR, BINARY_SENSOR, NUMBER, SELECT, TEXT };
std::string_view to_string(Component component);  // HA platform name: "light", "binary_sensor", ...

// Role names used in Entity::dps and Entity::state_keys.
namespace role {
inline constexpr std::string_view STATE = "state";  // power / on-off DP (bool)
inline constexpr std::string_view VALUE = "value";  // the DP of a single-DP entity
inline constexpr std::string_view BRIGHTNESS = "brightness";
inline constexpr std::string_view COLOR_TEMP = "color_temp";
inline constexpr std::string_view COLOR = "color";
inline constexpr std::string_view COLOR_MODE = "color_mode";  // state key only
inline constexpr std::string_view MODE = "mode";              // light work_mode
inline constexpr std::string_view CONTROL = "control";        // cover open/stop/close
inline constexpr std::string_view POSITION = "position";      // cover position command (and state key)
inline constexpr std::string_view POSITION_STATE = "position_state";
inline constexpr std::string_view WORK_STATE = "work_state";
inline constexpr std::string_view PERCENTAGE = "percentage";  // fan speed 0-100
inline constexpr std::string_view SPEED = "speed";            // fan speed enum
inline constexpr std::string_view PRESET = "preset";          // fan/climate mode enum
inline constexpr std::string_view OSCILLATION = "oscillation";
inline constexpr std::string_view DIRECTION = "direction";
inline constexpr std::string_view TARGET = "target";    // climate target temperature
inline constexpr std::string_view CURRENT = "current";  // climate current temperature
}  // namespace role

struct LightInfo {
  ColourFormat colour_format = ColourFormat::HEX12;  // wire form of the colour DP (auto-detected on read)
  int brightness_min = 0;                            // raw range of the brightness DP
  int brightness_max = 0;
  int temp_max = 0;  // raw maximum of the colour-temperature DP (255 v1, 1000 v2)
  int kelvin_min = config::DEFAULT_KELVIN_MIN;
  int kelvin_max = config::DEFAULT_KELVIN_MAX;
  // HA supported_color_modes: {"hs","color_temp"}, {"hs"}, {"color_temp"}, {"brightness"} or {"onoff"}.
  std::vector<std::string> color_modes;
  bool operator==(const LightInfo&) const = default;
};

struct Entity {
  Component component = Component::SENSOR;
  // Stable id within the device, [a-z0-9_]: "light", "light_2", "cover", "switch_1", "cur_power".
  // Use it for unique_id (<devId>[_<cid>]_<key>) and object_id.
  std::string key;
  std::string name;   // display name; empty = the device's main feature (HA "name": null)
  bool main = false;  // owns the plain "state" key
  std::map<std::string, int, std::less<>> dps;                 // role -> DP id
  std::map<std::string, std::string, std::less<>> state_keys;  // role -> key in the MQTT state JSON
  // Key to send in a /set JSON object to command this entity's main value (same as the state key for
  // simple entities, e.g. "switch_1", "temp_set"; "state" for the main switch/light).
  std::string command_key;
  bool writable = false;
  // HA metadata (empty = not applicable).
  std::string device_class;
  std::string state_class;
  std::string unit;
  std::string entity_category;  // "config" / "diagnostic" / ""
  int precision = -1;           // suggested_display_precision, -1 = none
  // number / fan percentage / climate target: real-unit range and step.
  std::optional<double> min;
  std::optional<double> max;
  std::optional<double> step;
  std::vector<std::string> options;  // select options, enum sensor options, fan/climate presets
  // binary_sensor / switch: the values of the state key meaning on / off (e.g. true/false, "alarm"/"normal",
  // "ON"/"OFF").
  nlohmann::json payload_on;
  nlohmann::json payload_off;
  LightInfo light;      // LIGHT only
  bool invert = false;  // COVER: device reports 0 = open (config::DeviceConfig::invert_position)
  bool operator==(const Entity&) const = default;
};

struct DerivedModel {
  std::string category;
  std::string template_name;  // template used, "" if none
  std::map<int, DpDescription> dps;
  std::vector<Entity> entities;

  const DpDescription* find_dp(int id) const;
  // By property name: code, or DP id as a string.
  const DpDescription* find_property(std::string_view property) const;
  const Entity* main_entity() const;
  bool operator==(const DerivedModel&) const = default;
};

// Builds the model of one device from its config (overrides, cloud mapping, category) and, if known,
// the DPs it reported (a wire `dps` object; pass the merged cache after the first DP_QUERY and rebuild if
// new DP ids show up). Never fails: unreadable sources are skipped (config validation already reported
// them).
DerivedModel derive_model(const config::DeviceConfig& device, const nlohmann::json& reported_dps = nullptr);

// A code or key as an entity's default name: "switch_usb1" -> "Switch usb1".
std::string humanize(std::string_view code);

// HA unit spelling for a Tuya unit ("kwh" -> "kWh", "℃" -> "°C", "w" -> "W", ...).
std::string ha_unit(std::string_view tuya_unit);

}  // namespace t2m::model

// Entity grouping (derived_model.h, part 2): which HA entities a device's DPs make, by their Tuya codes.
#include "model/entity_rules.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "model/model_util.h"

namespace t2m::model::detail {
namespace {

using proto::DpSpec;
using proto::DpType;

// Light layouts (templates.h): v1 puts its DPs at 1-5, v2 at 20-26. A colour DP below 20 is a v1
// 14-hex-char colour.
constexpr int FIRST_V2_LIGHT_DP = 20;
constexpr int V1_BRIGHTNESS_MIN = 25;
constexpr int V1_SV_MAX = 255;
constexpr int V2_BRIGHTNESS_MIN = 10;
constexpr int V2_SV_MAX = 1000;
// Gang suffixes tried for multi-channel lights/dimmers (switch_led_1 .. switch_led_4).
constexpr std::string_view LIGHT_SUFFIXES[] = {"", "_1", "_2", "_3", "_4"};

// Entity key: [a-z0-9_] only.
std::string entity_key(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '_';
  }
  return out.empty() ? "dp" : out;
}

double real(int64_t raw, int scale) {
  return static_cast<double>(raw) / proto::scale_factor(scale);
}

struct SensorRule {
  std::string_view code;
  std::string_view name;
  std::string_view device_class;
  std::string_view state_class;
  std::string_view default_unit;
  std::string_view entity_category;
};

// Measurement DPs -> HA sensors. energy is total_increasing so that it appears in HA's Energy dashboard.
constexpr SensorRule SENSOR_RULES[] = {
    {"cur_power", "Power", "power", "measurement", "W", ""},
    {"cur_voltage", "Voltage", "voltage", "measurement", "V", ""},
    {"cur_current", "Current", "current", "measurement", "mA", ""},
    {"add_ele", "Energy", "energy", "total_increasing", "kWh", ""},
    {"va_temperature", "Temperature", "temperature", "measurement", "°C", ""},
    {"temp_current", "Temperature", "temperature", "measurement", "°C", ""},
    {"temp_indoor", "Temperature", "temperature", "measurement", "°C", ""},
    {"va_humidity", "Humidity", "humidity", "measurement", "%", ""},
    {"humidity_value", "Humidity", "humidity", "measurement", "%", ""},
    {"humidity_indoor", "Humidity", "humidity", "measurement", "%", ""},
    {"battery_percentage", "Battery", "battery", "measurement", "%", "diagnostic"},
    {"va_battery", "Battery", "battery", "measurement", "%", "diagnostic"},
    {"gas_sensor_value", "Gas", "", "measurement", "ppm", ""},
};

struct BinaryRule {
  std::string_view code;
  std::string_view name;
  std::string_view device_class;
  const char* on;  // enum value meaning "on"; nullptr = boolean DP (true = on)
};

constexpr BinaryRule BINARY_RULES[] = {
    {"doorcontact_state", "Door", "door", nullptr},
    {"pir_state", "Motion", "motion", "pir"},
    {"smoke_sensor_status", "Smoke", "smoke", "alarm"},
    {"smoke_sensor_state", "Smoke", "smoke", "1"},
    {"watersensor_state", "Water leak", "moisture", "alarm"},
    {"gas_sensor_status", "Gas", "gas", "alarm"},
    {"gas_sensor_state", "Gas", "gas", "1"},
};

// Settings rather than controls (HA entity_category "config").
bool config_code(std::string_view code) {
  return code == "child_lock" || code == "muffling" || code == "control_back" || code == "led_type_1" ||
         code.rfind("brightness_min", 0) == 0 || code.rfind("countdown", 0) == 0 || code == "relay_status" ||
         code == "light_mode" || code == "temp_unit_convert";
}

class Builder {
 public:
  Builder(DerivedModel& m, const config::DeviceConfig& d) : m_(m), d_(d) {
    for (const auto& [id, desc] : m_.dps) {
      if (!desc.code.empty()) by_code_.emplace(desc.code, id);
    }
  }

  void run() {
    forced_components();
    lights();
    covers();
    fan();
    climate();
    binary_sensors();
    sensors();
    generic();
    pick_main();
    apply_entity_overrides();
  }

 private:
  std::optional<int> free_code(std::string_view code) const {
    auto it = by_code_.find(std::string(code));
    if (it == by_code_.end() || claimed_.count(it->second)) return std::nullopt;
    return it->second;
  }
  const DpDescription& dp(int id) const { return m_.dps.at(id); }

  Entity simple(Component c, int id, std::string name) {
    const DpDescription& d = dp(id);
    Entity e;
    e.component = c;
    e.key = entity_key(d.code.empty() ? "dp_" + std::to_string(id) : d.code);
    e.name = std::move(name);
    e.dps[std::string(role::VALUE)] = id;
    e.state_keys[std::string(role::VALUE)] = d.property();
    e.writable = d.writable;
    if (d.writable) e.command_key = d.property();
    claimed_.insert(id);
    return e;
  }

  void add(Entity e) { m_.entities.push_back(std::move(e)); }

  void make_simple(Component c, int id, const std::string& name) {
    const DpDescription& d = dp(id);
    Entity e = simple(c, id, name);
    const DpSpec& s = d.spec;
    switch (c) {
      case Component::SWITCH:
        e.payload_on = true;
        e.payload_off = false;
        if (config_code(d.code)) e.entity_category = "config";
        if (d.code.rfind("switch", 0) == 0 && (lower(d_.category) == "cz" || lower(d_.category) == "pc")) {
          e.device_class = "outlet";
        }
        break;
      case Component::NUMBER:
        if (s.has_range) {
          e.min = real(s.min, s.scale);
          e.max = real(s.max, s.scale);
        }
        e.step = real(s.step, s.scale);
        e.unit = ha_unit(s.unit);
        if (config_code(d.code)) e.entity_category = "config";
        break;
      case Component::SELECT:
        e.options = s.range;
        if (config_code(d.code)) e.entity_category = "config";
        break;
      case Component::TEXT:
        if (s.max_len) e.max = static_cast<double>(s.max_len);
        break;
      case Component::SENSOR:
        if (s.type == DpType::ENUM) {
          e.device_class = "enum";
          e.options = s.range;
        } else if (s.type == DpType::INTEGER) {
          e.unit = ha_unit(s.unit);
          e.state_class = "measurement";
          e.precision = s.scale > 0 ? s.scale : -1;
          if (e.unit == "°C" || e.unit == "°F") e.device_class = "temperature";
          if (e.unit == "W" || e.unit == "kW") e.device_class = "power";
          if (e.unit == "V") e.device_class = "voltage";
          if (e.unit == "A" || e.unit == "mA") e.device_class = "current";
          if (e.unit == "kWh" || e.unit == "Wh") {
            e.device_class = "energy";
            e.state_class = "total_increasing";
          }
        }
        break;
      case Component::BINARY_SENSOR:
        e.payload_on = true;
        e.payload_off = false;
        break;
      default:
        break;
    }
    add(std::move(e));
  }

  // Per-DP "component" overrides are honoured before any rule.
  void forced_components() {
    for (const auto& [id, o] : d_.dps) {
      if (!o.component || !m_.dps.count(id)) continue;
      const std::string& c = *o.component;
      if (c == "none") {
        claimed_.insert(id);
        continue;
      }
      static const std::map<std::string, Component, std::less<>> simple_components = {
          {"sensor", Component::SENSOR}, {"binary_sensor", Component::BINARY_SENSOR},
          {"switch", Component::SWITCH}, {"number", Component::NUMBER},
          {"select", Component::SELECT}, {"text", Component::TEXT}};
      auto it = simple_components.find(c);
      if (it == simple_components.end()) continue;  // composite components come from the rules
      make_simple(it->second, id, o.name.value_or(humanize(dp(id).property())));
    }
  }

  void lights() {
    int n = 0;
    for (std::string_view suffix : LIGHT_SUFFIXES) {
      const std::string sfx(suffix);
      const auto state = free_code("switch_led" + sfx);
      if (!state) continue;
      Entity e;
      e.component = Component::LIGHT;
      ++n;
      e.key = n == 1 ? "light" : "light_" + std::to_string(n);
      e.writable = true;
      e.dps[std::string(role::STATE)] = *state;
      claimed_.insert(*state);
      auto take = [&](std::string_view r, std::initializer_list<std::string> codes) -> std::optional<int> {
        for (const auto& c : codes) {
          if (auto id = free_code(c + sfx)) {
            e.dps[std::string(r)] = *id;
            claimed_.insert(*id);
            return id;
          }
        }
        return std::nullopt;
      };
      const auto bright = take(role::BRIGHTNESS, {"bright_value_v2", "bright_value"});
      const auto temp = take(role::COLOR_TEMP, {"temp_value_v2", "temp_value"});
      const auto colour = take(role::COLOR, {"colour_data_v2", "colour_data"});
      take(role::MODE, {"work_mode"});
      const bool v1 = (colour && *colour < FIRST_V2_LIGHT_DP) ||
                      (!colour && *state < FIRST_V2_LIGHT_DP && bright &&
                       dp(*bright).code == "bright_value" && dp(*bright).spec.max <= V1_SV_MAX);
      LightInfo& li = e.light;
      li.colour_format = colour && *colour < FIRST_V2_LIGHT_DP ? ColourFormat::HEX14 : ColourFormat::HEX12;
      if (bright) {
        const DpSpec& s = dp(*bright).spec;
        li.brightness_min =
            s.has_range ? static_cast<int>(s.min) : (v1 ? V1_BRIGHTNESS_MIN : V2_BRIGHTNESS_MIN);
        li.brightness_max = s.has_range ? static_cast<int>(s.max) : (v1 ? V1_SV_MAX : V2_SV_MAX);
      }
      if (temp) {
        const DpSpec& s = dp(*temp).spec;
        li.temp_max = s.has_range && s.max > 0 ? static_cast<int>(s.max) : (v1 ? V1_SV_MAX : V2_SV_MAX);
      }
      li.kelvin_min = d_.kelvin_min;
      li.kelvin_max = d_.kelvin_max;
      if (colour) li.color_modes.push_back("hs");
      if (temp) li.color_modes.push_back("color_temp");
      if (li.color_modes.empty()) li.color_modes.push_back(bright ? "brightness" : "onoff");
      if (n > 1) e.name = "Light " + std::to_string(n);
      add(std::move(e));
    }
  }

  void covers() {
    const auto control = free_code("control");
    const auto position = free_code("percent_control");
    const bool is_cover =
        lower(d_.category) == "cl" || position.has_value() ||
        (control && std::count(dp(*control).spec.range.begin(), dp(*control).spec.range.end(), "open"));
    if (!is_cover || (!control && !position)) return;
    Entity e;
    e.component = Component::COVER;
    e.key = "cover";
    e.writable = true;
    e.device_class = "curtain";
    e.invert = d_.invert_position;
    auto put = [&](std::string_view r, std::optional<int> id) {
      if (!id) return;
      e.dps[std::string(r)] = *id;
      claimed_.insert(*id);
    };
    put(role::CONTROL, control);
    put(role::POSITION, position);
    put(role::POSITION_STATE, free_code("percent_state"));
    put(role::WORK_STATE, free_code("work_state"));
    add(std::move(e));
  }

  void fan() {
    const bool fs = lower(d_.category) == "fs";
    const auto pct = free_code("fan_speed_percent");
    const auto speed = free_code("fan_speed");
    if (!fs && !pct && !speed) return;
    const auto power = free_code("switch");
    if (!power && !pct && !speed) return;
    Entity e;
    e.component = Component::FAN;
    e.key = "fan";
    e.writable = true;
    auto put = [&](std::string_view r, std::optional<int> id) {
      if (!id) return;
      e.dps[std::string(r)] = *id;
      claimed_.insert(*id);
    };
    put(role::STATE, power);
    put(role::PERCENTAGE, pct);
    put(role::SPEED, speed);
    if (pct) {
      const DpSpec& s = dp(*pct).spec;
      if (s.has_range) {
        e.min = real(s.min, s.scale);
        e.max = real(s.max, s.scale);
      }
    }
    if (speed) e.options = dp(*speed).spec.range;
    if (auto mode = free_code("mode")) {
      put(role::PRESET, mode);
      e.options = dp(*mode).spec.range;
    }
    put(role::OSCILLATION, free_code("switch_horizontal"));
    put(role::DIRECTION, free_code("fan_direction"));
    add(std::move(e));
  }

  void climate() {
    const auto target = free_code("temp_set");
    if (!target) return;
    Entity e;
    e.component = Component::CLIMATE;
    e.key = "climate";
    e.writable = true;
    auto put = [&](std::string_view r, std::optional<int> id) {
      if (!id) return;
      e.dps[std::string(r)] = *id;
      claimed_.insert(*id);
    };
    put(role::TARGET, target);
    put(role::STATE, free_code("switch"));
    const DpSpec& s = dp(*target).spec;
    if (s.has_range) {
      e.min = real(s.min, s.scale);
      e.max = real(s.max, s.scale);
    }
    e.step = real(s.step, s.scale);
    e.unit = ha_unit(s.unit.empty() ? "°C" : s.unit);
    if (auto mode = free_code("mode")) {
      put(role::PRESET, mode);
      e.options = dp(*mode).spec.range;
    }
    // The current temperature stays a sensor of its own too (history, statistics): not claimed.
    if (auto it = by_code_.find("temp_current"); it != by_code_.end())
      e.dps[std::string(role::CURRENT)] = it->second;
    add(std::move(e));
  }

  void binary_sensors() {
    for (const auto& r : BINARY_RULES) {
      const auto id = free_code(r.code);
      if (!id) continue;
      Entity e = simple(Component::BINARY_SENSOR, *id, std::string(r.name));
      e.device_class = std::string(r.device_class);
      e.writable = false;
      e.command_key.clear();
      if (r.on) {
        e.payload_on = r.on;
        const auto& range = dp(*id).spec.range;
        if (range.size() == 2) e.payload_off = range[0] == r.on ? range[1] : range[0];
      } else {
        e.payload_on = true;
        e.payload_off = false;
      }
      add(std::move(e));
    }
  }

  void sensors() {
    for (const auto& r : SENSOR_RULES) {
      const auto id = free_code(r.code);
      if (!id) continue;
      const DpSpec& s = dp(*id).spec;
      Entity e = simple(Component::SENSOR, *id, std::string(r.name));
      e.writable = false;
      e.command_key.clear();
      e.device_class = std::string(r.device_class);
      e.state_class = std::string(r.state_class);
      e.unit = s.unit.empty() ? std::string(r.default_unit) : ha_unit(s.unit);
      e.entity_category = std::string(r.entity_category);
      e.precision = s.scale > 0 ? s.scale : -1;
      add(std::move(e));
    }
    if (auto id = free_code("battery_state")) {
      Entity e = simple(Component::SENSOR, *id, "Battery level");
      e.writable = false;
      e.command_key.clear();
      e.device_class = "enum";
      e.options = dp(*id).spec.range;
      e.entity_category = "diagnostic";
      add(std::move(e));
    }
  }

  void generic() {
    for (const auto& [id, d] : m_.dps) {
      if (claimed_.count(id) || !d.known) continue;
      const std::string name = humanize(d.property());
      switch (d.spec.type) {
        case DpType::BOOL:
          make_simple(d.writable ? Component::SWITCH : Component::BINARY_SENSOR, id, name);
          break;
        case DpType::INTEGER:
          make_simple(d.writable ? Component::NUMBER : Component::SENSOR, id, name);
          break;
        case DpType::ENUM:
          make_simple(d.writable ? Component::SELECT : Component::SENSOR, id, name);
          break;
        case DpType::STRING:
          if (d.writable) make_simple(Component::TEXT, id, name);
          break;
        case DpType::RAW:
        case DpType::BITMAP:
        case DpType::JSON:
          break;
      }
    }
  }

  void pick_main() {
    Entity* main = nullptr;
    for (Component c : {Component::LIGHT, Component::COVER, Component::FAN, Component::CLIMATE}) {
      for (auto& e : m_.entities) {
        if (!main && e.component == c) main = &e;
      }
    }
    if (!main) {
      for (std::string_view code : {"switch", "switch_1", "switch_led"}) {
        for (auto& e : m_.entities) {
          if (!main && e.component == Component::SWITCH && e.dps.count(role::VALUE) &&
              dp(e.dps.at(std::string(role::VALUE))).code == code) {
            main = &e;
          }
        }
      }
    }
    if (main) {
      main->main = true;
      if (main->component == Component::SWITCH) {
        main->name.clear();
        main->state_keys[std::string(role::VALUE)] = "state";
        main->command_key = "state";
        main->payload_on = "ON";
        main->payload_off = "OFF";
      }
    }
    // Composite entities: main gets plain keys, others "<key>_<entity key>".
    for (auto& e : m_.entities) {
      const bool composite = e.component == Component::LIGHT || e.component == Component::COVER ||
                             e.component == Component::FAN || e.component == Component::CLIMATE;
      if (!composite) continue;
      const std::string sfx = e.main ? "" : "_" + e.key;
      auto key = [&](std::string_view r) { e.state_keys[std::string(r)] = std::string(r) + sfx; };
      if (!e.main && e.name.empty()) e.name = humanize(e.key);
      switch (e.component) {
        case Component::LIGHT:
          key(role::STATE);
          if (e.dps.count(role::BRIGHTNESS) || e.dps.count(role::COLOR)) key(role::BRIGHTNESS);
          if (e.dps.count(role::COLOR)) key(role::COLOR);
          if (e.dps.count(role::COLOR_TEMP)) key(role::COLOR_TEMP);
          key(role::COLOR_MODE);
          e.command_key = e.state_keys[std::string(role::STATE)];
          e.payload_on = "ON";
          e.payload_off = "OFF";
          break;
        case Component::COVER:
          key(role::STATE);
          if (e.dps.count(role::POSITION) || e.dps.count(role::POSITION_STATE)) key(role::POSITION);
          e.command_key = e.state_keys[std::string(role::STATE)];
          break;
        case Component::FAN:
        case Component::CLIMATE:
          // Power: "state" ON/OFF; other roles are addressed through their DP codes.
          if (e.dps.count(role::STATE)) {
            key(role::STATE);
            e.command_key = e.state_keys[std::string(role::STATE)];
            e.payload_on = "ON";
            e.payload_off = "OFF";
          }
          for (const auto& [r, id] : e.dps) {
            if (r != role::STATE) e.state_keys[r] = dp(id).property();
          }
          break;
        default:
          break;
      }
    }
  }

  void apply_entity_overrides() {
    for (auto& e : m_.entities) {
      auto v = e.dps.find(role::VALUE);
      if (v == e.dps.end()) continue;
      auto o = d_.dps.find(v->second);
      if (o == d_.dps.end()) continue;
      if (o->second.device_class) e.device_class = *o->second.device_class;
      if (o->second.state_class) e.state_class = *o->second.state_class;
      if (o->second.name && !e.main) e.name = *o->second.name;
      if (o->second.unit) e.unit = ha_unit(*o->second.unit);
    }
  }

  DerivedModel& m_;
  const config::DeviceConfig& d_;
  std::map<std::string, int> by_code_;
  std::set<int> claimed_;
};

}  // namespace

void derive_entities(DerivedModel& model, const config::DeviceConfig& device) {
  Builder(model, device).run();
}

}  // namespace t2m::model::detail

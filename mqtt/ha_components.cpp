// HA discovery: the payload of each component, one builder per platform (ha_components.h). The device
// envelope around them is ha_discovery.cpp.
#include "mqtt/ha_components.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "model/convert.h"

namespace t2m::mqtt::ha::detail {
namespace {

using model::Component;
using model::Entity;
using nlohmann::json;
namespace role = model::role;
using model::humanize;

constexpr int HA_BRIGHTNESS_SCALE = 255;
constexpr int POSITION_OPEN = 100;
constexpr int POSITION_CLOSED = 0;
constexpr double MIREDS_PER_KELVIN = 1e6;
// A number entity with more steps than this gets an input box instead of a slider.
constexpr double SLIDER_MAX_STEPS = 1000;
// Without a known range a number gets HA's widest practical bounds rather than HA's default 1-100.
constexpr double NUMBER_UNBOUNDED = 1e6;
// HA climate precision accepts only these values.
constexpr double PRECISION_TENTHS = 0.1;
constexpr double PRECISION_HALVES = 0.5;
constexpr double PRECISION_WHOLE = 1.0;
constexpr std::string_view ON = "ON";
constexpr std::string_view OFF = "OFF";

// value_json['key']
std::string vj(std::string_view key) {
  return "value_json[" + jinja_string(key) + "]";
}

// Renders `expr` only when the state carries `key`: an empty rendering is ignored by HA, whereas a
// missing key would otherwise read as "off".
std::string guarded(std::string_view key, const std::string& expr) {
  return "{% if " + vj(key) + " is defined %}" + expr + "{% endif %}";
}

std::string plain_value(std::string_view key) {
  return "{{ " + vj(key) + " }}";
}

// {"<key>": <value>} as a JSON text (command payloads).
std::string json_command(std::string_view key, const json& value) {
  json j = json::object();
  j[std::string(key)] = value;
  return j.dump();
}

// {"<key>": <jinja expression>} as a command template.
std::string command_template(std::string_view key, const std::string& expr) {
  return "{" + json(std::string(key)).dump() + ": {{ " + expr + " }}}";
}

std::string state_key(const Entity& e, std::string_view r) {
  auto it = e.state_keys.find(r);
  return it == e.state_keys.end() ? std::string() : it->second;
}

std::optional<int> role_dp(const Entity& e, std::string_view r) {
  auto it = e.dps.find(r);
  if (it == e.dps.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> dp_range(const model::DerivedModel& m, std::optional<int> id) {
  if (!id) return {};
  const auto* d = m.find_dp(*id);
  return d ? d->spec.range : std::vector<std::string>{};
}

std::string jinja_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + jinja_string(items[i]);
  return out + "]";
}

// A JSON scalar as a Jinja literal ('text', true, 1.5).
std::string jinja_literal(const json& v) {
  if (v.is_string()) return jinja_string(v.get<std::string>());
  return v.dump();
}

}  // namespace

// Entity id part: lower case, [a-z0-9_], no doubled or edge '_'.
std::string slug(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "device" : out;
}

ComponentBuilder::ComponentBuilder(const DeviceInfo& info, const Options& options)
    : cfg_(*info.config),
      model_(*info.model),
      o_(options),
      topics_(options.base_topic),
      name_(cfg_.display_name()) {}

json ComponentBuilder::availability(bool device_too) const {
  json a = json::array();
  a.push_back(
      json{{"topic", topics_.bridge_state()}, {"value_template", std::string(AVAILABILITY_TEMPLATE)}});
  if (device_too) {
    a.push_back(
        json{{"topic", topics_.availability(name_)}, {"value_template", std::string(AVAILABILITY_TEMPLATE)}});
  }
  return a;
}

json ComponentBuilder::base(std::string_view platform, std::string_view key, const std::string& name,
                            bool device_available) const {
  json c{{"platform", std::string(platform)}, {"unique_id", unique_id(cfg_, key)}};
  const std::string entity_part = name.empty() ? slug(name_) : slug(name_) + "_" + slug(key);
  c["name"] = name.empty() ? json(nullptr) : json(name);
  c["object_id"] = entity_part;
  c["default_entity_id"] = std::string(platform) + "." + entity_part;
  c["availability"] = availability(device_available);
  c["availability_mode"] = "all";
  return c;
}

json ComponentBuilder::entity(const Entity& e) const {
  const std::string name = e.main ? std::string() : (e.name.empty() ? humanize(e.key) : e.name);
  json c = base(model::to_string(e.component), e.key, name);
  if (!e.entity_category.empty()) c["entity_category"] = e.entity_category;
  const std::string st = topics_.state(name_);
  const std::string set = topics_.set(name_);
  const std::string value_key = state_key(e, role::VALUE);
  switch (e.component) {
    case Component::SWITCH: {
      if (value_key.empty() || e.command_key.empty()) return nullptr;
      c["state_topic"] = st;
      c["value_template"] = guarded(
          value_key, "{{ 'ON' if " + vj(value_key) + " == " + jinja_literal(e.payload_on) + " else 'OFF' }}");
      c["state_on"] = ON;
      c["state_off"] = OFF;
      c["command_topic"] = set;
      c["payload_on"] = json_command(e.command_key, e.payload_on);
      c["payload_off"] = json_command(e.command_key, e.payload_off);
      if (!e.device_class.empty()) c["device_class"] = e.device_class;
      break;
    }
    case Component::BINARY_SENSOR: {
      if (value_key.empty()) return nullptr;
      c["state_topic"] = st;
      c["value_template"] = guarded(
          value_key, "{{ 'ON' if " + vj(value_key) + " == " + jinja_literal(e.payload_on) + " else 'OFF' }}");
      c["payload_on"] = ON;
      c["payload_off"] = OFF;
      if (!e.device_class.empty()) c["device_class"] = e.device_class;
      break;
    }
    case Component::SENSOR: {
      if (value_key.empty()) return nullptr;
      c["state_topic"] = st;
      c["value_template"] = plain_value(value_key);
      if (!e.device_class.empty()) c["device_class"] = e.device_class;
      if (e.device_class == "enum") {
        // HA refuses a unit or a state_class on enum sensors.
        c["options"] = e.options;
      } else {
        if (!e.state_class.empty()) c["state_class"] = e.state_class;
        if (!e.unit.empty()) c["unit_of_measurement"] = e.unit;
        if (e.precision >= 0) c["suggested_display_precision"] = e.precision;
      }
      break;
    }
    case Component::NUMBER: {
      if (value_key.empty() || e.command_key.empty()) return nullptr;
      c["state_topic"] = st;
      c["value_template"] = plain_value(value_key);
      c["command_topic"] = set;
      c["command_template"] = command_template(e.command_key, "value");
      const double step = e.step.value_or(1.0) > 0 ? e.step.value_or(1.0) : 1.0;
      const double lo = e.min.value_or(0.0);
      const double hi = e.max.value_or(NUMBER_UNBOUNDED);
      c["min"] = lo;
      c["max"] = hi;
      c["step"] = step;
      c["mode"] = (hi - lo) / step > SLIDER_MAX_STEPS ? "box" : "auto";
      if (!e.unit.empty()) c["unit_of_measurement"] = e.unit;
      break;
    }
    case Component::SELECT: {
      if (value_key.empty() || e.command_key.empty() || e.options.empty()) return nullptr;
      c["state_topic"] = st;
      c["value_template"] = plain_value(value_key);
      c["command_topic"] = set;
      c["command_template"] = command_template(e.command_key, "value | to_json");
      c["options"] = e.options;
      break;
    }
    case Component::TEXT: {
      if (value_key.empty() || e.command_key.empty()) return nullptr;
      c["state_topic"] = st;
      c["value_template"] = plain_value(value_key);
      c["command_topic"] = set;
      c["command_template"] = command_template(e.command_key, "value | to_json");
      c["min"] = 0;
      c["max"] = e.max ? std::min(static_cast<int>(*e.max), HA_TEXT_MAX) : HA_TEXT_MAX;
      c["mode"] = "text";
      break;
    }
    case Component::LIGHT:
      return e.main ? json_light(e, c) : template_light(e, c);
    case Component::COVER:
      return cover(e, c);
    case Component::FAN:
      return fan(e, c);
    case Component::CLIMATE:
      return climate(e, c);
  }
  return c;
}

// Effects: the light's mode DP values other than white/colour, if the converter maps "effect".
std::vector<std::string> ComponentBuilder::effects(const Entity& e) const {
  std::vector<std::string> out;
  for (const auto& v : dp_range(model_, role_dp(e, role::MODE))) {
    if (v != "white" && v != "colour" && v != "color") out.push_back(v);
  }
  if (out.empty()) return out;
  auto probe = model::command_to_dps(model_, json{{"effect", out.front()}});
  if (!probe.ok() || probe.value().empty()) return {};
  return out;
}

json ComponentBuilder::json_light(const Entity& e, json c) const {
  const model::LightInfo& li = e.light;
  c["schema"] = "json";
  c["state_topic"] = topics_.state(name_);
  c["command_topic"] = topics_.set(name_);
  c["supported_color_modes"] = li.color_modes;
  const bool dimmable = !(li.color_modes.size() == 1 && li.color_modes.front() == "onoff");
  c["brightness"] = dimmable;
  if (dimmable) c["brightness_scale"] = HA_BRIGHTNESS_SCALE;
  if (role_dp(e, role::COLOR_TEMP)) {
    c["color_temp_kelvin"] = true;
    c["min_kelvin"] = li.kelvin_min;
    c["max_kelvin"] = li.kelvin_max;
  }
  if (auto fx = effects(e); !fx.empty()) {
    c["effect"] = true;
    c["effect_list"] = fx;
  }
  return c;
}

// Further lights of a multi-gang device: their state keys carry a suffix, which HA's JSON schema cannot
// express, so they use the template schema (colour temperature in mireds there, which the gateway
// accepts as such; colour is commanded as hue/saturation, its state is not read back).
json ComponentBuilder::template_light(const Entity& e, json c) const {
  const model::LightInfo& li = e.light;
  const std::string ks = state_key(e, role::STATE);
  const std::string kb = state_key(e, role::BRIGHTNESS);
  const std::string kc = state_key(e, role::COLOR);
  const std::string kt = state_key(e, role::COLOR_TEMP);
  c["schema"] = "template";
  c["state_topic"] = topics_.state(name_);
  c["command_topic"] = topics_.set(name_);
  std::string on = "{" + json(ks).dump() + ": \"ON\"";
  if (!kb.empty())
    on += "{% if brightness is defined %}, " + json(kb).dump() + ": {{ brightness }}{% endif %}";
  if (!kt.empty())
    on += "{% if color_temp is defined %}, " + json(kt).dump() + ": {{ color_temp }}{% endif %}";
  if (!kc.empty()) {
    on += "{% if hue is defined and sat is defined %}, " + json(kc).dump() +
          ": {\"h\": {{ hue }}, \"s\": {{ sat }}}{% endif %}";
  }
  on += "}";
  c["command_on_template"] = on;
  c["command_off_template"] = "{" + json(ks).dump() + ": \"OFF\"}";
  c["state_template"] = guarded(ks, "{{ 'on' if " + vj(ks) + " == 'ON' else 'off' }}");
  if (!kb.empty()) c["brightness_template"] = plain_value(kb);
  if (!kt.empty()) {
    c["color_temp_template"] = guarded(kt, "{{ (1000000 / " + vj(kt) + ") | round(0) | int }}");
    c["min_mireds"] = static_cast<int>(std::lround(MIREDS_PER_KELVIN / li.kelvin_max));
    c["max_mireds"] = static_cast<int>(std::lround(MIREDS_PER_KELVIN / li.kelvin_min));
    c["min_kelvin"] = li.kelvin_min;
    c["max_kelvin"] = li.kelvin_max;
  }
  return c;
}

json ComponentBuilder::cover(const Entity& e, json c) const {
  const std::string ks = state_key(e, role::STATE);
  const std::string kp = state_key(e, role::POSITION);
  if (ks.empty()) return nullptr;
  const std::string set = topics_.set(name_);
  c["state_topic"] = topics_.state(name_);
  c["value_template"] = plain_value(ks);
  c["command_topic"] = set;
  c["payload_open"] = json_command(ks, "OPEN");
  c["payload_close"] = json_command(ks, "CLOSE");
  // STOP needs the control DP; a position-only cover hides the button.
  const auto control = dp_range(model_, role_dp(e, role::CONTROL));
  const bool can_stop = role_dp(e, role::CONTROL) &&
                        (control.empty() || std::count(control.begin(), control.end(), "stop") > 0 ||
                         std::count(control.begin(), control.end(), "2") > 0);
  c["payload_stop"] = can_stop ? json(json_command(ks, "STOP")) : json(nullptr);
  c["state_open"] = "open";
  c["state_opening"] = "opening";
  c["state_closed"] = "closed";
  c["state_closing"] = "closing";
  c["state_stopped"] = "stopped";
  if (!kp.empty()) {
    c["position_topic"] = topics_.state(name_);
    c["position_template"] = plain_value(kp);
    c["set_position_topic"] = set;
    c["set_position_template"] = command_template(kp, "position");
    c["position_open"] = POSITION_OPEN;
    c["position_closed"] = POSITION_CLOSED;
  }
  if (!e.device_class.empty()) c["device_class"] = e.device_class;
  return c;
}

json ComponentBuilder::fan(const Entity& e, json c) const {
  const std::string st = topics_.state(name_);
  const std::string set = topics_.set(name_);
  c["command_topic"] = set;
  if (const std::string k = state_key(e, role::STATE); !k.empty()) {
    c["state_topic"] = st;
    c["state_value_template"] = plain_value(k);
    c["payload_on"] = ON;
    c["payload_off"] = OFF;
    c["command_template"] = command_template(k, "value | to_json");
  } else {
    // No power DP: on/off is speed max/min.
    const std::string kp = state_key(e, role::PERCENTAGE);
    if (kp.empty()) return nullptr;
    c["payload_on"] = std::to_string(static_cast<int>(e.max.value_or(100)));
    c["payload_off"] = std::to_string(static_cast<int>(e.min.value_or(0)));
    c["command_template"] = command_template(kp, "value");
  }
  if (const std::string kp = state_key(e, role::PERCENTAGE); !kp.empty()) {
    c["percentage_command_topic"] = set;
    c["percentage_command_template"] = command_template(kp, "value");
    c["percentage_state_topic"] = st;
    c["percentage_value_template"] = plain_value(kp);
    c["speed_range_min"] = std::max(1, static_cast<int>(e.min.value_or(1)));
    c["speed_range_max"] = static_cast<int>(e.max.value_or(100));
  } else if (const std::string ks = state_key(e, role::SPEED); !ks.empty()) {
    const auto speeds = dp_range(model_, role_dp(e, role::SPEED));
    if (!speeds.empty()) {
      // HA maps the percentage onto 1..N; N enum values are picked by position.
      std::string index = "{";
      for (size_t i = 0; i < speeds.size(); ++i) {
        index += (i ? ", " : "") + jinja_string(speeds[i]) + ": " + std::to_string(i + 1);
      }
      index += "}";
      c["percentage_command_topic"] = set;
      c["percentage_command_template"] = command_template(ks, jinja_list(speeds) + "[value - 1] | to_json");
      c["percentage_state_topic"] = st;
      c["percentage_value_template"] = guarded(ks, "{{ " + index + "[" + vj(ks) + "] }}");
      c["speed_range_min"] = 1;
      c["speed_range_max"] = static_cast<int>(speeds.size());
    }
  }
  if (const std::string kp = state_key(e, role::PRESET); !kp.empty()) {
    const auto presets = dp_range(model_, role_dp(e, role::PRESET));
    if (!presets.empty()) {
      c["preset_modes"] = presets;
      c["preset_mode_command_topic"] = set;
      c["preset_mode_command_template"] = command_template(kp, "value | to_json");
      c["preset_mode_state_topic"] = st;
      c["preset_mode_value_template"] = plain_value(kp);
    }
  }
  if (const std::string ko = state_key(e, role::OSCILLATION); !ko.empty()) {
    c["oscillation_command_topic"] = set;
    c["oscillation_command_template"] = command_template(ko, "value");
    c["payload_oscillation_on"] = "true";
    c["payload_oscillation_off"] = "false";
    c["oscillation_state_topic"] = st;
    c["oscillation_value_template"] = guarded(ko, "{{ 'true' if " + vj(ko) + " == true else 'false' }}");
  }
  if (const std::string kd = state_key(e, role::DIRECTION); !kd.empty()) {
    const auto dirs = dp_range(model_, role_dp(e, role::DIRECTION));
    // HA knows only "forward" and "reverse".
    if (std::count(dirs.begin(), dirs.end(), "forward") && std::count(dirs.begin(), dirs.end(), "reverse")) {
      c["direction_command_topic"] = set;
      c["direction_command_template"] = command_template(kd, "value | to_json");
      c["direction_state_topic"] = st;
      c["direction_value_template"] = plain_value(kd);
    }
  }
  return c;
}

json ComponentBuilder::climate(const Entity& e, json c) const {
  const std::string st = topics_.state(name_);
  const std::string set = topics_.set(name_);
  const std::string kpow = state_key(e, role::STATE);
  if (!kpow.empty()) {
    c["modes"] = json::array({"off", "heat"});
    c["mode_command_topic"] = set;
    c["mode_command_template"] = "{" + json(kpow).dump() + ": \"{{ 'OFF' if value == 'off' else 'ON' }}\"}";
    c["mode_state_topic"] = st;
    c["mode_state_template"] = guarded(kpow, "{{ 'heat' if " + vj(kpow) + " == 'ON' else 'off' }}");
  } else {
    c["modes"] = json::array({"heat"});
  }
  if (const std::string kt = state_key(e, role::TARGET); !kt.empty()) {
    c["temperature_command_topic"] = set;
    c["temperature_command_template"] = command_template(kt, "value");
    c["temperature_state_topic"] = st;
    c["temperature_state_template"] = plain_value(kt);
  }
  if (const std::string kc = state_key(e, role::CURRENT); !kc.empty()) {
    c["current_temperature_topic"] = st;
    c["current_temperature_template"] = plain_value(kc);
  }
  if (e.min) c["min_temp"] = *e.min;
  if (e.max) c["max_temp"] = *e.max;
  const double step = e.step.value_or(PRECISION_WHOLE);
  if (step > 0) c["temp_step"] = step;
  c["precision"] = step < PRECISION_HALVES  ? PRECISION_TENTHS
                   : step < PRECISION_WHOLE ? PRECISION_HALVES
                                            : PRECISION_WHOLE;
  c["temperature_unit"] = e.unit == "°F" ? "F" : "C";
  if (const std::string kp = state_key(e, role::PRESET); !kp.empty()) {
    std::vector<std::string> presets;
    // HA reserves "none" (= no preset) and refuses it in the list.
    for (const auto& p : dp_range(model_, role_dp(e, role::PRESET))) {
      if (p != "none") presets.push_back(p);
    }
    if (!presets.empty()) {
      c["preset_modes"] = presets;
      c["preset_mode_command_topic"] = set;
      c["preset_mode_command_template"] = command_template(kp, "value | to_json");
      c["preset_mode_state_topic"] = st;
      c["preset_mode_value_template"] = plain_value(kp);
    }
  }
  return c;
}

json ComponentBuilder::refresh_button() const {
  json c = base("button", "refresh", "Refresh");
  c["command_topic"] = topics_.get(name_);
  c["payload_press"] = "{}";
  c["entity_category"] = "diagnostic";
  return c;
}

// Firmware from the cloud: available while the device itself is offline, so only the bridge gates it.
json ComponentBuilder::update_entity() const {
  json c = base("update", "firmware", "Firmware", false);
  const std::string u = vj("update");
  c["device_class"] = "firmware";
  c["entity_category"] = "config";
  c["state_topic"] = topics_.state(name_);
  c["value_template"] =
      guarded("update", "{{ {'installed_version': " + u + "['installed_version'], 'latest_version': (" + u +
                            "['latest_version'] or " + u + "['installed_version']), 'in_progress': " + u +
                            "['state'] == 'updating', 'update_percentage': (" + u + "['progress'] if " + u +
                            "['state'] == 'updating' else None), 'release_summary': ((" + u +
                            "['release_notes'] or '')[:255])} | to_json }}");
  c["command_topic"] = topics_.bridge_request("device/ota_update/update");
  c["payload_install"] = json{{"id", cfg_.id}}.dump();
  return c;
}

json ComponentBuilder::event_entity(const EventEntity& ev, const std::string& key) const {
  json c = base("event", key, ev.name.empty() ? humanize(ev.key) : ev.name);
  c["state_topic"] = action_topic(o_, name_);
  c["event_types"] = ev.event_types;
  if (!ev.device_class.empty()) c["device_class"] = ev.device_class;
  c["value_template"] = "{% if " + vj(EVENT_SOURCE_KEY) + " == " + jinja_string(ev.key) +
                        " %}{{ {'event_type': " + vj(EVENT_TYPE_KEY) + "} | to_json }}{% endif %}";
  return c;
}

}  // namespace t2m::mqtt::ha::detail

// Device DPs -> the MQTT state JSON (state_from_dps). The other direction, MQTT commands -> DPs, is in
// convert_command.cpp.
#include "model/convert.h"

#include <algorithm>
#include <cmath>

#include "model/model_util.h"

namespace t2m::model {
namespace {

using detail::dp_id;
using detail::number;
using detail::POSITION_MAX;
using detail::role_dp;
using detail::state_key;
using detail::wire;
using nlohmann::json;

void light_state(const Entity& e, const json& dps, json& out) {
  const LightInfo& li = e.light;
  std::optional<bool> on;
  if (auto id = role_dp(e, role::STATE); id && wire(dps, *id)) {
    on = proto::parse_bool(*wire(dps, *id));
    if (on) out[state_key(e, role::STATE)] = *on ? "ON" : "OFF";
  }
  std::string mode;
  if (auto id = role_dp(e, role::MODE); id && wire(dps, *id) && wire(dps, *id)->is_string()) {
    mode = wire(dps, *id)->get<std::string>();
  }
  std::optional<TuyaHsv> colour;
  ColourFormat fmt = li.colour_format;
  if (auto id = role_dp(e, role::COLOR); id && wire(dps, *id)) colour = parse_colour(*wire(dps, *id), &fmt);
  const bool has_bright = role_dp(e, role::BRIGHTNESS).has_value();
  const bool in_colour = colour && (mode == "colour" || mode == "color" || (mode.empty() && !has_bright));
  if (colour) {
    out[state_key(e, role::COLOR)] = json{{"h", colour->h}, {"s", ha_saturation(colour->s, sv_max(fmt))}};
  }
  if (in_colour) {
    out[state_key(e, role::BRIGHTNESS)] = ha_brightness(colour->v, sv_max(fmt));
  } else if (auto id = role_dp(e, role::BRIGHTNESS); id && wire(dps, *id) && wire(dps, *id)->is_number()) {
    out[state_key(e, role::BRIGHTNESS)] = ha_brightness(wire(dps, *id)->get<int>(), li.brightness_max);
  }
  if (auto id = role_dp(e, role::COLOR_TEMP); id && wire(dps, *id) && wire(dps, *id)->is_number()) {
    out[state_key(e, role::COLOR_TEMP)] =
        kelvin_from_tuya(wire(dps, *id)->get<int>(), li.temp_max, li.kelvin_min, li.kelvin_max);
  }
  std::string color_mode;
  if (in_colour) {
    color_mode = "hs";
  } else if (role_dp(e, role::COLOR_TEMP)) {
    color_mode = "color_temp";
  } else if (role_dp(e, role::COLOR)) {
    color_mode = "hs";
  } else {
    color_mode = has_bright ? "brightness" : "onoff";
  }
  out[state_key(e, role::COLOR_MODE)] = color_mode;
}

void cover_state(const Entity& e, const json& dps, json& out) {
  std::optional<int> position;
  for (auto r : {role::POSITION_STATE, role::POSITION}) {
    if (position) break;
    if (auto id = role_dp(e, r); id && wire(dps, *id)) {
      if (auto n = number(*wire(dps, *id)))
        position = std::clamp(static_cast<int>(std::lround(*n)), 0, POSITION_MAX);
    }
  }
  if (position && e.invert) position = POSITION_MAX - *position;
  if (position && e.state_keys.count(role::POSITION)) out[state_key(e, role::POSITION)] = *position;
  std::string work;
  if (auto id = role_dp(e, role::WORK_STATE); id && wire(dps, *id) && wire(dps, *id)->is_string()) {
    work = wire(dps, *id)->get<std::string>();
  }
  std::string control;
  if (auto id = role_dp(e, role::CONTROL); id && wire(dps, *id) && wire(dps, *id)->is_string()) {
    control = wire(dps, *id)->get<std::string>();
  }
  std::string state;
  // work_state keeps saying "opening" after the motor stopped at the end: the position wins there.
  if (work == "opening" && position != POSITION_MAX) {
    state = "opening";
  } else if (work == "closing" && position != 0) {
    state = "closing";
  } else if (control == "stop" && !position) {
    state = "stopped";
  } else if (position) {
    state = *position == 0 ? "closed" : "open";
  } else if (control == "open" || control == "on" || control == "fz") {
    state = "open";
  } else if (control == "close" || control == "off" || control == "zz") {
    state = "closed";
  }
  if (!state.empty()) out[state_key(e, role::STATE)] = state;
}

void power_state(const Entity& e, std::string_view r, const json& dps, json& out) {
  const auto key = state_key(e, r);
  if (key.empty()) return;
  if (auto id = role_dp(e, r); id && wire(dps, *id)) {
    if (auto on = proto::parse_bool(*wire(dps, *id))) out[key] = *on ? "ON" : "OFF";
  }
}

}  // namespace

json state_from_dps(const DerivedModel& model, const json& dps, std::vector<Error>* problems) {
  json out = json::object();
  if (!dps.is_object()) {
    if (problems) problems->push_back(Error{std::string(CMD_ERR_PAYLOAD), "dps is not an object"});
    out["dps"] = json::object();
    return out;
  }
  for (const auto& [k, v] : dps.items()) {
    const auto id = dp_id(k);
    const DpDescription* d = id ? model.find_dp(*id) : nullptr;
    if (!d || !d->known) {
      out[k] = v;
      continue;
    }
    auto r = proto::wire_to_value(d->spec, d->property(), v);
    if (r) {
      out[d->property()] = *r;
    } else {
      out[d->property()] = v;
      if (problems) problems->push_back(r.error());
    }
  }
  for (const auto& e : model.entities) {
    switch (e.component) {
      case Component::LIGHT:
        light_state(e, dps, out);
        break;
      case Component::COVER:
        cover_state(e, dps, out);
        break;
      case Component::FAN:
      case Component::CLIMATE:
        power_state(e, role::STATE, dps, out);
        break;
      case Component::SWITCH:
        if (e.main) power_state(e, role::VALUE, dps, out);
        break;
      default:
        break;
    }
  }
  out["dps"] = dps;
  return out;
}

}  // namespace t2m::model

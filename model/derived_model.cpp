// DP descriptions (derived_model.h, part 1): overrides > cloud mapping > template, plus raw DPs; the
// entity rules (part 2) are in entity_rules.cpp.
#include "model/derived_model.h"

#include <set>

#include "model/entity_rules.h"
#include "model/model_util.h"
#include "model/templates.h"

namespace t2m::model {
namespace {

using detail::dp_id;
using detail::lower;
using nlohmann::json;
using proto::DpType;

// Codes Tuya reports but never accepts: the cloud mapping in devices.json does not say which DPs are
// read-only, so these are recognised by name.
bool read_only_code(std::string_view code) {
  static const std::set<std::string, std::less<>> ro = {"cur_power",
                                                        "cur_voltage",
                                                        "cur_current",
                                                        "add_ele",
                                                        "va_temperature",
                                                        "va_humidity",
                                                        "temp_current",
                                                        "humidity_value",
                                                        "battery_percentage",
                                                        "battery_state",
                                                        "va_battery",
                                                        "doorcontact_state",
                                                        "pir_state",
                                                        "smoke_sensor_status",
                                                        "smoke_sensor_state",
                                                        "smoke_sensor_value",
                                                        "watersensor_state",
                                                        "gas_sensor_status",
                                                        "gas_sensor_state",
                                                        "gas_sensor_value",
                                                        "percent_state",
                                                        "work_state",
                                                        "fault",
                                                        "temp_indoor",
                                                        "humidity_indoor",
                                                        "ir_study_code"};
  return ro.count(code) > 0;
}

void apply_override(DpDescription& d, const config::DpOverride& o) {
  if (o.code) d.code = *o.code;
  if (o.type) d.spec.type = *o.type;
  if (o.scale) d.spec.scale = *o.scale;
  if (o.unit) d.spec.unit = *o.unit;
  if (o.min) d.spec.min = *o.min;
  if (o.max) d.spec.max = *o.max;
  if (o.min || o.max) d.spec.has_range = true;
  if (o.step) d.spec.step = *o.step;
  if (o.values) d.spec.range = *o.values;
  if (o.max_len) d.spec.max_len = *o.max_len;
  if (o.read_only) d.writable = !*o.read_only;
  d.known = true;
  d.source = DpSource::OVERRIDE;
}

// A type for a DP known only from an override that gives no type: guessed from the override's fields.
DpType guess_type(const config::DpOverride& o, const json& reported) {
  if (o.values) return DpType::ENUM;
  if (o.scale || o.min || o.max || o.step) return DpType::INTEGER;
  if (reported.is_boolean()) return DpType::BOOL;
  if (reported.is_number_integer()) return DpType::INTEGER;
  if (reported.is_string()) return DpType::STRING;
  return DpType::RAW;
}

}  // namespace

std::string_view to_string(DpSource source) {
  switch (source) {
    case DpSource::OVERRIDE:
      return "override";
    case DpSource::CLOUD:
      return "cloud";
    case DpSource::TEMPLATE:
      return "template";
    case DpSource::UNKNOWN:
      return "unknown";
  }
  return "unknown";
}

std::string_view to_string(Component component) {
  switch (component) {
    case Component::LIGHT:
      return "light";
    case Component::COVER:
      return "cover";
    case Component::FAN:
      return "fan";
    case Component::CLIMATE:
      return "climate";
    case Component::SWITCH:
      return "switch";
    case Component::SENSOR:
      return "sensor";
    case Component::BINARY_SENSOR:
      return "binary_sensor";
    case Component::NUMBER:
      return "number";
    case Component::SELECT:
      return "select";
    case Component::TEXT:
      return "text";
  }
  return "sensor";
}

std::string humanize(std::string_view code) {
  std::string out(code);
  for (char& c : out) {
    if (c == '_') c = ' ';
  }
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string ha_unit(std::string_view tuya_unit) {
  const std::string u = lower(tuya_unit);
  if (u == "kwh" || u == "kw·h" || u == "kw.h") return "kWh";
  if (u == "wh") return "Wh";
  if (u == "w") return "W";
  if (u == "kw") return "kW";
  if (u == "v") return "V";
  if (u == "a") return "A";
  if (u == "ma") return "mA";
  if (u == "℃" || u == "°c" || u == "c") return "°C";
  if (u == "℉" || u == "°f" || u == "f") return "°F";
  if (u == "s") return "s";
  if (u == "min") return "min";
  if (u == "h") return "h";
  return std::string(tuya_unit);
}

const DpDescription* DerivedModel::find_dp(int id) const {
  auto it = dps.find(id);
  return it == dps.end() ? nullptr : &it->second;
}

const DpDescription* DerivedModel::find_property(std::string_view property) const {
  for (const auto& [id, d] : dps) {
    if (!d.code.empty() && d.code == property) return &d;
  }
  if (auto id = dp_id(property)) return find_dp(*id);
  return nullptr;
}

const Entity* DerivedModel::main_entity() const {
  for (const auto& e : entities) {
    if (e.main) return &e;
  }
  return nullptr;
}

DerivedModel derive_model(const config::DeviceConfig& device, const json& reported) {
  DerivedModel m;
  m.category = device.category;
  const bool have_reported = reported.is_object() && !reported.empty();
  // c. template
  if (!device.category.empty()) {
    if (const CategoryTemplate* t = find_template(device.category, reported)) {
      m.template_name = t->category;
      for (const auto& td : t->dps) {
        if (have_reported && !reported.contains(std::to_string(td.id))) continue;
        auto spec = proto::parse_dp_spec(td.type, td.values);
        if (!spec) continue;
        m.dps[td.id] = DpDescription{td.id, td.code, *spec, !td.read_only, true, DpSource::TEMPLATE};
      }
    }
  }
  // b. cloud mapping (tinytuya devices.json "mapping")
  if (device.mapping.is_object()) {
    for (const auto& [k, v] : device.mapping.items()) {
      const auto id = dp_id(k);
      if (!id) continue;
      auto spec = proto::parse_dp_spec(v);
      if (!spec) continue;
      DpDescription d{*id, "", *spec, true, true, DpSource::CLOUD};
      if (v.contains("code") && v["code"].is_string()) d.code = v["code"].get<std::string>();
      d.writable = !read_only_code(d.code);
      for (const char* access_key : {"accessMode", "access", "mode"}) {
        if (v.contains(access_key) && v[access_key].is_string())
          d.writable = v[access_key].get<std::string>() != "ro";
      }
      m.dps[*id] = d;
    }
  }
  // a. user overrides, field by field
  for (const auto& [id, o] : device.dps) {
    auto it = m.dps.find(id);
    if (it == m.dps.end()) {
      DpDescription d;
      d.id = id;
      const std::string key = std::to_string(id);
      d.spec.type = o.type.value_or(
          guess_type(o, reported.is_object() && reported.contains(key) ? reported[key] : json()));
      it = m.dps.emplace(id, d).first;
    }
    apply_override(it->second, o);
  }
  // Reported DPs nothing describes: raw, keyed by id.
  if (reported.is_object()) {
    for (const auto& [k, v] : reported.items()) {
      const auto id = dp_id(k);
      if (!id || m.dps.count(*id)) continue;
      DpDescription d;
      d.id = *id;
      d.known = false;
      d.source = DpSource::UNKNOWN;
      d.spec.type = v.is_boolean() ? DpType::BOOL : v.is_number_integer() ? DpType::INTEGER : DpType::RAW;
      m.dps[*id] = d;
    }
  }
  detail::derive_entities(m, device);
  return m;
}

}  // namespace t2m::model

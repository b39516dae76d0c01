#include "model/templates.h"

#include "model/model_util.h"

#include <algorithm>
#include <cctype>

namespace t2m::model {
namespace {

using nlohmann::json;

// Spec helpers: the values objects are written the way Tuya's cloud specification writes them.
json integer(int64_t min, int64_t max, int scale, int64_t step, const char* unit) {
  return json{{"min", min}, {"max", max}, {"scale", scale}, {"step", step}, {"unit", unit}};
}
json enumeration(std::initializer_list<const char*> values) {
  json r = json::array();
  for (const char* v : values) r.push_back(v);
  return json{{"range", r}};
}

TemplateDp rw(int id, const char* code, const char* type, json values = json::object()) {
  return TemplateDp{id, code, type, std::move(values), false};
}
TemplateDp ro(int id, const char* code, const char* type, json values = json::object()) {
  return TemplateDp{id, code, type, std::move(values), true};
}

// Energy metering DPs of "cz"/"pc" sockets (docs/protocol.md §8: 18 mA, 19 W x10, 20 V x10; 17 is the
// energy counter in 0.001 kWh on the common modules; docs/conventions.md §3.5 example).
std::vector<TemplateDp> metering() {
  return {
      ro(17, "add_ele", "Integer", integer(0, 50000000, 3, 1, "kWh")),
      ro(18, "cur_current", "Integer", integer(0, 30000, 0, 1, "mA")),
      ro(19, "cur_power", "Integer", integer(0, 80000, 1, 1, "W")),
      ro(20, "cur_voltage", "Integer", integer(0, 5000, 1, 1, "V")),
  };
}

// A day in seconds: the countdown range Tuya uses on sockets and lights.
constexpr int64_t COUNTDOWN_MAX = 86400;

std::vector<CategoryTemplate> build() {
  std::vector<CategoryTemplate> t;
  {
    CategoryTemplate c{"cz", "Smart plug with energy metering", {}};
    c.dps = {rw(1, "switch_1", "Boolean"),
             rw(9, "countdown_1", "Integer", integer(0, COUNTDOWN_MAX, 0, 1, "s"))};
    for (auto& d : metering()) c.dps.push_back(d);
    t.push_back(c);
  }
  {
    CategoryTemplate c{"pc", "Power strip", {}};
    c.dps = {rw(1, "switch_1", "Boolean"), rw(2, "switch_2", "Boolean"), rw(3, "switch_3", "Boolean"),
             rw(4, "switch_4", "Boolean"), rw(7, "switch_usb1", "Boolean")};
    for (auto& d : metering()) c.dps.push_back(d);
    t.push_back(c);
  }
  t.push_back(CategoryTemplate{
      "kg",
      "Wall switch",
      {rw(1, "switch_1", "Boolean"), rw(2, "switch_2", "Boolean"), rw(3, "switch_3", "Boolean"),
       rw(4, "switch_4", "Boolean"), rw(7, "countdown_1", "Integer", integer(0, COUNTDOWN_MAX, 0, 1, "s"))}});
  {
    // Dimmer switch / dimmer module: per gang switch_led_N + bright_value_N (10-1000) + minimum brightness.
    std::vector<TemplateDp> dimmer = {
        rw(1, "switch_led_1", "Boolean"),
        rw(2, "bright_value_1", "Integer", integer(10, 1000, 0, 1, "")),
        rw(3, "brightness_min_1", "Integer", integer(10, 1000, 0, 1, "")),
        rw(4, "led_type_1", "Enum", enumeration({"led", "incandescent", "halogen"})),
        rw(7, "switch_led_2", "Boolean"),
        rw(8, "bright_value_2", "Integer", integer(10, 1000, 0, 1, "")),
    };
    t.push_back(CategoryTemplate{"tgkg", "Dimmer switch", dimmer});
    t.push_back(CategoryTemplate{"tgq", "Dimmer", dimmer});
  }
  const std::vector<TemplateDp> light_v2 = {
      rw(20, "switch_led", "Boolean"),
      rw(21, "work_mode", "Enum", enumeration({"white", "colour", "scene", "music"})),
      rw(22, "bright_value_v2", "Integer", integer(10, 1000, 0, 1, "")),
      rw(23, "temp_value_v2", "Integer", integer(0, 1000, 0, 1, "")),
      rw(24, "colour_data_v2", "Json",
         json{{"h", {{"min", 0}, {"max", 360}, {"scale", 0}, {"step", 1}}},
              {"s", {{"min", 0}, {"max", 1000}, {"scale", 0}, {"step", 1}}},
              {"v", {{"min", 0}, {"max", 1000}, {"scale", 0}, {"step", 1}}}}),
      rw(25, "scene_data_v2", "Json"),
      rw(26, "countdown_1", "Integer", integer(0, COUNTDOWN_MAX, 0, 1, "s")),
  };
  const std::vector<TemplateDp> light_v1 = {
      rw(1, "switch_led", "Boolean"),
      rw(2, "work_mode", "Enum", enumeration({"white", "colour", "scene", "music"})),
      rw(3, "bright_value", "Integer", integer(25, 255, 0, 1, "")),
      rw(4, "temp_value", "Integer", integer(0, 255, 0, 1, "")),
      rw(5, "colour_data", "String", json{{"maxlen", 14}}),
  };
  t.push_back(CategoryTemplate{"dj_v2", "Light (v2 DPs 20-26)", light_v2});
  t.push_back(CategoryTemplate{"dj_v1", "Light (v1 DPs 1-5)", light_v1});
  {
    // LED strips: like v2 bulbs, usually without a white channel.
    std::vector<TemplateDp> strip;
    for (const auto& d : light_v2) {
      if (d.id != 23) strip.push_back(d);
    }
    t.push_back(CategoryTemplate{"dd_v2", "LED strip (v2)", strip});
    std::vector<TemplateDp> strip1;
    for (const auto& d : light_v1) {
      if (d.id != 4) strip1.push_back(d);
    }
    t.push_back(CategoryTemplate{"dd_v1", "LED strip (v1)", strip1});
  }
  t.push_back(CategoryTemplate{"cl",
                               "Curtain / blind motor",
                               {rw(1, "control", "Enum", enumeration({"open", "stop", "close"})),
                                rw(2, "percent_control", "Integer", integer(0, 100, 0, 1, "%")),
                                ro(3, "percent_state", "Integer", integer(0, 100, 0, 1, "%")),
                                rw(5, "control_back", "Enum", enumeration({"forward", "back"})),
                                ro(7, "work_state", "Enum", enumeration({"opening", "closing"}))}});
  t.push_back(CategoryTemplate{
      "fs",
      "Fan",
      {rw(1, "switch", "Boolean"), rw(2, "mode", "Enum", enumeration({"normal", "nature", "sleep"})),
       rw(3, "fan_speed_percent", "Integer", integer(1, 100, 0, 1, "%")),
       rw(5, "switch_horizontal", "Boolean"),
       rw(8, "fan_direction", "Enum", enumeration({"forward", "reverse"}))}});
  t.push_back(CategoryTemplate{
      "wk",
      "Thermostat",
      {rw(1, "switch", "Boolean"), rw(2, "temp_set", "Integer", integer(50, 350, 1, 5, "°C")),
       ro(3, "temp_current", "Integer", integer(-200, 1000, 1, 1, "°C")),
       rw(4, "mode", "Enum", enumeration({"auto", "manual"})), rw(6, "child_lock", "Boolean"),
       ro(12, "fault", "Bitmap", json{{"label", {"sensor_fault"}}, {"maxlen", 1}})}});
  t.push_back(CategoryTemplate{"wsdcg",
                               "Temperature and humidity sensor",
                               {ro(1, "va_temperature", "Integer", integer(-400, 1000, 1, 1, "°C")),
                                ro(2, "va_humidity", "Integer", integer(0, 100, 0, 1, "%")),
                                ro(3, "battery_state", "Enum", enumeration({"low", "middle", "high"})),
                                ro(4, "battery_percentage", "Integer", integer(0, 100, 0, 1, "%")),
                                rw(9, "temp_unit_convert", "Enum", enumeration({"c", "f"}))}});
  t.push_back(CategoryTemplate{"mcs",
                               "Door / window sensor",
                               {ro(1, "doorcontact_state", "Boolean"),
                                ro(2, "battery_percentage", "Integer", integer(0, 100, 0, 1, "%"))}});
  t.push_back(CategoryTemplate{"pir",
                               "Motion sensor",
                               {ro(1, "pir_state", "Enum", enumeration({"pir", "none"})),
                                ro(4, "battery_percentage", "Integer", integer(0, 100, 0, 1, "%"))}});
  t.push_back(CategoryTemplate{
      "ywbj",
      "Smoke detector",
      {ro(1, "smoke_sensor_status", "Enum", enumeration({"alarm", "normal"})),
       ro(14, "battery_state", "Enum", enumeration({"low", "middle", "high"})),
       ro(15, "battery_percentage", "Integer", integer(0, 100, 0, 1, "%")), rw(16, "muffling", "Boolean")}});
  t.push_back(CategoryTemplate{"sj",
                               "Water leak sensor",
                               {ro(1, "watersensor_state", "Enum", enumeration({"alarm", "normal"})),
                                ro(3, "battery_state", "Enum", enumeration({"low", "middle", "high"})),
                                ro(4, "battery_percentage", "Integer", integer(0, 100, 0, 1, "%"))}});
  t.push_back(CategoryTemplate{"rqbj",
                               "Gas detector",
                               {ro(1, "gas_sensor_status", "Enum", enumeration({"alarm", "normal"})),
                                ro(2, "gas_sensor_value", "Integer", integer(0, 10000, 0, 1, "ppm"))}});
  // IR blaster: DP 201 takes a JSON command ({"control":"send_ir",...}), DP 202 reports a learned code.
  t.push_back(CategoryTemplate{
      "wnykq", "IR remote gateway", {rw(201, "ir_send", "Json"), ro(202, "ir_study_code", "String")}});
  // Zigbee gateway: the interesting DPs live on its sub-devices.
  t.push_back(CategoryTemplate{"wg2", "Zigbee gateway", {}});
  return t;
}

bool reported(const json& dps, int id) {
  return dps.is_object() && dps.contains(std::to_string(id));
}

// v1 lights put switch_led at DP 1, v2 at DP 20 (templates above).
constexpr int V1_SWITCH_DP = 1;
constexpr int V2_SWITCH_DP = 20;

}  // namespace

const std::vector<CategoryTemplate>& all_templates() {
  static const std::vector<CategoryTemplate> templates = build();
  return templates;
}

const CategoryTemplate* find_template(std::string_view category_in, const json& reported_dps) {
  std::string category = detail::lower(category_in);
  // Light categories: bulbs (dj), strips (dd), ceiling/other lights (xdd, dc, fwd, gyd) share the layouts.
  if (category == "dj" || category == "xdd" || category == "dc" || category == "fwd" || category == "gyd" ||
      category == "dd") {
    const bool v1 = reported(reported_dps, V1_SWITCH_DP) && !reported(reported_dps, V2_SWITCH_DP);
    category = (category == "dd" ? "dd" : "dj") + std::string(v1 ? "_v1" : "_v2");
  }
  for (const auto& t : all_templates()) {
    if (t.category == category) return &t;
  }
  return nullptr;
}

}  // namespace t2m::model

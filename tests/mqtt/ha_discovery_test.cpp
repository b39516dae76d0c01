// HA discovery payloads for every entity kind, checked key by key against HA's documented MQTT schemas
// (required keys, allowed keys per platform), unique ids, topics the gateway really uses, templates that
// read keys the state really carries, and commands that the gateway really turns into the right DPs.
#include "mqtt/ha_discovery.h"

#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <set>

#include "model/convert.h"
#include "mqtt/payload.h"
#include "mqtt/topics.h"

using nlohmann::json;
using namespace t2m;
using namespace t2m::mqtt;

namespace {

const ha::Options OPTS{"homeassistant", "tuya2mqtt", "0.1.0", "https://example.invalid/tuya2mqtt"};

// ---- HA's documented keys (mqtt integration docs, full names) -------------------------------------

const std::set<std::string> COMMON = {"platform",
                                      "unique_id",
                                      "name",
                                      "object_id",
                                      "default_entity_id",
                                      "availability",
                                      "availability_mode",
                                      "entity_category",
                                      "device_class",
                                      "icon",
                                      "enabled_by_default",
                                      "qos",
                                      "json_attributes_topic",
                                      "json_attributes_template",
                                      "encoding",
                                      "entity_picture"};
const std::map<std::string, std::set<std::string>> PLATFORM_KEYS = {
    {"switch",
     {"state_topic", "value_template", "state_on", "state_off", "command_topic", "command_template",
      "payload_on", "payload_off", "optimistic", "retain"}},
    {"binary_sensor",
     {"state_topic", "value_template", "payload_on", "payload_off", "off_delay", "expire_after",
      "force_update"}},
    {"sensor",
     {"state_topic", "value_template", "state_class", "unit_of_measurement", "suggested_display_precision",
      "options", "expire_after", "force_update", "last_reset_value_template"}},
    {"number",
     {"state_topic", "value_template", "command_topic", "command_template", "min", "max", "step", "mode",
      "unit_of_measurement", "payload_reset", "optimistic", "retain"}},
    {"select",
     {"state_topic", "value_template", "command_topic", "command_template", "options", "optimistic",
      "retain"}},
    {"text",
     {"state_topic", "value_template", "command_topic", "command_template", "min", "max", "mode", "pattern",
      "optimistic", "retain"}},
    {"button", {"command_topic", "command_template", "payload_press", "retain"}},
    {"light",
     {"schema",
      "state_topic",
      "command_topic",
      "supported_color_modes",
      "brightness",
      "brightness_scale",
      "color_temp_kelvin",
      "min_kelvin",
      "max_kelvin",
      "min_mireds",
      "max_mireds",
      "effect",
      "effect_list",
      "command_on_template",
      "command_off_template",
      "state_template",
      "brightness_template",
      "color_temp_template",
      "red_template",
      "green_template",
      "blue_template",
      "effect_template",
      "optimistic",
      "retain",
      "flash",
      "transition"}},
    {"cover",
     {"command_topic", "payload_open", "payload_close", "payload_stop", "state_topic", "value_template",
      "state_open", "state_opening", "state_closed", "state_closing", "state_stopped", "position_topic",
      "position_template", "set_position_topic", "set_position_template", "position_open", "position_closed",
      "optimistic", "retain"}},
    {"fan",
     {"command_topic",
      "command_template",
      "state_topic",
      "state_value_template",
      "payload_on",
      "payload_off",
      "percentage_command_topic",
      "percentage_command_template",
      "percentage_state_topic",
      "percentage_value_template",
      "speed_range_min",
      "speed_range_max",
      "preset_modes",
      "preset_mode_command_topic",
      "preset_mode_command_template",
      "preset_mode_state_topic",
      "preset_mode_value_template",
      "oscillation_command_topic",
      "oscillation_command_template",
      "oscillation_state_topic",
      "oscillation_value_template",
      "payload_oscillation_on",
      "payload_oscillation_off",
      "direction_command_topic",
      "direction_command_template",
      "direction_state_topic",
      "direction_value_template",
      "optimistic",
      "retain"}},
    {"climate",
     {"modes",
      "mode_command_topic",
      "mode_command_template",
      "mode_state_topic",
      "mode_state_template",
      "temperature_command_topic",
      "temperature_command_template",
      "temperature_state_topic",
      "temperature_state_template",
      "current_temperature_topic",
      "current_temperature_template",
      "min_temp",
      "max_temp",
      "temp_step",
      "precision",
      "temperature_unit",
      "preset_modes",
      "preset_mode_command_topic",
      "preset_mode_command_template",
      "preset_mode_state_topic",
      "preset_mode_value_template",
      "optimistic",
      "retain"}},
    {"update",
     {"state_topic", "value_template", "command_topic", "payload_install", "latest_version_topic",
      "latest_version_template", "title", "release_summary", "release_url", "display_precision", "retain"}},
    {"event", {"state_topic", "value_template", "event_types"}},
};
// Required by HA's config schema (core mqtt/<platform>.py) for what we publish.
const std::map<std::string, std::vector<std::string>> REQUIRED = {
    {"switch", {"command_topic"}},
    {"binary_sensor", {"state_topic"}},
    {"sensor", {"state_topic"}},
    {"number", {"command_topic"}},
    {"select", {"command_topic", "options"}},
    {"text", {"command_topic"}},
    {"button", {"command_topic"}},
    {"light", {"command_topic", "schema"}},
    {"cover", {}},
    {"fan", {"command_topic"}},
    {"climate", {}},
    {"update", {"state_topic", "command_topic"}},
    {"event", {"state_topic", "event_types"}},
};
const std::set<std::string> DEVICE_KEYS = {
    "identifiers",       "connections",   "name",       "manufacturer", "model",
    "model_id",          "serial_number", "hw_version", "sw_version",   "suggested_area",
    "configuration_url", "via_device"};
const std::set<std::string> ENTITY_CATEGORIES = {"config", "diagnostic"};

// ---- devices -------------------------------------------------------------------------------------

config::DeviceConfig device(const std::string& id, const std::string& name, const std::string& category) {
  config::DeviceConfig d;
  d.id = id;
  d.local_key = "0123456789abcdef";
  d.name = name;
  d.category = category;
  return d;
}

// A plausible full report for a model: every known DP with a value of its type.
json sample_dps(const model::DerivedModel& m) {
  json dps = json::object();
  for (const auto& [id, d] : m.dps) {
    const std::string k = std::to_string(id);
    if (d.code.rfind("colour_data", 0) == 0) {  // a "Json" DP in the cloud spec, a hex string on the wire
      dps[k] = id < 20 ? "ff00000000ffff" : "007803e803e8";
      continue;
    }
    switch (d.spec.type) {
      case proto::DpType::BOOL:
        dps[k] = true;
        break;
      case proto::DpType::INTEGER:
        dps[k] = d.spec.has_range ? d.spec.min + d.spec.step : 1;
        break;
      case proto::DpType::ENUM:
        dps[k] = d.spec.range.empty() ? "x" : d.spec.range.front();
        break;
      case proto::DpType::STRING:
        dps[k] = "abc";
        break;
      case proto::DpType::BITMAP:
        dps[k] = 0;
        break;
      default:
        break;
    }
  }
  return dps;
}

struct Case {
  config::DeviceConfig cfg;
  model::DerivedModel model;
  json payload;
  json state;
};

Case make(config::DeviceConfig cfg, bool firmware = true, std::vector<ha::EventEntity> events = {}) {
  Case c;
  c.cfg = std::move(cfg);
  c.model = model::derive_model(c.cfg);
  ha::DeviceInfo info;
  info.config = &c.cfg;
  info.model = &c.model;
  info.firmware_version = "1.1.8";
  info.firmware_update = firmware;
  info.events = std::move(events);
  c.payload = ha::device_discovery(info, OPTS);
  c.state = model::state_from_dps(c.model, sample_dps(c.model));
  return c;
}

std::vector<Case> all_devices() {
  std::vector<Case> out;
  auto plug = device("bf0123456789abcdef01", "kitchen/plug", "cz");
  plug.product_id = "keyjup78v54myhan";
  plug.product_name = "Smart plug 16A";
  out.push_back(make(plug));
  out.push_back(make(device("bf11aa22bb33cc44dd55", "desk_bulb", "dj")));
  out.push_back(make(device("bf0000000000dimmer01", "hall_dimmer", "tgkg")));
  out.push_back(make(device("bf22cc33dd44ee55ff66", "living_curtain", "cl")));
  out.push_back(make(device("bf0000000000000fan01", "ceiling_fan", "fs")));
  out.push_back(make(device("bf000000000thermo001", "thermostat", "wk")));
  out.push_back(make(device("bf0000000000door0001", "front_door", "mcs"), false));
  out.push_back(make(device("bf0000000000smoke001", "smoke", "ywbj"), false));
  out.push_back(make(device("bf00000000000strip01", "strip", "pc")));
  auto sub = device("bf34gw07sub0000th02", "zigbee_th", "wsdcg");
  sub.cid = "a4c138000000th02";
  sub.parent = "bf34gateway000000007";
  sub.local_key.clear();
  out.push_back(make(sub, false));
  auto scene = device("bf00000000scenesw001", "scene_switch", "wxkg");
  scene.mapping = json::parse(R"({
    "1": {"code": "switch1_value", "type": "Enum", "mode": "ro", "values": {"range": ["single_click", "double_click", "long_press"]}},
    "2": {"code": "switch2_value", "type": "Enum", "mode": "ro", "values": {"range": ["single_click", "double_click", "long_press"]}},
    "10": {"code": "battery_percentage", "type": "Integer", "values": {"unit": "%", "min": 0, "max": 100, "scale": 0, "step": 1}},
    "20": {"code": "display_text", "type": "String", "values": {"maxlen": 300}}
  })");
  out.push_back(make(scene, false, {ha::EventEntity{"scene", "Scene", {"Good night", "Movie"}, ""}}));
  return out;
}

const json& comp(const json& payload, const std::string& key) {
  REQUIRE_MESSAGE(payload["components"].contains(key), key);
  return payload["components"][key];
}

// Every value_json['key'] a template reads at the top level.
std::set<std::string> template_keys(const std::string& tpl) {
  std::set<std::string> out;
  static const std::regex re(R"(value_json\['([^'\\]*)'\])");
  for (auto it = std::sregex_iterator(tpl.begin(), tpl.end(), re); it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// ---- a tiny renderer for the template shapes the discovery module writes ---------------------------
// Supports {% if <a> is defined [and <b> is defined] %}...{% endif %} and {{ expr }} with
//   expr := cond ['|' 'to_json']
//   cond := atom ['==' atom] ['if' atom '==' atom 'else' atom]   (only the shapes we generate)
//   atom := 'str' | number | true | false | var | value_json['k'] | [list][var - 1] | {'k': n, ...}[atom]
// Unsupported input gives nullopt: the caller then only checks which keys are read.
struct Renderer {
  json vars = json::object();  // variables; "value_json" holds the state
  bool ok = true;

  std::string src;
  size_t pos = 0;

  void ws() {
    while (pos < src.size() && src[pos] == ' ') ++pos;
  }
  bool eat(std::string_view t) {
    ws();
    if (src.compare(pos, t.size(), t) == 0) {
      pos += t.size();
      return true;
    }
    return false;
  }
  std::string ident() {
    ws();
    size_t s = pos;
    while (pos < src.size() && (std::isalnum(static_cast<unsigned char>(src[pos])) || src[pos] == '_')) ++pos;
    return src.substr(s, pos - s);
  }
  std::string str() {  // after the opening quote
    std::string out;
    while (pos < src.size() && src[pos] != '\'') {
      if (src[pos] == '\\') ++pos;
      out += src[pos++];
    }
    ++pos;
    return out;
  }
  json atom() {
    ws();
    if (eat("'")) return str();
    if (eat("[")) {
      json list = json::array();
      while (!eat("]")) {
        list.push_back(atom());
        eat(",");
      }
      if (eat("[")) {
        json i = atom();
        if (eat("-")) i = i.get<int>() - atom().get<int>();
        eat("]");
        return list.at(i.get<size_t>());
      }
      return list;
    }
    if (eat("{")) {
      json dict = json::object();
      while (!eat("}")) {
        std::string k = atom().get<std::string>();
        eat(":");
        dict[k] = atom();
        eat(",");
      }
      if (eat("[")) {
        json k = atom();
        eat("]");
        if (!k.is_string() || !dict.contains(k.get<std::string>())) {
          ok = false;
          return nullptr;
        }
        return dict[k.get<std::string>()];
      }
      return dict;
    }
    if (pos < src.size() && (std::isdigit(static_cast<unsigned char>(src[pos])) || src[pos] == '-')) {
      size_t s = pos;
      ++pos;
      while (pos < src.size() && (std::isdigit(static_cast<unsigned char>(src[pos])) || src[pos] == '.'))
        ++pos;
      return json::parse(src.substr(s, pos - s));
    }
    const std::string id = ident();
    if (id == "true") return true;
    if (id == "false") return false;
    if (id == "None") return nullptr;
    if (id.empty() || !vars.contains(id)) {
      ok = false;
      return nullptr;
    }
    json v = vars[id];
    while (eat("[")) {
      json k = atom();
      eat("]");
      if (!v.is_object() || !k.is_string() || !v.contains(k.get<std::string>())) {
        ok = false;
        return nullptr;
      }
      v = v[k.get<std::string>()];
    }
    return v;
  }
  json expr() {
    json a = atom();
    if (eat("==")) a = (a == atom());
    if (eat("if ")) {
      json l = atom();
      eat("==");
      json r = atom();
      eat("else");
      json b = atom();
      a = (l == r) ? a : b;
    }
    if (eat("|")) {
      if (ident() != "to_json") ok = false;
      a = a.dump();
    }
    return a;
  }
  bool defined(const std::string& cond) {  // "<var> is defined [and <var> is defined]" or value_json['k']
    Renderer sub;
    sub.vars = vars;
    bool all = true;
    size_t start = 0;
    while (start < cond.size()) {
      size_t end = cond.find(" and ", start);
      std::string part = cond.substr(start, end == std::string::npos ? std::string::npos : end - start);
      const size_t is = part.find(" is defined");
      if (is == std::string::npos) {
        ok = false;
        return false;
      }
      sub.src = part.substr(0, is);
      sub.pos = 0;
      sub.ok = true;
      (void)sub.atom();
      all = all && sub.ok;
      if (end == std::string::npos) break;
      start = end + 5;
    }
    return all;
  }
  std::optional<std::string> render(const std::string& tpl) {
    std::string out;
    size_t i = 0;
    std::vector<bool> emit{true};
    while (i < tpl.size()) {
      if (tpl.compare(i, 2, "{%") == 0) {
        size_t e = tpl.find("%}", i);
        std::string tag = tpl.substr(i + 2, e - i - 2);
        while (!tag.empty() && tag.front() == ' ') tag.erase(tag.begin());
        while (!tag.empty() && tag.back() == ' ') tag.pop_back();
        if (tag.rfind("if ", 0) == 0 && tag.find(" is defined") != std::string::npos) {
          emit.push_back(emit.back() && defined(tag.substr(3)));
        } else if (tag.rfind("if ", 0) == 0) {
          src = tag.substr(3);
          pos = 0;
          const json v = expr();
          if (!ok) return std::nullopt;
          emit.push_back(emit.back() && v.is_boolean() && v.get<bool>());
        } else if (tag == "endif") {
          emit.pop_back();
        } else {
          return std::nullopt;
        }
        i = e + 2;
      } else if (tpl.compare(i, 2, "{{") == 0) {
        size_t e = tpl.find("}}", i);
        if (emit.back()) {
          src = tpl.substr(i + 2, e - i - 2);
          pos = 0;
          json v = expr();
          ws();
          if (!ok || pos != src.size()) return std::nullopt;
          out += v.is_string() ? v.get<std::string>() : v.dump();
        }
        i = e + 2;
      } else {
        if (emit.back()) out += tpl[i];
        ++i;
      }
    }
    return out;
  }
};

std::optional<std::string> render(const std::string& tpl, json vars) {
  Renderer r;
  r.vars = std::move(vars);
  return r.render(tpl);
}

// What the gateway does with a message HA publishes: the DPs it would write.
json gateway_dps(const Case& c, const std::string& topic, const std::string& payload) {
  const Topics topics(OPTS.base_topic);
  auto parsed = topics.parse(topic);
  REQUIRE_MESSAGE(parsed.ok(), topic);
  REQUIRE(parsed->name == c.cfg.display_name());
  Result<json> dps = json();
  if (parsed->kind == TopicKind::SET) {
    auto cmd = parse_set_payload(payload);
    REQUIRE_MESSAGE(cmd.ok(), payload);
    dps = model::command_to_dps(c.model, cmd.value(), sample_dps(c.model));
  } else {
    REQUIRE(parsed->kind == TopicKind::SET_ATTR);
    auto v = parse_bare_value(payload);
    REQUIRE(v.ok());
    dps = model::command_to_dps(c.model, json{{parsed->attribute, v.value()}}, sample_dps(c.model));
  }
  REQUIRE_MESSAGE(dps.ok(), payload << ": " << (dps.ok() ? "" : dps.error().message));
  return dps.value();
}

// Renders a command template for `vars` and runs it through the gateway.
json command(const Case& c, const json& component, const std::string& topic_key,
             const std::string& template_key, const json& vars) {
  const std::string tpl = component.value(template_key, std::string());
  REQUIRE_MESSAGE(!tpl.empty(), template_key);
  auto payload = render(tpl, vars);
  REQUIRE_MESSAGE(payload.has_value(), tpl);
  REQUIRE_MESSAGE(!json::parse(*payload, nullptr, false).is_discarded(), *payload);
  return gateway_dps(c, component[topic_key].get<std::string>(), *payload);
}

}  // namespace

TEST_SUITE("ha_discovery") {
  TEST_CASE("every payload follows HA's documented schema, key by key") {
    const Topics topics(OPTS.base_topic);
    std::set<std::string> unique_ids;
    std::set<std::string> platforms_seen;
    std::set<std::string> discovery_topics;
    for (const auto& c : all_devices()) {
      CAPTURE(c.cfg.display_name());
      const json& p = c.payload;
      REQUIRE(p.is_object());
      CHECK(discovery_topics.insert(ha::discovery_topic(OPTS, c.cfg)).second);
      // Device block and origin.
      REQUIRE(p.contains("device"));
      for (const auto& [k, v] : p["device"].items()) CHECK_MESSAGE(DEVICE_KEYS.count(k), k);
      CHECK(p["device"]["identifiers"] == json::array({ha::device_identifier(c.cfg)}));
      CHECK(p["device"]["name"] == c.cfg.display_name());
      CHECK(p["device"]["manufacturer"] == "Tuya");
      CHECK(p["device"]["sw_version"] == "1.1.8");
      CHECK(p["device"]["model"].is_string());
      CHECK(p["origin"]["name"] == "tuya2mqtt");
      CHECK(p["origin"]["sw_version"] == "0.1.0");
      CHECK(p["origin"]["support_url"] == OPTS.support_url);
      if (c.cfg.is_sub_device()) {
        CHECK(p["device"]["via_device"] == "tuya2mqtt_bf34gateway000000007");
      } else {
        CHECK(p["device"]["via_device"] == ha::bridge_identifier(OPTS));
      }
      REQUIRE(p["components"].is_object());
      REQUIRE_FALSE(p["components"].empty());
      int main_entities = 0;
      for (const auto& [key, cp] : p["components"].items()) {
        CAPTURE(key);
        REQUIRE(cp.contains("platform"));
        const std::string platform = cp["platform"].get<std::string>();
        platforms_seen.insert(platform);
        REQUIRE(PLATFORM_KEYS.count(platform));
        // Allowed keys only (a typo would be silently ignored by HA).
        for (const auto& [k, v] : cp.items()) {
          CHECK_MESSAGE((COMMON.count(k) || PLATFORM_KEYS.at(platform).count(k)), platform << "." << k);
        }
        for (const auto& k : REQUIRED.at(platform)) CHECK_MESSAGE(cp.contains(k), platform << " needs " << k);
        // Identity.
        REQUIRE(cp["unique_id"].is_string());
        CHECK(unique_ids.insert(cp["unique_id"].get<std::string>()).second);
        CHECK(cp["unique_id"].get<std::string>().rfind(c.cfg.id, 0) == 0);
        CHECK(cp["default_entity_id"].get<std::string>().rfind(platform + ".", 0) == 0);
        CHECK(std::regex_match(cp["object_id"].get<std::string>(), std::regex("[a-z0-9_]+")));
        if (cp["name"].is_null()) ++main_entities;
        if (cp.contains("entity_category"))
          CHECK(ENTITY_CATEGORIES.count(cp["entity_category"].get<std::string>()));
        // Availability: the bridge and (except firmware) the device.
        REQUIRE(cp["availability"].is_array());
        CHECK(cp["availability"][0]["topic"] == topics.bridge_state());
        if (platform != "update") {
          REQUIRE(cp["availability"].size() == 2);
          CHECK(cp["availability"][1]["topic"] == topics.availability(c.cfg.display_name()));
        }
        CHECK(cp["availability_mode"] == "all");
        // Topics: state topics are the device's state (or action) topic; command topics parse as
        // commands for this device.
        for (const auto& [k, v] : cp.items()) {
          if (!ends_with(k, "_topic")) continue;
          const std::string t = v.get<std::string>();
          if (k.find("command") != std::string::npos || k == "set_position_topic") {
            auto parsed = topics.parse(t);
            REQUIRE_MESSAGE(parsed.ok(), t);
            if (parsed->kind == TopicKind::BRIDGE_REQUEST) {
              CHECK(parsed->path == "device/ota_update/update");
            } else {
              CHECK(parsed->name == c.cfg.display_name());
              CHECK((parsed->kind == TopicKind::SET || parsed->kind == TopicKind::SET_ATTR ||
                     parsed->kind == TopicKind::GET));
            }
          } else if (platform == "event") {
            CHECK(t == ha::action_topic(OPTS, c.cfg.display_name()));
          } else {
            CHECK(t == topics.state(c.cfg.display_name()));
          }
        }
        // Templates that read the state read keys the state carries ("update" is the firmware object the
        // gateway adds when the cloud knows the firmware; event templates read the action payload).
        for (const auto& [k, v] : cp.items()) {
          if (!v.is_string() || (!ends_with(k, "_template") && k != "value_template")) continue;
          if (k.find("command") != std::string::npos || k == "set_position_template") continue;
          for (const auto& ref : template_keys(v.get<std::string>())) {
            if (platform == "event") {
              CHECK((ref == "source" || ref == "event_type"));
            } else if (platform == "update") {
              CHECK(ref == "update");
            } else {
              CHECK_MESSAGE(c.state.contains(ref),
                            k << " reads '" << ref << "' missing from " << c.state.dump());
            }
          }
        }
        // Per platform.
        if (platform == "sensor" && cp.value("device_class", "") == "enum") {
          CHECK_FALSE(cp.contains("unit_of_measurement"));
          CHECK_FALSE(cp.contains("state_class"));
          CHECK(cp["options"].is_array());
        }
        if (platform == "select") CHECK_FALSE(cp["options"].empty());
        if (platform == "text") CHECK(cp["max"].get<int>() <= ha::HA_TEXT_MAX);
        if (platform == "event") CHECK_FALSE(cp["event_types"].empty());
        if (platform == "light" && cp["schema"] == "json") {
          const auto modes = cp["supported_color_modes"];
          REQUIRE(modes.is_array());
          for (const auto& m : modes) {
            CHECK(
                std::set<std::string>{"onoff", "brightness", "color_temp", "hs"}.count(m.get<std::string>()));
            if (m == "onoff" || m == "brightness") CHECK(modes.size() == 1);
          }
        }
        if (platform == "light" && cp["schema"] == "template") {
          CHECK(cp.contains("command_on_template"));
          CHECK(cp.contains("command_off_template"));
        }
      }
      CHECK(main_entities <= 1);
    }
    // Every entity kind of the issue appears.
    for (const char* p : {"switch", "light", "cover", "fan", "climate", "sensor", "binary_sensor", "number",
                          "select", "text", "button", "update", "event"}) {
      CHECK_MESSAGE(platforms_seen.count(p), p);
    }
  }

  TEST_CASE("plug: topics by id, entities by name, energy dashboard sensor, outlet switch") {
    auto cases = all_devices();
    const Case& c = cases[0];
    CHECK(ha::discovery_topic(OPTS, c.cfg) == "homeassistant/device/tuya_bf0123456789abcdef01/config");
    const json& sw = comp(c.payload, "switch_1");
    CHECK(sw["platform"] == "switch");
    CHECK(sw["name"].is_null());
    CHECK(sw["unique_id"] == "bf0123456789abcdef01_switch_1");
    CHECK(sw["default_entity_id"] == "switch.kitchen_plug");
    CHECK(sw["device_class"] == "outlet");
    CHECK(sw["state_topic"] == "tuya2mqtt/kitchen/plug");
    CHECK(sw["command_topic"] == "tuya2mqtt/kitchen/plug/set");
    CHECK(gateway_dps(c, sw["command_topic"], sw["payload_on"]) == json{{"1", true}});
    CHECK(gateway_dps(c, sw["command_topic"], sw["payload_off"]) == json{{"1", false}});
    // The value template turns the state into state_on / state_off.
    json st = c.state;
    CHECK(render(sw["value_template"], {{"value_json", st}}) == sw["state_on"].get<std::string>());
    st["state"] = "OFF";
    CHECK(render(sw["value_template"], {{"value_json", st}}) == sw["state_off"].get<std::string>());
    st.erase("state");
    CHECK(render(sw["value_template"], {{"value_json", st}}) == "");  // ignored by HA, not "off"

    const json& energy = comp(c.payload, "add_ele");
    CHECK(energy["device_class"] == "energy");
    CHECK(energy["state_class"] == "total_increasing");
    CHECK(energy["unit_of_measurement"] == "kWh");
    CHECK(energy["suggested_display_precision"] == 3);
    CHECK(render(energy["value_template"], {{"value_json", c.state}}) == c.state["add_ele"].dump());
    const json& power = comp(c.payload, "cur_power");
    CHECK(power["device_class"] == "power");
    CHECK(power["state_class"] == "measurement");
    CHECK(power["unit_of_measurement"] == "W");
    CHECK(power["name"] == "Power");
    CHECK(power["default_entity_id"] == "sensor.kitchen_plug_cur_power");
    const json& cd = comp(c.payload, "countdown_1");
    CHECK(cd["platform"] == "number");
    CHECK(cd["entity_category"] == "config");
    CHECK(cd["min"] == 0.0);
    CHECK(cd["max"] == 86400.0);
    CHECK(cd["mode"] == "box");
    CHECK(cd["unit_of_measurement"] == "s");
    CHECK(command(c, cd, "command_topic", "command_template", {{"value", 60}}) == json{{"9", 60}});
    CHECK(c.payload["device"]["model"] == "Smart plug 16A (cz)");
    CHECK(c.payload["device"]["model_id"] == "keyjup78v54myhan");
  }

  TEST_CASE("light (JSON schema): colour modes, kelvin, and HA's commands become the right DPs") {
    auto cases = all_devices();
    const Case& c = cases[1];
    const json& l = comp(c.payload, "light");
    CHECK(l["schema"] == "json");
    CHECK(l["name"].is_null());
    CHECK(l["supported_color_modes"] == json::array({"hs", "color_temp"}));
    CHECK(l["brightness"] == true);
    CHECK(l["brightness_scale"] == 255);
    CHECK(l["color_temp_kelvin"] == true);
    CHECK(l["min_kelvin"] == 2700);
    CHECK(l["max_kelvin"] == 6500);
    // Effects are advertised only when the gateway maps "effect" to DPs (it does not yet).
    const bool effect_supported = !model::command_to_dps(c.model, json{{"effect", "scene"}})->empty();
    CHECK(l.contains("effect_list") == effect_supported);
    const std::string set = l["command_topic"];
    CHECK(gateway_dps(c, set, R"({"state":"ON"})") == json{{"20", true}});
    CHECK(gateway_dps(c, set, R"({"state":"OFF"})") == json{{"20", false}});
    auto b = gateway_dps(c, set, R"({"state":"ON","brightness":255})");
    CHECK(b["20"] == true);
    CHECK(b.size() == 2);
    auto hs = gateway_dps(c, set, R"({"state":"ON","color":{"h":120,"s":50}})");
    REQUIRE(hs.contains("24"));
    CHECK(hs["24"].get<std::string>().substr(0, 8) == "007801f4");  // h 120, s 500 of 1000
    CHECK(hs["21"] == "colour");
    auto ct = gateway_dps(c, set, R"({"color_temp":6500})");
    CHECK(ct["23"] == 1000);
    CHECK(ct["21"] == "white");
    // The state carries what HA's JSON schema reads.
    for (const char* k : {"state", "brightness", "color_mode", "color", "color_temp"}) {
      CAPTURE(k);
      CHECK_MESSAGE(c.state.contains(k), c.state.dump());
    }
  }

  TEST_CASE("second light of a dimmer uses the template schema with its suffixed keys") {
    auto cases = all_devices();
    const Case& c = cases[2];
    CHECK(comp(c.payload, "light")["schema"] == "json");
    const json& l2 = comp(c.payload, "light_2");
    CHECK(l2["schema"] == "template");
    CHECK(l2["name"] == "Light 2");
    CHECK(command(c, l2, "command_topic", "command_on_template", json::object()) == json{{"7", true}});
    auto dim = command(c, l2, "command_topic", "command_on_template", {{"brightness", 255}});
    CHECK(dim["7"] == true);
    CHECK(dim["8"] == 1000);
    CHECK(command(c, l2, "command_topic", "command_off_template", json::object()) == json{{"7", false}});
    json st = c.state;
    CHECK(render(l2["state_template"], {{"value_json", st}}) == "on");
    st["state_light_2"] = "OFF";
    CHECK(render(l2["state_template"], {{"value_json", st}}) == "off");
    CHECK(render(l2["brightness_template"], {{"value_json", st}}) == st["brightness_light_2"].dump());
    // The dimmer's other entities: a number and a select.
    CHECK(comp(c.payload, "brightness_min_1")["platform"] == "number");
    const json& sel = comp(c.payload, "led_type_1");
    CHECK(sel["platform"] == "select");
    CHECK(sel["options"] == json::array({"led", "incandescent", "halogen"}));
    CHECK(command(c, sel, "command_topic", "command_template", {{"value", "halogen"}}) ==
          json{{"4", "halogen"}});
  }

  TEST_CASE("cover: open/close/stop and position") {
    auto cases = all_devices();
    const Case& c = cases[3];
    const json& cv = comp(c.payload, "cover");
    CHECK(cv["device_class"] == "curtain");
    const std::string set = cv["command_topic"];
    CHECK(gateway_dps(c, set, cv["payload_open"]) == json{{"1", "open"}});
    CHECK(gateway_dps(c, set, cv["payload_close"]) == json{{"1", "close"}});
    CHECK(gateway_dps(c, set, cv["payload_stop"]) == json{{"1", "stop"}});
    CHECK(command(c, cv, "set_position_topic", "set_position_template", {{"position", 40}}) ==
          json{{"2", 40}});
    CHECK(cv["position_open"] == 100);
    CHECK(cv["position_closed"] == 0);
    CHECK(render(cv["position_template"], {{"value_json", c.state}}) == c.state["position"].dump());
    const std::string s = *render(cv["value_template"], {{"value_json", c.state}});
    CHECK(std::set<std::string>{"open", "opening", "closed", "closing", "stopped"}.count(s));
    CHECK(comp(c.payload, "control_back")["platform"] == "select");
  }

  TEST_CASE("fan: power, speed percentage, presets, oscillation, direction") {
    auto cases = all_devices();
    const Case& c = cases[4];
    const json& f = comp(c.payload, "fan");
    CHECK(f["name"].is_null());
    CHECK(command(c, f, "command_topic", "command_template", {{"value", f["payload_on"]}}) ==
          json{{"1", true}});
    CHECK(command(c, f, "command_topic", "command_template", {{"value", f["payload_off"]}}) ==
          json{{"1", false}});
    CHECK(render(f["state_value_template"], {{"value_json", c.state}}) == f["payload_on"].get<std::string>());
    REQUIRE(f.contains("percentage_command_template"));
    const int hi = f["speed_range_max"];
    const json pct =
        command(c, f, "percentage_command_topic", "percentage_command_template", {{"value", hi}});
    REQUIRE(pct.size() == 1);
    CHECK(pct.begin().key() == "3");
    CHECK(render(f["percentage_value_template"], {{"value_json", c.state}}).has_value());
    CHECK(f["preset_modes"] == json::array({"normal", "nature", "sleep"}));
    CHECK(command(c, f, "preset_mode_command_topic", "preset_mode_command_template", {{"value", "sleep"}}) ==
          json{{"2", "sleep"}});
    CHECK(command(c, f, "oscillation_command_topic", "oscillation_command_template",
                  {{"value", f["payload_oscillation_on"]}}) == json{{"5", true}});
    CHECK(command(c, f, "oscillation_command_topic", "oscillation_command_template",
                  {{"value", f["payload_oscillation_off"]}}) == json{{"5", false}});
    CHECK(render(f["oscillation_value_template"], {{"value_json", c.state}}) == "true");
    CHECK(command(c, f, "direction_command_topic", "direction_command_template", {{"value", "reverse"}}) ==
          json{{"8", "reverse"}});
  }

  TEST_CASE("fan with an enum speed: HA's 1..N range maps onto the enum values") {
    config::DeviceConfig d = device("bf00000000000fan0002", "enum_fan", "fs");
    d.mapping = json::parse(R"({
      "1": {"code": "switch", "type": "Boolean", "values": {}},
      "3": {"code": "fan_speed", "type": "Enum", "values": {"range": ["low", "middle", "high"]}}})");
    Case c = make(d, false);
    const json& f = comp(c.payload, "fan");
    CHECK(f["speed_range_min"] == 1);
    CHECK(f["speed_range_max"] == 3);
    CHECK(command(c, f, "percentage_command_topic", "percentage_command_template", {{"value", 3}}) ==
          json{{"3", "high"}});
    CHECK(command(c, f, "percentage_command_topic", "percentage_command_template", {{"value", 1}}) ==
          json{{"3", "low"}});
    json st = c.state;
    st["fan_speed"] = "middle";
    CHECK(render(f["percentage_value_template"], {{"value_json", st}}) == "2");
  }

  TEST_CASE("climate: heat/off, target temperature, current temperature, presets") {
    auto cases = all_devices();
    const Case& c = cases[5];
    const json& cl = comp(c.payload, "climate");
    CHECK(cl["modes"] == json::array({"off", "heat"}));
    CHECK(command(c, cl, "mode_command_topic", "mode_command_template", {{"value", "off"}}) ==
          json{{"1", false}});
    CHECK(command(c, cl, "mode_command_topic", "mode_command_template", {{"value", "heat"}}) ==
          json{{"1", true}});
    CHECK(render(cl["mode_state_template"], {{"value_json", c.state}}) == "heat");
    const json target = command(c, cl, "temperature_command_topic", "temperature_command_template",
                                {{"value", cl["max_temp"]}});
    REQUIRE(target.size() == 1);
    CHECK(cl.contains("current_temperature_template"));
    CHECK(cl["temperature_unit"] == "C");
    CHECK(cl["preset_modes"] == json::array({"auto", "manual"}));
    CHECK(command(c, cl, "preset_mode_command_topic", "preset_mode_command_template",
                  {{"value", "manual"}}) == json{{"4", "manual"}});
    CHECK(cl["min_temp"].get<double>() < cl["max_temp"].get<double>());
    const double p = cl["precision"];
    CHECK((p == 0.1 || p == 0.5 || p == 1.0));
  }

  TEST_CASE("binary sensors map device values onto ON/OFF") {
    auto cases = all_devices();
    const Case& door = cases[6];
    const json& b = comp(door.payload, "doorcontact_state");
    CHECK(b["device_class"] == "door");
    json st = door.state;
    st["doorcontact_state"] = true;
    CHECK(render(b["value_template"], {{"value_json", st}}) == "ON");
    st["doorcontact_state"] = false;
    CHECK(render(b["value_template"], {{"value_json", st}}) == "OFF");
    const Case& smoke = cases[7];
    const json& s = comp(smoke.payload, "smoke_sensor_status");
    CHECK(s["device_class"] == "smoke");
    st = smoke.state;
    st["smoke_sensor_status"] = "alarm";
    CHECK(render(s["value_template"], {{"value_json", st}}) == "ON");
    st["smoke_sensor_status"] = "normal";
    CHECK(render(s["value_template"], {{"value_json", st}}) == "OFF");
    CHECK_FALSE(door.payload["components"].contains("firmware"));
  }

  TEST_CASE("power strip: non-main switches command their own DP") {
    auto cases = all_devices();
    const Case& c = cases[8];
    const json& s2 = comp(c.payload, "switch_2");
    CHECK(s2["name"] == "Switch 2");
    CHECK(gateway_dps(c, s2["command_topic"], s2["payload_on"]) == json{{"2", true}});
    CHECK(gateway_dps(c, s2["command_topic"], s2["payload_off"]) == json{{"2", false}});
    json st = c.state;
    st["switch_2"] = false;
    CHECK(render(s2["value_template"], {{"value_json", st}}) == "OFF");
    st["switch_2"] = true;
    CHECK(render(s2["value_template"], {{"value_json", st}}) == "ON");
    CHECK(comp(c.payload, "switch_usb1")["platform"] == "switch");
  }

  TEST_CASE("sub-device: ids carry the cid, via_device is the gateway, enum sensor options") {
    auto cases = all_devices();
    const Case& c = cases[9];
    CHECK(ha::discovery_topic(OPTS, c.cfg) ==
          "homeassistant/device/tuya_bf34gw07sub0000th02_a4c138000000th02/config");
    CHECK(ha::device_identifier(c.cfg) == "tuya2mqtt_bf34gw07sub0000th02_a4c138000000th02");
    const json& t = comp(c.payload, "va_temperature");
    CHECK(t["unique_id"] == "bf34gw07sub0000th02_a4c138000000th02_va_temperature");
    CHECK(t["device_class"] == "temperature");
    CHECK(t["unit_of_measurement"] == "°C");
    const json& bs = comp(c.payload, "battery_state");
    CHECK(bs["device_class"] == "enum");
    CHECK(bs["options"] == json::array({"low", "middle", "high"}));
    CHECK(bs["entity_category"] == "diagnostic");
  }

  TEST_CASE("scene switch: event entities, events from reports, text, battery") {
    auto cases = all_devices();
    const Case& c = cases[10];
    const json& ev = comp(c.payload, "switch1_value_action");
    CHECK(ev["platform"] == "event");
    CHECK(ev["event_types"] == json::array({"single_click", "double_click", "long_press"}));
    CHECK(ev["device_class"] == "button");
    CHECK(ev["state_topic"] == "tuya2mqtt/scene_switch/action");
    auto events = ha::events_from_report(c.model, json{{"2", "double_click"}, {"10", 80}});
    REQUIRE(events.size() == 1);
    CHECK(events[0] == json{{"event_type", "double_click"}, {"source", "switch2_value"}});
    // Only the entity whose source matches fires.
    CHECK(render(ev["value_template"], {{"value_json", events[0]}}) == "");
    const json& ev2 = comp(c.payload, "switch2_value_action");
    CHECK(json::parse(*render(ev2["value_template"], {{"value_json", events[0]}})) ==
          json{{"event_type", "double_click"}});
    CHECK(ha::events_from_report(c.model, json{{"10", 80}}).empty());
    // The caller's scene events.
    const json& scene = comp(c.payload, "scene_event");
    CHECK(scene["event_types"] == json::array({"Good night", "Movie"}));
    CHECK(json::parse(*render(scene["value_template"],
                              {{"value_json", json{{"event_type", "Movie"}, {"source", "scene"}}}})) ==
          json{{"event_type", "Movie"}});
    // A writable string DP becomes a text entity limited to HA's 255 characters.
    const json& text = comp(c.payload, "display_text");
    CHECK(text["platform"] == "text");
    CHECK(text["max"] == 255);
    CHECK(command(c, text, "command_topic", "command_template", {{"value", "hi \"there\""}}) ==
          json{{"20", "hi \"there\""}});
    CHECK(comp(c.payload, "battery_percentage")["device_class"] == "battery");
  }

  TEST_CASE("firmware update entity reads the state's update object and installs through the bridge") {
    auto cases = all_devices();
    const Case& c = cases[0];
    const json& u = comp(c.payload, "firmware");
    CHECK(u["platform"] == "update");
    CHECK(u["device_class"] == "firmware");
    CHECK(u["entity_category"] == "config");
    CHECK(u["availability"].size() == 1);
    CHECK(u["command_topic"] == "tuya2mqtt/bridge/request/device/ota_update/update");
    CHECK(json::parse(u["payload_install"].get<std::string>()) == json{{"id", c.cfg.id}});
    // Bracket access: value_json.update would be the dict's update() method in HA's Jinja.
    CHECK(u["value_template"].get<std::string>().find("value_json.update") == std::string::npos);
    CHECK(u["value_template"].get<std::string>().find("value_json['update']") != std::string::npos);
    // Without an update object the template renders nothing (HA ignores it).
    CHECK(render(u["value_template"], {{"value_json", c.state}}) == "");
    const json& b = comp(c.payload, "refresh");
    CHECK(b["platform"] == "button");
    CHECK(b["command_topic"] == "tuya2mqtt/kitchen/plug/get");
  }

  TEST_CASE("removed components are sent with only their platform; components_of lists them") {
    auto cases = all_devices();
    const Case& c = cases[0];
    auto before = ha::components_of(c.payload);
    CHECK(std::count(before.begin(), before.end(),
                     std::make_pair(std::string("switch_1"), std::string("switch"))) == 1);
    ha::DeviceInfo info{&c.cfg, &c.model, "", false, {}};
    json after = ha::device_discovery(info, OPTS, {{"firmware", "update"}, {"switch_1", "switch"}});
    CHECK(after["components"]["firmware"] == json{{"platform", "update"}});
    CHECK(after["components"]["switch_1"]["command_topic"].is_string());  // still there: not replaced
    CHECK_FALSE(after["device"].contains("sw_version"));
  }

  TEST_CASE("a rename changes topics and names but not ids") {
    auto cfg = device("bf0123456789abcdef01", "old_name", "cz");
    Case a = make(cfg);
    cfg.name = "new/name";
    Case b = make(cfg);
    CHECK(ha::discovery_topic(OPTS, a.cfg) == ha::discovery_topic(OPTS, b.cfg));
    CHECK(comp(a.payload, "switch_1")["unique_id"] == comp(b.payload, "switch_1")["unique_id"]);
    CHECK(comp(b.payload, "switch_1")["state_topic"] == "tuya2mqtt/new/name");
    CHECK(comp(b.payload, "switch_1")["availability"][1]["topic"] == "tuya2mqtt/new/name/availability");
    CHECK(b.payload["device"]["name"] == "new/name");
  }

  TEST_CASE("prefix and base topic are honoured; the bridge device") {
    ha::Options o{"ha_disc", "t2m/home", "0.1.0", ""};
    auto cfg = device("bf0123456789abcdef01", "plug", "cz");
    auto model = model::derive_model(cfg);
    ha::DeviceInfo info{&cfg, &model, "", false, {}};
    json p = ha::device_discovery(info, o);
    CHECK(ha::discovery_topic(o, cfg) == "ha_disc/device/tuya_bf0123456789abcdef01/config");
    CHECK(p["components"]["switch_1"]["command_topic"] == "t2m/home/plug/set");
    CHECK(p["components"]["switch_1"]["availability"][0]["topic"] == "t2m/home/bridge/state");
    CHECK_FALSE(p["origin"].contains("support_url"));
    CHECK(ha::bridge_discovery_topic(o) == "ha_disc/device/tuya2mqtt_bridge_t2m_home/config");
    json br = ha::bridge_discovery(o, {"Good night"});
    CHECK(br["device"]["identifiers"] == json::array({"tuya2mqtt_bridge_t2m_home"}));
    CHECK(p["device"]["via_device"] == "tuya2mqtt_bridge_t2m_home");
    const json& conn = br["components"]["connection_state"];
    CHECK(conn["state_topic"] == "t2m/home/bridge/state");
    CHECK(render(conn["value_template"], {{"value_json", json{{"state", "online"}}}}) == "online");
    CHECK(br["components"]["scene"]["event_types"] == json::array({"Good night"}));
    CHECK(json::parse(
              *render(br["components"]["scene"]["value_template"],
                      {{"value_json", json{{"type", "scene_run"}, {"data", {{"name", "Good night"}}}}}})) ==
          json{{"event_type", "Good night"}});
    CHECK(render(br["components"]["scene"]["value_template"],
                 {{"value_json", json{{"type", "device_online"}, {"data", {{"id", "x"}}}}}}) == "");
    CHECK(br["components"]["scan"]["command_topic"] == "t2m/home/bridge/request/scan");
    CHECK_FALSE(ha::bridge_discovery(o)["components"].contains("scene"));
    std::set<std::string> ids;
    for (const auto& [k, v] : br["components"].items())
      CHECK(ids.insert(v["unique_id"].get<std::string>()).second);
  }

  TEST_CASE("jinja strings and odd characters in ids") {
    CHECK(ha::jinja_string("it's") == R"('it\'s')");
    CHECK(ha::jinja_string(R"(a\b)") == R"('a\\b')");
    config::DeviceConfig d = device("bf01/+#x", "n", "cz");
    CHECK(ha::discovery_topic(OPTS, d) == "homeassistant/device/tuya_bf01___x/config");
    CHECK(ha::unique_id(d, "switch_1") == "bf01___x_switch_1");
    ha::DeviceInfo none;
    CHECK(ha::device_discovery(none, OPTS).is_null());
  }
}

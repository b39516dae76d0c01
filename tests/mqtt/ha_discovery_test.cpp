// HA discovery envelopes (mqtt/ha_discovery.cpp): every payload checked key by key against HA's documented
// MQTT schemas (required keys, allowed keys per platform), the device block and origin, unique ids, topics
// the gateway really uses and templates that read keys the state really carries; sub-devices, renames,
// removed components, the bridge device. The payload of each platform is tested in ha_components_test.cpp.
#include "mqtt/ha_discovery.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "mqtt/topics.h"
#include "tests/mqtt/ha_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_ha_discovery_test {

using nlohmann::json;
using namespace t2m;
using namespace t2m::mqtt;
using namespace t2m::mqtt::ha_testing;

namespace {

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
      for (const auto& k_item : p["device"].items()) {
        const std::string& k = k_item.key();
        CHECK_MESSAGE(DEVICE_KEYS.count(k), k);
      }
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
      for (const auto& key_item : p["components"].items()) {
        const std::string& key = key_item.key();
        const json& cp = key_item.value();
        CAPTURE(key);
        REQUIRE(cp.contains("platform"));
        const std::string platform = cp["platform"].get<std::string>();
        platforms_seen.insert(platform);
        REQUIRE(PLATFORM_KEYS.count(platform));
        // Allowed keys only (a typo would be silently ignored by HA).
        for (const auto& k_item : cp.items()) {
          const std::string& k = k_item.key();
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
        for (const auto& k_item : cp.items()) {
          const std::string& k = k_item.key();
          const json& v = k_item.value();
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

}  // namespace t2m_ha_discovery_test

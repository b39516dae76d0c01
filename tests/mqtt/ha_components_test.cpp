// HA discovery payloads per platform (mqtt/ha_components.cpp): switch, sensor, light (JSON and template
// schema), cover, fan, climate, binary sensor, event, text, update and button, each rendered against the
// state the gateway publishes and each command run through the gateway to the DPs it writes.
#include "mqtt/ha_discovery.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "mqtt/topics.h"
#include "tests/mqtt/ha_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_ha_components_test {

using nlohmann::json;
using namespace t2m;
using namespace t2m::mqtt;
using namespace t2m::mqtt::ha_testing;

TEST_SUITE("ha_discovery") {
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
}

}  // namespace t2m_ha_components_test

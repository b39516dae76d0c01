// Home Assistant discovery end to end: a real mosquitto, the device simulator, and the gateway core with the
// HaPublisher wired the way the composition root wires it. Discovery configs land retained on the broker;
// the commands HA would send on each entity's command topic reach the simulated devices as the right DP
// and value; HA's birth message makes the states come again; a removed device's config is cleared.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/support/gateway_fixture.h"
#include "tests/support/per_case.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_ha_test {

using namespace t2m;
using nlohmann::json;
using test::GatewayFixture;

namespace {

constexpr uint64_t TEST_BIRTH_DELAY_MS = 200;
const std::string PLUG = "bfha33plug0000000001";
const std::string BULB = "bfha34bulb0000000002";
const std::string CURTAIN = "bfha35curtain0000003";

// Their own loopback block: no collision with the demo (127.0.1.x) or gateway_test (127.0.3.x).
test::FixtureOptions options() {
  test::FixtureOptions o;
  o.devices = {test::device(PLUG, "ha33plugKey00001", "3.3", "plug", "127.0.4.1", "ha_plug", "cz"),
               test::device(BULB, "ha34bulbKey00002", "3.4", "bulb", "127.0.4.2", "ha/bulb", "dj"),
               test::device(CURTAIN, "ha35curtainKey03", "3.5", "curtain", "127.0.4.3", "ha_curtain", "cl")};
  o.subscriptions = {"tuya2mqtt/#", "homeassistant/#"};
  return o;
}

// The gateway core with the HaPublisher, composed as gateway/app.cpp does, with a short HA birth delay.
void start_gateway(GatewayFixture& w) {
  w.start_core(w.gateway_config(), [](gw::Gateway::Deps& d) { d.ha_birth_delay_ms = TEST_BIRTH_DELAY_MS; });
}

// Replaces "{{ <var> }}" by a value: enough for the number/cover command templates.
std::string fill(std::string tpl, const std::string& var, const std::string& value) {
  const std::string hole = "{{ " + var + " }}";
  for (size_t at = tpl.find(hole); at != std::string::npos; at = tpl.find(hole))
    tpl.replace(at, hole.size(), value);
  return tpl;
}

// True once the simulator received a write of `dp` = `value` for `id` after write number `after`.
bool wrote(GatewayFixture& w, const std::string& id, const std::string& dp, const json& value,
           uint64_t after) {
  for (const auto& wr : w.simulator->writes()) {
    if (wr.seq > after && wr.device == id && wr.dps.contains(dp) && wr.dps[dp] == value) return true;
  }
  return false;
}
uint64_t write_mark(GatewayFixture& w) {
  const auto& ws = w.simulator->writes();
  return ws.empty() ? 0 : ws.back().seq;
}

std::string discovery(const std::string& id) {
  return "homeassistant/device/tuya_" + id + "/config";
}

}  // namespace

TEST_CASE("HA discovery: retained configs whose command topics reach the devices as the right DPs") {
  // One world for the four SUBCASEs: each sends its commands and leaves the devices online.
  auto& w = test::per_case<GatewayFixture>([] {
    auto f = std::make_unique<GatewayFixture>(options());
    start_gateway(*f);
    return f;
  });
  REQUIRE(w.wait([&] {
    return w.online("ha_plug") && w.online("ha/bulb") && w.online("ha_curtain") &&
           !w.last_json(discovery(PLUG)).is_null() && !w.last_json(discovery(BULB)).is_null() &&
           !w.last_json(discovery(CURTAIN)).is_null() &&
           !w.last_json("homeassistant/device/tuya2mqtt_bridge_tuya2mqtt/config").is_null();
  }));
  // Retained: a new subscription gets them from the broker with the retain flag (live deliveries to an
  // existing subscription never carry it).
  const size_t seen_mark = w.seen.size();
  w.observer->subscribe("homeassistant/device/+/config");
  CHECK(w.wait([&] {
    std::set<std::string> got;
    for (size_t i = seen_mark; i < w.seen.size(); ++i)
      if (w.seen[i].retained && !w.seen[i].payload.empty()) got.insert(w.seen[i].topic);
    return got.count(discovery(PLUG)) && got.count(discovery(BULB)) && got.count(discovery(CURTAIN));
  }));
  const json plug = w.last_json(discovery(PLUG))["components"];
  const json bulb = w.last_json(discovery(BULB))["components"];
  const json curtain = w.last_json(discovery(CURTAIN))["components"];

  SUBCASE("switch: payload_off / payload_on") {
    const json& sw = plug["switch_1"];
    uint64_t mark = write_mark(w);
    w.publish(sw["command_topic"], sw["payload_off"]);
    CHECK(w.wait([&] { return wrote(w, PLUG, "1", false, mark); }));
    mark = write_mark(w);
    w.publish(sw["command_topic"], sw["payload_on"]);
    CHECK(w.wait([&] { return wrote(w, PLUG, "1", true, mark); }));
    // The state HA reads back through the value template's key.
    CHECK(w.wait([&] {
      auto s = w.last_json("tuya2mqtt/ha_plug");
      return s.is_object() && s["state"] == "ON";
    }));
  }
  SUBCASE("number: command template") {
    const json& cd = plug["countdown_1"];
    const uint64_t mark = write_mark(w);
    w.publish(cd["command_topic"], fill(cd["command_template"], "value", "120"));
    CHECK(w.wait([&] { return wrote(w, PLUG, "9", 120, mark); }));
  }
  SUBCASE("light: HA's JSON-schema commands") {
    const json& l = bulb["light"];
    CHECK(l["command_topic"] == "tuya2mqtt/ha/bulb/set");
    uint64_t mark = write_mark(w);
    w.publish(l["command_topic"], R"({"state":"ON","brightness":255})");
    CHECK(w.wait([&] { return wrote(w, BULB, "20", true, mark) && wrote(w, BULB, "22", 1000, mark); }));
    mark = write_mark(w);
    w.publish(l["command_topic"], R"({"color_temp":6500})");
    CHECK(w.wait([&] { return wrote(w, BULB, "23", 1000, mark) && wrote(w, BULB, "21", "white", mark); }));
    mark = write_mark(w);
    w.publish(l["command_topic"], R"({"state":"OFF"})");
    CHECK(w.wait([&] { return wrote(w, BULB, "20", false, mark); }));
  }
  SUBCASE("cover: position template, stop") {
    const json& c = curtain["cover"];
    uint64_t mark = write_mark(w);
    w.publish(c["set_position_topic"], fill(c["set_position_template"], "position", "30"));
    CHECK(w.wait([&] { return wrote(w, CURTAIN, "2", 30, mark); }));
    mark = write_mark(w);
    w.publish(c["command_topic"], c["payload_stop"]);
    CHECK(w.wait([&] { return wrote(w, CURTAIN, "1", "stop", mark); }));
  }
}

TEST_CASE("HA birth republishes states; a removed device's discovery is cleared") {
  GatewayFixture w(options());
  start_gateway(w);
  REQUIRE(w.wait([&] {
    return w.online("ha_plug") && !w.last_json("tuya2mqtt/ha_plug").is_null() &&
           !w.last_json(discovery(CURTAIN)).is_null();
  }));
  size_t mark = w.seen.size();
  // Retained, so the birth reaches the gateway whether its subscription to the status topic is already
  // active or still on its way to the broker (a slow run, under valgrind, sees both).
  w.publish("homeassistant/status", "online", true);
  REQUIRE(w.wait([&] { return w.gateway().ha().stats().births == 1; }));
  // After the delay every device's state reaches the broker again.
  CHECK(w.wait([&] {
    std::set<std::string> states;
    for (size_t i = mark; i < w.seen.size(); ++i) states.insert(w.seen[i].topic);
    return states.count("tuya2mqtt/ha_curtain") && states.count("tuya2mqtt/ha_plug") &&
           states.count("tuya2mqtt/ha/bulb");
  }));

  w.publish("tuya2mqtt/bridge/request/device/remove", R"({"id":"ha_curtain","transaction":1})");
  REQUIRE(w.wait([&] {
    auto it = w.last.find(discovery(CURTAIN));
    return it != w.last.end() && it->second.empty();
  }));
  CHECK_FALSE(w.last_json(discovery(PLUG)).is_null());
}

}  // namespace t2m_ha_test

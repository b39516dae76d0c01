// The gateway end to end: every protocol variant and sub-device reaches MQTT, commands by code and by id
// reach the simulated device and come back as state, and faults (reboot, silence, garbage, wrong key,
// broker restart, malformed commands) are reported and recovered from.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/gateway_fixture.h"
#include "tests/support/per_case.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_gateway_test {

using namespace t2m;
using nlohmann::json;
using test::GatewayFixture;

namespace {

// Every protocol variant, and a 3.4 gateway with two Zigbee sub-devices; on their own loopback block so
// the tests never collide with the demo (127.0.1.x).
test::FixtureOptions options() {
  test::FixtureOptions o;
  o.devices = {
      test::device("bfit31plug0000000001", "it31plugKey00001", "3.1", "plug", "127.0.3.1", "plug31", "cz"),
      test::device("bfit33plug0000000002", "it33plug`Key^002", "3.3", "plug", "127.0.3.2", "plug33", "cz"),
      test::device("bfit22plug000000000003", "it22plugKey00003", "device22", "plug", "127.0.3.3", "plug22",
                   "cz"),
      test::device("bfit34bulb0000000004", "it34bulbKey{004}", "3.4", "bulb", "127.0.3.4", "bulb34", "dj"),
      test::device("bfit35curtain0000005", "it35curtainKey05", "3.5", "curtain", "127.0.3.5", "curtain35",
                   "cl"),
      test::device("bfit34gateway0000007", "it34gatewayKey07", "3.4", "gateway", "127.0.3.7", "gw34", "wg2"),
  };
  o.devices.back().subs = {{"a4c1380000itsw01", "switch", "bfit34gw07sub000sw01", "zb_switch", "kg"},
                           {"a4c1380000itth02", "sensor", "bfit34gw07sub000th02", "zb_sensor", "wsdcg"}};
  o.subscriptions = {"tuya2mqtt/#"};
  return o;
}

// The next set/result for `name` at or after index `after` of `seen`.
json set_result(GatewayFixture& w, const std::string& name, size_t after) {
  return w.next_json("tuya2mqtt/" + name + "/set/result", after);
}

const std::vector<std::string> ALL = {"plug31",    "plug33", "plug22",    "bulb34",
                                      "curtain35", "gw34",   "zb_switch", "zb_sensor"};

}  // namespace

TEST_CASE("every protocol variant and both sub-devices appear on MQTT with state and availability") {
  GatewayFixture w(options());
  w.start_gateway();
  REQUIRE(w.wait([&] {
    for (const auto& n : ALL)
      if (!w.online(n)) return false;
    for (const auto& n : {"plug31", "plug33", "plug22", "bulb34", "curtain35", "zb_switch", "zb_sensor"})
      if (w.state(n).is_null()) return false;
    return true;
  }));
  CHECK(w.last["tuya2mqtt/bridge/state"] == R"({"state":"online"})");
  // Scaled values from the plug template: cur_voltage has scale 1.
  auto plug = w.state("plug33");
  REQUIRE(plug.contains("cur_voltage"));
  CHECK(plug["cur_voltage"].is_number_float());
  CHECK(plug["dps"]["20"].is_number_integer());
  CHECK(plug["cur_voltage"].get<double>() * 10 == doctest::Approx(plug["dps"]["20"].get<double>()));
  CHECK(w.state("zb_sensor").contains("va_temperature"));
  auto devices = json::parse(w.last["tuya2mqtt/bridge/devices"]);
  CHECK(devices.size() == ALL.size());
}

TEST_CASE("commands by code and by DP id reach the device and the new state comes back") {
  GatewayFixture w(options());
  w.start_gateway();
  REQUIRE(w.wait([&] {
    return w.online("plug33") && w.online("plug31") && w.online("zb_switch") && !w.state("plug33").is_null();
  }));

  for (const std::string name : {"plug33", "plug31", "plug22"}) {
    CAPTURE(name);
    size_t mark = w.seen.size();
    w.publish("tuya2mqtt/" + name + "/set", R"({"switch_1": false})");
    auto r = set_result(w, name, mark);
    REQUIRE(r.is_object());
    CHECK(r["status"] == "ok");
    REQUIRE(w.wait([&] {
      auto s = w.state(name);
      return s.is_object() && s["switch_1"] == false;
    }));
    // by DP id, bare value
    w.publish("tuya2mqtt/" + name + "/set/1", "true");
    REQUIRE(w.wait([&] {
      auto s = w.state(name);
      return s.is_object() && s["switch_1"] == true;
    }));
  }
  std::string plug33_id = "bfit33plug0000000002";
  CHECK(w.simulator->state(plug33_id).value()["1"] == true);

  // A sub-device, through its gateway's 3.4 session, by cid.
  w.publish("tuya2mqtt/zb_switch/set", "ON");
  REQUIRE(w.wait([&] {
    auto s = w.state("zb_switch");
    return s.is_object() && s["state"] == "ON";
  }));
  CHECK(w.simulator->state("bfit34gateway0000007", std::string("a4c1380000itsw01")).value()["1"] == true);

  // Several DPs at once on a 3.5 device.
  w.publish("tuya2mqtt/curtain35/set", R"({"position": 40})");
  REQUIRE(w.wait([&] { return w.simulator->state("bfit35curtain0000005").value()["2"] == 40; }));
}

TEST_CASE("malformed and impossible commands get an error answer a person can act on") {
  GatewayFixture w(options());
  w.start_gateway();
  REQUIRE(w.wait([&] { return w.online("plug33") && !w.state("plug33").is_null(); }));
  struct Case {
    std::string topic, payload, code;
  };
  const std::vector<Case> cases = {
      {"tuya2mqtt/plug33/set", "{not json", "mqtt_payload_invalid_json"},
      {"tuya2mqtt/plug33/set", R"({"no_such_dp": 1})", "unknown_property"},
      {"tuya2mqtt/plug33/set", R"({"cur_power": 10})", "read_only"},
      {"tuya2mqtt/plug33/set", R"({"countdown_1": 999999999})", "dp_range"},
      {"tuya2mqtt/plug33/set", R"({"switch_1": "maybe"})", "dp_type"},
      {"tuya2mqtt/nobody/set", R"({"switch_1": true})", "unknown_device"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.payload);
    const std::string name = c.topic.substr(10, c.topic.size() - 14);
    size_t mark = w.seen.size();
    w.publish(c.topic, c.payload);
    auto r = set_result(w, name, mark);
    REQUIRE(r.is_object());
    CHECK(r["status"] == "error");
    CHECK(r["code"] == c.code);
    CHECK_FALSE(r["error"].get<std::string>().empty());
  }
  // The gateway is still fine afterwards.
  size_t mark = w.seen.size();
  w.publish("tuya2mqtt/plug33/set", R"({"switch_1": false})");
  CHECK(set_result(w, "plug33", mark)["status"] == "ok");
}

TEST_CASE("device reboot, silence and garbage: reported, isolated, recovered") {
  // One world for the three SUBCASEs: each leaves the devices online again.
  auto& w = test::per_case<GatewayFixture>([] {
    auto o = options();
    o.devices[1].options = {{"heartbeat_interval", 1}};  // plug33
    auto f = std::make_unique<GatewayFixture>(std::move(o));
    // Short session timings (the "session" section): a fault costs the test a third of the default 3 s
    // reply timeout and a fifth of the 1 s back-off; 1 s still leaves room for a run under valgrind.
    auto cfg = f->gateway_config();
    cfg["session"] = {{"response_timeout", "1s"}, {"reconnect_min", "200ms"}, {"reconnect_max", "2s"}};
    f->start_gateway(cfg);
    return f;
  });
  REQUIRE(w.wait([&] { return w.online("plug33") && w.online("plug31") && w.online("bulb34"); }));

  SUBCASE("reboot") {
    sim::Fault f;
    f.kind = sim::FaultKind::REBOOT;
    f.ms = 1500;
    REQUIRE(w.simulator->inject("bfit33plug0000000002", f).ok());
    REQUIRE(w.wait([&] { return w.offline("plug33"); }));
    REQUIRE(w.wait([&] { return w.online("plug33"); }, 15000));
  }
  SUBCASE("silence: the heartbeat goes unanswered") {
    sim::Fault f;
    f.kind = sim::FaultKind::SILENCE;
    f.ms = 4000;
    REQUIRE(w.simulator->inject("bfit33plug0000000002", f).ok());
    REQUIRE(w.wait([&] { return w.offline("plug33"); }, 10000));
    CHECK(w.online("plug31"));
    REQUIRE(w.wait([&] { return w.online("plug33"); }, 15000));
  }
  SUBCASE("garbage and oversize frames reset only that session") {
    sim::Fault f;
    f.kind = sim::FaultKind::OVERSIZE;
    REQUIRE(w.simulator->inject("bfit34bulb0000000004", f).ok());
    REQUIRE(w.wait([&] { return w.offline("bulb34"); }));
    CHECK(w.online("plug33"));
    REQUIRE(w.wait([&] { return w.online("bulb34"); }, 10000));
    f.kind = sim::FaultKind::GARBAGE;
    REQUIRE(w.simulator->inject("bfit34bulb0000000004", f).ok());
    REQUIRE(w.wait([&] { return w.online("bulb34"); }, 10000));
    auto health = w.app->gateway().requests().health();
    CHECK(health["bridge"]["errors"].contains("bad_frame"));
  }
}

TEST_CASE("a changed local key is reported as a key problem") {
  GatewayFixture w(options());
  w.start_gateway();
  REQUIRE(w.wait([&] { return w.online("bulb34"); }));
  sim::Fault f;
  f.kind = sim::FaultKind::CHANGE_KEY;
  f.key = "ZZZZZZZZZZZZZZZZ";
  REQUIRE(w.simulator->inject("bfit34bulb0000000004", f).ok());
  REQUIRE(w.wait([&] { return w.offline("bulb34"); }));
  bool reported = w.wait(
      [&] {
        for (const auto& m : w.seen)
          if (m.topic == "tuya2mqtt/bridge/event" && m.payload.find("device_error") != std::string::npos &&
              m.payload.find("bfit34bulb0000000004") != std::string::npos)
            return m.payload.find("wrong_key") != std::string::npos;
        return false;
      },
      10000);
  CHECK(reported);
  // The key never appears on MQTT.
  for (const auto& m : w.seen) {
    CHECK(m.payload.find("ZZZZZZZZZZZZZZZZ") == std::string::npos);
    CHECK(m.payload.find("it34bulbKey{004}") == std::string::npos);
  }
}

TEST_CASE("broker restart: the gateway reconnects, republishes retained state, and takes commands again") {
  GatewayFixture w(options());
  w.start_gateway();
  REQUIRE(w.wait([&] { return w.online("plug33") && !w.state("plug33").is_null(); }));
  w.broker.kill();
  // Both clients noticed before the broker is back.
  REQUIRE(w.wait([&] { return !w.gateway_connected() && !w.observer->connected(); }));
  REQUIRE(w.broker.start());
  w.last.clear();
  // Retained state and availability come back (the broker has no persistence: only a republish explains
  // them).
  REQUIRE(w.wait(
      [&] {
        return w.online("plug33") && !w.state("plug33").is_null() &&
               w.last["tuya2mqtt/bridge/state"] == R"({"state":"online"})";
      },
      15000));
  size_t mark = w.seen.size();
  w.publish("tuya2mqtt/plug33/set", R"({"switch_1": false})");
  auto r = set_result(w, "plug33", mark);
  REQUIRE(r.is_object());
  CHECK(r["status"] == "ok");
}

}  // namespace t2m_gateway_test

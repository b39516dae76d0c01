// The gateway end to end: every protocol variant and sub-device reaches MQTT, commands by code and by id
// reach the simulated device and come back as state, and faults (reboot, silence, garbage, wrong key,
// broker restart, malformed commands) are reported and recovered from.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/loop_executor.h"
#include "config/config.h"
#include "gateway/app.h"
#include "gateway/gateway.h"
#include "mqtt/paho_client.h"
#include "tests/sim/src/simulator.h"
#include "tests/support/mosquitto.h"

using namespace t2m;
using nlohmann::json;

namespace {

constexpr int WAIT_MS = 8000;

// Devices on their own loopback block so the tests never collide with the demo (127.0.1.x).
json sim_devices() {
  return json::parse(R"({"devices": [
    {"id": "bfit31plug0000000001", "key": "it31plugKey00001", "version": "3.1", "profile": "plug", "host": "127.0.3.1", "port": 0},
    {"id": "bfit33plug0000000002", "key": "it33plug`Key^002", "version": "3.3", "profile": "plug", "host": "127.0.3.2", "port": 0},
    {"id": "bfit22plug000000000003", "key": "it22plugKey00003", "version": "device22", "profile": "plug", "host": "127.0.3.3", "port": 0},
    {"id": "bfit34bulb0000000004", "key": "it34bulbKey{004}", "version": "3.4", "profile": "bulb", "host": "127.0.3.4", "port": 0},
    {"id": "bfit35curtain0000005", "key": "it35curtainKey05", "version": "3.5", "profile": "curtain", "host": "127.0.3.5", "port": 0},
    {"id": "bfit34gateway0000007", "key": "it34gatewayKey07", "version": "3.4", "profile": "gateway", "host": "127.0.3.7", "port": 0,
     "sub_devices": [{"cid": "a4c1380000itsw01", "profile": "switch"}, {"cid": "a4c1380000itth02", "profile": "sensor"}]}
  ]})");
}

struct World {
  test::TempDir dir{"t2m-it"};
  test::MosquittoBroker broker;
  uv_loop_t loop{};
  std::unique_ptr<LoopExecutor> executor;
  std::unique_ptr<sim::Simulator> simulator;
  std::unique_ptr<mqtt::PahoClient> observer;
  std::unique_ptr<gw::App> app;
  std::map<std::string, std::string> last;  // topic -> last payload
  std::vector<mqtt::Message> seen;
  bool observer_up = false;

  World() {
    log_set_level(LogLevel::WARN);
    REQUIRE(broker.start());
    uv_loop_init(&loop);
    executor = std::make_unique<LoopExecutor>(&loop);
    auto sc = sim::parse_config(sim_devices());
    REQUIRE(sc.ok());
    simulator = std::make_unique<sim::Simulator>(&loop, sc.value());
    REQUIRE(simulator->start().ok());

    observer = std::make_unique<mqtt::PahoClient>(*executor);
    mqtt::ConnectOptions co;
    co.server_uri = broker.uri();
    co.client_id = "t2m-it-observer";
    co.reconnect_min_ms = 100;
    co.reconnect_max_ms = 500;
    mqtt::ClientHandlers h;
    h.on_connected = [this](bool) {
      observer_up = true;
      (void)observer->subscribe("tuya2mqtt/#", mqtt::Qos::AT_LEAST_ONCE);
    };
    h.on_message = [this](mqtt::Message m) {
      last[m.topic] = m.payload;
      seen.push_back(std::move(m));
    };
    REQUIRE(observer->connect(co, h).ok());
    REQUIRE(wait([&] { return observer_up; }));
  }

  json gateway_config(const std::map<std::string, json>& extra = {}) {
    json devices = json::array();
    const std::map<std::string, std::string> names = {
        {"bfit31plug0000000001", "plug31"},    {"bfit33plug0000000002", "plug33"},
        {"bfit22plug000000000003", "plug22"},  {"bfit34bulb0000000004", "bulb34"},
        {"bfit35curtain0000005", "curtain35"}, {"bfit34gateway0000007", "gw34"}};
    for (const auto& id : simulator->device_ids()) {
      const auto* spec = simulator->spec(id);
      std::string version = spec->device22 ? "3.3" : std::string(proto::to_string(spec->version));
      json d{{"id", id},
             {"local_key", spec->key},
             {"address", spec->host},
             {"port", simulator->port_of(id)},
             {"version", version},
             {"name", names.at(id)},
             {"category", spec->profile == sim::Profile::BULB      ? "dj"
                          : spec->profile == sim::Profile::CURTAIN ? "cl"
                          : spec->profile == sim::Profile::GATEWAY ? "wg2"
                                                                   : "cz"}};
      if (spec->device22) d["device22"] = true;
      if (auto e = extra.find(id); e != extra.end()) d.update(e->second);
      devices.push_back(d);
    }
    devices.push_back(json{{"id", "bfit34gw07sub000sw01"},
                           {"cid", "a4c1380000itsw01"},
                           {"parent", "bfit34gateway0000007"},
                           {"name", "zb_switch"},
                           {"category", "kg"}});
    devices.push_back(json{{"id", "bfit34gw07sub000th02"},
                           {"cid", "a4c1380000itth02"},
                           {"parent", "bfit34gateway0000007"},
                           {"name", "zb_sensor"},
                           {"category", "wsdcg"}});
    return json{{"mqtt", {{"server", broker.uri()}, {"client_id", "t2m-it-gateway"}}},
                {"discovery", {{"enabled", false}}},
                {"log_level", "warning"},
                {"devices", devices}};
  }

  void start_gateway(const json& cfg) {
    auto parsed = config::parse_config(cfg);
    if (!parsed.ok()) {
      for (const auto& i : parsed.error()) MESSAGE(i.to_string());
    }
    REQUIRE(parsed.ok());
    config::LoadedConfig lc;
    lc.config = parsed.value();
    lc.path = dir.file("tuya2mqtt.json");
    app = std::make_unique<gw::App>(&loop, std::move(lc));
    REQUIRE(app->start().ok());
  }

  bool wait(const std::function<bool()>& pred, int ms = WAIT_MS) {
    return test::run_loop_until(&loop, pred, ms);
  }

  json state(const std::string& name) {
    auto it = last.find("tuya2mqtt/" + name);
    if (it == last.end() || it->second.empty()) return nullptr;
    return json::parse(it->second, nullptr, false);
  }
  bool online(const std::string& name) {
    auto it = last.find("tuya2mqtt/" + name + "/availability");
    return it != last.end() && it->second == R"({"state":"online"})";
  }
  bool offline(const std::string& name) {
    auto it = last.find("tuya2mqtt/" + name + "/availability");
    return it != last.end() && it->second == R"({"state":"offline"})";
  }
  void publish(const std::string& topic, const std::string& payload) {
    REQUIRE(observer->publish(mqtt::Message{topic, payload, mqtt::Qos::AT_LEAST_ONCE, false}).ok());
  }
  // The next set/result for `name` after this call.
  json set_result(const std::string& name, size_t after) {
    json out;
    wait([&] {
      for (size_t i = after; i < seen.size(); ++i)
        if (seen[i].topic == "tuya2mqtt/" + name + "/set/result") {
          out = json::parse(seen[i].payload, nullptr, false);
          return true;
        }
      return false;
    });
    return out;
  }

  ~World() {
    bool stopped = false;
    if (app) app->stop([&] { stopped = true; });
    wait([&] { return stopped || !app; }, 5000);
    app.reset();
    bool obs_done = false;
    observer->disconnect([&] { obs_done = true; });
    wait([&] { return obs_done; }, 3000);
    observer.reset();
    simulator->stop();
    simulator.reset();
    executor->close();
    executor.reset();
    test::run_loop_for(&loop, 50);
    CHECK(uv_close_all_and_drain(&loop) == 0);
  }
};

const std::vector<std::string> ALL = {"plug31",    "plug33", "plug22",    "bulb34",
                                      "curtain35", "gw34",   "zb_switch", "zb_sensor"};

}  // namespace

TEST_CASE("every protocol variant and both sub-devices appear on MQTT with state and availability") {
  World w;
  w.start_gateway(w.gateway_config());
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
  World w;
  w.start_gateway(w.gateway_config());
  REQUIRE(w.wait([&] {
    return w.online("plug33") && w.online("plug31") && w.online("zb_switch") && !w.state("plug33").is_null();
  }));

  for (const std::string name : {"plug33", "plug31", "plug22"}) {
    CAPTURE(name);
    size_t mark = w.seen.size();
    w.publish("tuya2mqtt/" + name + "/set", R"({"switch_1": false})");
    auto r = w.set_result(name, mark);
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
  World w;
  w.start_gateway(w.gateway_config());
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
    auto r = w.set_result(name, mark);
    REQUIRE(r.is_object());
    CHECK(r["status"] == "error");
    CHECK(r["code"] == c.code);
    CHECK_FALSE(r["error"].get<std::string>().empty());
  }
  // The gateway is still fine afterwards.
  size_t mark = w.seen.size();
  w.publish("tuya2mqtt/plug33/set", R"({"switch_1": false})");
  CHECK(w.set_result("plug33", mark)["status"] == "ok");
}

TEST_CASE("device reboot, silence and garbage: reported, isolated, recovered") {
  World w;
  auto cfg = w.gateway_config({{"bfit33plug0000000002", json{{"heartbeat_interval", 1}}}});
  w.start_gateway(cfg);
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
    f.ms = 6000;
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
  World w;
  w.start_gateway(w.gateway_config());
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
  World w;
  w.start_gateway(w.gateway_config());
  REQUIRE(w.wait([&] { return w.online("plug33") && !w.state("plug33").is_null(); }));
  w.broker.kill();
  test::run_loop_for(&w.loop, 300);
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
  auto r = w.set_result("plug33", mark);
  REQUIRE(r.is_object());
  CHECK(r["status"] == "ok");
}

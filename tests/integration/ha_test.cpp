// Home Assistant discovery end to end: a real mosquitto, the device simulator, and the gateway core with the
// HaPublisher wired the way the composition root wires it. Discovery configs land retained on the broker;
// the commands HA would send on each entity's command topic reach the simulated devices as the right DP
// and value; HA's birth message makes the states come again; a removed device's config is cleared.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/loop_executor.h"
#include "common/timers.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "gateway/ha_publisher.h"
#include "gateway/transport.h"
#include "mqtt/paho_client.h"
#include "mqtt/payload.h"
#include "mqtt/publisher.h"
#include "tests/sim/src/simulator.h"
#include "tests/support/mosquitto.h"

using namespace t2m;
using nlohmann::json;

namespace {

constexpr int WAIT_MS = 8000;
constexpr uint64_t TEST_BIRTH_DELAY_MS = 200;
const std::string PLUG = "bfha33plug0000000001";
const std::string BULB = "bfha34bulb0000000002";
const std::string CURTAIN = "bfha35curtain0000003";

// Their own loopback block: no collision with the demo (127.0.1.x) or gateway_test (127.0.3.x).
json sim_devices() {
  return json::parse(R"({"devices": [
    {"id": "bfha33plug0000000001", "key": "ha33plugKey00001", "version": "3.3", "profile": "plug", "host": "127.0.4.1", "port": 0},
    {"id": "bfha34bulb0000000002", "key": "ha34bulbKey00002", "version": "3.4", "profile": "bulb", "host": "127.0.4.2", "port": 0},
    {"id": "bfha35curtain0000003", "key": "ha35curtainKey03", "version": "3.5", "profile": "curtain", "host": "127.0.4.3", "port": 0}
  ]})");
}

// Replaces "{{ <var> }}" by a value: enough for the number/cover command templates.
std::string fill(std::string tpl, const std::string& var, const std::string& value) {
  const std::string hole = "{{ " + var + " }}";
  for (size_t at = tpl.find(hole); at != std::string::npos; at = tpl.find(hole))
    tpl.replace(at, hole.size(), value);
  return tpl;
}

struct World {
  test::TempDir dir{"t2m-ha"};
  test::MosquittoBroker broker;
  uv_loop_t loop{};
  std::unique_ptr<LoopExecutor> executor;
  std::unique_ptr<sim::Simulator> simulator;
  std::unique_ptr<mqtt::PahoClient> observer;
  std::map<std::string, std::string> last;
  std::vector<mqtt::Message> seen;
  bool observer_up = false;

  // The gateway core, composed as gateway/app.cpp does (a short HA birth delay).
  std::unique_ptr<UvTimers> timers;
  std::unique_ptr<gw::UvTcpTransportFactory> transports;
  std::unique_ptr<mqtt::PahoClient> client;
  std::unique_ptr<mqtt::Publisher> publisher;
  std::unique_ptr<gw::Gateway> gateway;

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
    co.client_id = "t2m-ha-observer";
    mqtt::ClientHandlers h;
    h.on_connected = [this](bool) {
      observer_up = true;
      (void)observer->subscribe("tuya2mqtt/#", mqtt::Qos::AT_LEAST_ONCE);
      (void)observer->subscribe("homeassistant/#", mqtt::Qos::AT_LEAST_ONCE);
    };
    h.on_message = [this](mqtt::Message m) {
      last[m.topic] = m.payload;
      seen.push_back(std::move(m));
    };
    REQUIRE(observer->connect(co, h).ok());
    REQUIRE(wait([&] { return observer_up; }));
  }

  json config_doc() {
    const std::map<std::string, std::pair<std::string, std::string>> names = {
        {PLUG, {"ha_plug", "cz"}}, {BULB, {"ha/bulb", "dj"}}, {CURTAIN, {"ha_curtain", "cl"}}};
    json devices = json::array();
    for (const auto& id : simulator->device_ids()) {
      const auto* spec = simulator->spec(id);
      devices.push_back(json{{"id", id},
                             {"local_key", spec->key},
                             {"address", spec->host},
                             {"port", simulator->port_of(id)},
                             {"version", std::string(proto::to_string(spec->version))},
                             {"name", names.at(id).first},
                             {"category", names.at(id).second}});
    }
    return json{{"mqtt", {{"server", broker.uri()}, {"client_id", "t2m-ha-gateway"}}},
                {"discovery", {{"enabled", false}}},
                {"log_level", "warning"},
                {"devices", devices}};
  }

  void start_gateway() {
    auto parsed = config::parse_config(config_doc());
    REQUIRE(parsed.ok());
    const config::Config cfg = parsed.value();
    timers = std::make_unique<UvTimers>(&loop);
    transports = std::make_unique<gw::UvTcpTransportFactory>(&loop);
    client = std::make_unique<mqtt::PahoClient>(*executor);
    publisher = std::make_unique<mqtt::Publisher>(*client);
    gw::Gateway::Deps deps{*timers, *transports, gw::system_random(), *client, *publisher};
    deps.ha.version = std::string(gw::GATEWAY_VERSION);
    deps.ha_birth_delay_ms = TEST_BIRTH_DELAY_MS;
    gateway = std::make_unique<gw::Gateway>(deps, cfg);

    mqtt::ConnectOptions co;
    co.server_uri = broker.uri();
    co.client_id = "t2m-ha-gateway";
    co.will = mqtt::Message{gateway->topics().bridge_state(), R"({"state":"offline"})",
                            mqtt::Qos::AT_LEAST_ONCE, true};
    mqtt::ClientHandlers h;
    h.on_connected = [this](bool) { gateway->on_mqtt_connected(); };
    h.on_message = [this](mqtt::Message m) { gateway->on_mqtt_message(m); };
    REQUIRE(client->connect(co, std::move(h)).ok());
    gateway->start();
  }

  bool wait(const std::function<bool()>& pred, int ms = WAIT_MS) {
    return test::run_loop_until(&loop, pred, ms);
  }

  json retained_json(const std::string& topic) {
    auto it = last.find(topic);
    if (it == last.end() || it->second.empty()) return nullptr;
    return json::parse(it->second, nullptr, false);
  }
  void publish(const std::string& topic, const std::string& payload) {
    REQUIRE(observer->publish(mqtt::Message{topic, payload, mqtt::Qos::AT_LEAST_ONCE, false}).ok());
  }
  // True once the simulator received a write of `dp` = `value` for `id` after write number `after`.
  bool wrote(const std::string& id, const std::string& dp, const json& value, uint64_t after) {
    for (const auto& w : simulator->writes()) {
      if (w.seq > after && w.device == id && w.dps.contains(dp) && w.dps[dp] == value) return true;
    }
    return false;
  }
  uint64_t write_mark() const {
    const auto& ws = simulator->writes();
    return ws.empty() ? 0 : ws.back().seq;
  }
  bool online(const std::string& name) {
    auto it = last.find("tuya2mqtt/" + name + "/availability");
    return it != last.end() && it->second == R"({"state":"online"})";
  }

  ~World() {
    if (gateway) gateway->stop();
    if (client) {
      bool done = false;
      client->disconnect([&] { done = true; });
      wait([&] { return done; }, 5000);
    }
    gateway.reset();
    publisher.reset();
    client.reset();
    transports.reset();
    timers.reset();
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

std::string discovery(const std::string& id) {
  return "homeassistant/device/tuya_" + id + "/config";
}

}  // namespace

TEST_CASE("HA discovery: retained configs whose command topics reach the devices as the right DPs") {
  World w;
  w.start_gateway();
  REQUIRE(w.wait([&] {
    return w.online("ha_plug") && w.online("ha/bulb") && w.online("ha_curtain") &&
           !w.retained_json(discovery(PLUG)).is_null() && !w.retained_json(discovery(BULB)).is_null() &&
           !w.retained_json(discovery(CURTAIN)).is_null() &&
           !w.retained_json("homeassistant/device/tuya2mqtt_bridge_tuya2mqtt/config").is_null();
  }));
  // Retained: a new subscription gets them from the broker with the retain flag (live deliveries to an
  // existing subscription never carry it).
  const size_t seen_mark = w.seen.size();
  REQUIRE(w.observer->subscribe("homeassistant/device/+/config", mqtt::Qos::AT_LEAST_ONCE).ok());
  CHECK(w.wait([&] {
    std::set<std::string> got;
    for (size_t i = seen_mark; i < w.seen.size(); ++i)
      if (w.seen[i].retained && !w.seen[i].payload.empty()) got.insert(w.seen[i].topic);
    return got.count(discovery(PLUG)) && got.count(discovery(BULB)) && got.count(discovery(CURTAIN));
  }));
  const json plug = w.retained_json(discovery(PLUG))["components"];
  const json bulb = w.retained_json(discovery(BULB))["components"];
  const json curtain = w.retained_json(discovery(CURTAIN))["components"];

  SUBCASE("switch: payload_off / payload_on") {
    const json& sw = plug["switch_1"];
    uint64_t mark = w.write_mark();
    w.publish(sw["command_topic"], sw["payload_off"]);
    CHECK(w.wait([&] { return w.wrote(PLUG, "1", false, mark); }));
    mark = w.write_mark();
    w.publish(sw["command_topic"], sw["payload_on"]);
    CHECK(w.wait([&] { return w.wrote(PLUG, "1", true, mark); }));
    // The state HA reads back through the value template's key.
    CHECK(w.wait([&] {
      auto s = w.retained_json("tuya2mqtt/ha_plug");
      return s.is_object() && s["state"] == "ON";
    }));
  }
  SUBCASE("number: command template") {
    const json& cd = plug["countdown_1"];
    const uint64_t mark = w.write_mark();
    w.publish(cd["command_topic"], fill(cd["command_template"], "value", "120"));
    CHECK(w.wait([&] { return w.wrote(PLUG, "9", 120, mark); }));
  }
  SUBCASE("light: HA's JSON-schema commands") {
    const json& l = bulb["light"];
    CHECK(l["command_topic"] == "tuya2mqtt/ha/bulb/set");
    uint64_t mark = w.write_mark();
    w.publish(l["command_topic"], R"({"state":"ON","brightness":255})");
    CHECK(w.wait([&] { return w.wrote(BULB, "20", true, mark) && w.wrote(BULB, "22", 1000, mark); }));
    mark = w.write_mark();
    w.publish(l["command_topic"], R"({"color_temp":6500})");
    CHECK(w.wait([&] { return w.wrote(BULB, "23", 1000, mark) && w.wrote(BULB, "21", "white", mark); }));
    mark = w.write_mark();
    w.publish(l["command_topic"], R"({"state":"OFF"})");
    CHECK(w.wait([&] { return w.wrote(BULB, "20", false, mark); }));
  }
  SUBCASE("cover: position template, stop") {
    const json& c = curtain["cover"];
    uint64_t mark = w.write_mark();
    w.publish(c["set_position_topic"], fill(c["set_position_template"], "position", "30"));
    CHECK(w.wait([&] { return w.wrote(CURTAIN, "2", 30, mark); }));
    mark = w.write_mark();
    w.publish(c["command_topic"], c["payload_stop"]);
    CHECK(w.wait([&] { return w.wrote(CURTAIN, "1", "stop", mark); }));
  }
}

TEST_CASE("HA birth republishes states; a removed device's discovery is cleared") {
  World w;
  w.start_gateway();
  REQUIRE(w.wait([&] {
    return w.online("ha_plug") && !w.retained_json("tuya2mqtt/ha_plug").is_null() &&
           !w.retained_json(discovery(CURTAIN)).is_null();
  }));
  size_t mark = w.seen.size();
  w.publish("homeassistant/status", "online");
  REQUIRE(w.wait([&] { return w.gateway->ha().stats().births == 1; }));
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
  CHECK_FALSE(w.retained_json(discovery(PLUG)).is_null());
}

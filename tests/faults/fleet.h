// Shared fixture of the fault, soak and security tests: a real mosquitto, the device simulator and the
// gateway App on one uv loop, observed by a real MQTT client subscribed to '#'. Devices are plugs on their
// own loopback block (127.0.5.x by default) so they never collide with other suites or the demo.
#pragma once

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/loop_executor.h"
#include "common/uv_handle.h"
#include "config/config.h"
#include "gateway/app.h"
#include "gateway/gateway.h"
#include "mqtt/paho_client.h"
#include "tests/sim/src/simulator.h"
#include "tests/support/mosquitto.h"

namespace t2m::test {

inline constexpr int FLEET_WAIT_MS = 10000;

struct FleetOptions {
  size_t plugs = 6;
  std::string host_prefix = "127.0.5.";  // device i listens on <prefix><i+1>
  test::BrokerOptions broker;
  std::string username, password;  // MQTT credentials for the gateway and the observer
  LogLevel level = LogLevel::WARN;
  int heartbeat_s = 2;
  std::vector<std::string> versions;  // cycled per device; empty = 3.3, 3.4, 3.5, 3.1. "device22" allowed
  size_t configured = SIZE_MAX;       // only the first N devices go into the gateway's configuration
};

// Versions cycle so every session type carries load.
inline std::string fleet_version(size_t i, const std::vector<std::string>& versions = {}) {
  static const char* const VERSIONS[] = {"3.3", "3.4", "3.5", "3.1"};
  return versions.empty() ? VERSIONS[i % 4] : versions[i % versions.size()];
}
inline std::string fleet_id(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bffleet%013zu", i);
  return buf;
}
inline std::string fleet_key(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "fleetKey%08zu", i);  // 16 characters
  return buf;
}
inline std::string fleet_name(size_t i) {
  return "plug" + std::to_string(i);
}

struct Fleet {
  FleetOptions opt;
  test::TempDir dir{"t2m-faults"};
  test::MosquittoBroker broker;
  uv_loop_t loop{};
  std::unique_ptr<LoopExecutor> executor;
  std::unique_ptr<sim::Simulator> simulator;
  std::unique_ptr<mqtt::PahoClient> observer;
  std::unique_ptr<gw::App> app;
  std::map<std::string, std::string> last;  // topic -> last payload
  std::vector<mqtt::Message> seen;
  std::function<void(const mqtt::Message&)> on_message;  // optional extra hook
  bool observer_up = false;
  bool keep_seen = true;

  explicit Fleet(FleetOptions o = {}) : opt(std::move(o)), broker(opt.broker) {
    log_set_level(opt.level);
    REQUIRE(broker.start());
    uv_loop_init(&loop);
    executor = std::make_unique<LoopExecutor>(&loop);
    nlohmann::json devs = nlohmann::json::array();
    for (size_t i = 0; i < opt.plugs; ++i) {
      devs.push_back({{"id", fleet_id(i)},
                      {"key", fleet_key(i)},
                      {"version", fleet_version(i, opt.versions)},
                      {"profile", "plug"},
                      {"host", opt.host_prefix + std::to_string(i + 1)},
                      {"port", 0}});
    }
    auto sc = sim::parse_config(nlohmann::json{{"devices", devs}});
    REQUIRE(sc.ok());
    simulator = std::make_unique<sim::Simulator>(&loop, sc.value());
    REQUIRE(simulator->start().ok());
    connect_observer();
  }

  void connect_observer() {
    observer = std::make_unique<mqtt::PahoClient>(*executor);
    mqtt::ConnectOptions co;
    co.server_uri = broker.uri();
    co.client_id = "t2m-faults-observer";
    co.username = opt.username;
    co.password = opt.password;
    co.reconnect_min_ms = 100;
    co.reconnect_max_ms = 500;
    mqtt::ClientHandlers h;
    h.on_connected = [this](bool) {
      observer_up = true;
      (void)observer->subscribe("#", mqtt::Qos::AT_LEAST_ONCE);
    };
    h.on_message = [this](mqtt::Message m) {
      if (on_message) on_message(m);
      last[m.topic] = m.payload;
      if (keep_seen) seen.push_back(std::move(m));
    };
    REQUIRE(observer->connect(co, h).ok());
    REQUIRE(wait([&] { return observer_up; }));
  }

  size_t configured() const { return std::min(opt.plugs, opt.configured); }
  nlohmann::json device_entry(size_t i) const {
    const std::string v = fleet_version(i, opt.versions);
    nlohmann::json e{{"id", fleet_id(i)},
                     {"local_key", fleet_key(i)},
                     {"address", opt.host_prefix + std::to_string(i + 1)},
                     {"port", simulator->port_of(fleet_id(i))},
                     {"version", v == "device22" ? "3.3" : v},
                     {"name", fleet_name(i)},
                     {"category", "cz"},
                     {"heartbeat_interval", opt.heartbeat_s}};
    if (v == "device22") e["device22"] = true;
    return e;
  }

  nlohmann::json gateway_config() const {
    nlohmann::json devices = nlohmann::json::array();
    for (size_t i = 0; i < configured(); ++i) devices.push_back(device_entry(i));
    nlohmann::json mqtt{{"server", broker.uri()}, {"client_id", "t2m-faults-gateway"}};
    if (!opt.username.empty()) {
      mqtt["username"] = opt.username;
      mqtt["password"] = opt.password;
    }
    return {{"mqtt", mqtt},
            {"discovery", {{"enabled", false}}},
            {"log_level", std::string(to_string(opt.level))},
            {"devices", devices}};
  }

  void start_gateway(const nlohmann::json& cfg) {
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
  void start_gateway() { start_gateway(gateway_config()); }

  bool wait(const std::function<bool()>& pred, int ms = FLEET_WAIT_MS) {
    return test::run_loop_until(&loop, pred, ms);
  }

  nlohmann::json state(const std::string& name) {
    auto it = last.find("tuya2mqtt/" + name);
    if (it == last.end() || it->second.empty()) return nullptr;
    return nlohmann::json::parse(it->second, nullptr, false);
  }
  bool online(const std::string& name) {
    auto it = last.find("tuya2mqtt/" + name + "/availability");
    return it != last.end() && it->second == R"({"state":"online"})";
  }
  bool offline(const std::string& name) {
    auto it = last.find("tuya2mqtt/" + name + "/availability");
    return it != last.end() && it->second == R"({"state":"offline"})";
  }
  bool all_online() {
    for (size_t i = 0; i < configured(); ++i)
      if (!online(fleet_name(i)) || state(fleet_name(i)).is_null()) return false;
    return true;
  }
  void publish(const std::string& topic, const std::string& payload) {
    REQUIRE(observer->publish(mqtt::Message{topic, payload, mqtt::Qos::AT_LEAST_ONCE, false}).ok());
  }
  // The first message on `topic` at or after index `after` of `seen`, waited for.
  std::optional<mqtt::Message> next_on(const std::string& topic, size_t after, int ms = FLEET_WAIT_MS) {
    std::optional<mqtt::Message> out;
    wait(
        [&] {
          for (size_t i = after; i < seen.size(); ++i)
            if (seen[i].topic == topic) {
              out = seen[i];
              return true;
            }
          return false;
        },
        ms);
    return out;
  }
  nlohmann::json next_json(const std::string& topic, size_t after, int ms = FLEET_WAIT_MS) {
    auto m = next_on(topic, after, ms);
    if (!m) return nullptr;
    return nlohmann::json::parse(m->payload, nullptr, false);
  }

  void stop_gateway() {
    if (!app) return;
    bool stopped = false;
    app->stop([&] { stopped = true; });
    wait([&] { return stopped; }, 5000);
    app.reset();
  }

  ~Fleet() {
    stop_gateway();
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

// Milliseconds on a monotonic clock (uv_hrtime).
inline double now_ms() {
  return static_cast<double>(uv_hrtime()) / 1e6;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t idx = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[idx];
}

}  // namespace t2m::test

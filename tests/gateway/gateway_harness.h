// The gateway core (gw::Gateway: registry, state publisher, command router, bridge requests, HA discovery)
// over fakes: a FakeMqttClient broker, scripted transports for the devices, FakeTimers, and fake store,
// cloud and scanner that record what they were asked. Shared by the gateway/ unit tests.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "gateway/gateway.h"
#include "tests/fakes/fake_mqtt_client.h"
#include "tests/fakes/fake_timers.h"
#include "tests/gateway/fake_device.h"
#include "tests/gateway/fake_transport.h"

namespace t2m::gw::testing {

inline const std::string PLUG = "bfplug00000000000001";
inline const std::string PLUG_KEY = "plugKey000000001";
inline const std::string GW = "bfgw0000000000000002";
inline const std::string GW_KEY = "gwKey00000000002";

inline config::Config make_config() {
  nlohmann::json doc = nlohmann::json::parse(R"({
    "mqtt": {"base_topic": "t2m"},
    "devices": [
      {"id": "bfplug00000000000001", "local_key": "plugKey000000001", "address": "127.0.9.1", "version": "3.3",
       "name": "plug", "category": "cz"},
      {"id": "bfgw0000000000000002", "local_key": "gwKey00000000002", "address": "127.0.9.2", "version": "3.3",
       "name": "gateway", "category": "wg2"},
      {"id": "bfsub000000000000003", "cid": "cid03", "parent": "bfgw0000000000000002", "name": "sub", "category": "kg"},
      {"id": "bfauto00000000000004", "local_key": "autoKey000000004", "address": "auto", "version": "3.3",
       "name": "roamer", "category": "cz"}
    ]})");
  auto c = config::parse_config(doc);
  REQUIRE(c.ok());
  return c.value();
}

struct FakeStore final : DeviceStore {
  std::vector<config::Config> saved;
  std::vector<nlohmann::json> learned;
  Status save_config(const config::Config& c) override {
    saved.push_back(c);
    return {};
  }
  void save_learned(const nlohmann::json& j) override { learned.push_back(j); }
};

struct FakeCloud final : CloudPort, KeySource {
  bool accept_commands = true;
  std::vector<std::pair<std::string, nlohmann::json>> commands;
  std::vector<Done> pending;
  std::vector<std::string> firmware_paths;
  std::vector<std::string> key_requests;
  int health_asked = 0;
  bool send_command(const std::string& id, const nlohmann::json& dps, Done done) override {
    if (!accept_commands) return false;
    commands.emplace_back(id, dps);
    pending.push_back(std::move(done));
    return true;
  }
  void firmware_request(const std::string& path, const nlohmann::json&, Respond respond) override {
    firmware_paths.push_back(path);
    respond(nlohmann::json{{"path", path}});
  }
  nlohmann::json health() const override {
    ++const_cast<FakeCloud*>(this)->health_asked;
    return {{"push", {{"transport", "openhub"}, {"state", "connected"}}}, {"push_events", 3}};
  }
  void request_key(const std::string& id) override { key_requests.push_back(id); }
};

struct FakeScanner final : AnnouncementRequester {
  int scans = 0;
  Status request_announcements() override {
    ++scans;
    return {};
  }
};

struct HarnessOptions {
  bool cloud = false;
  config::Config config = make_config();
};

struct Harness {
  FakeTimers timers;
  FakeTransportFactory factory;
  mqtt::FakeMqttClient client;
  mqtt::Publisher publisher{client};
  FakeStore store;
  FakeCloud cloud;
  FakeScanner scanner;
  std::unique_ptr<Gateway> gateway;

  explicit Harness(HarnessOptions o = {}) {
    auto rnd = [](uint8_t* out, size_t n) {
      for (size_t i = 0; i < n; ++i) out[i] = 7;
    };
    Gateway::Deps deps{timers, factory, rnd, client, publisher};
    deps.store = &store;
    deps.scanner = &scanner;
    if (o.cloud) {
      deps.cloud = &cloud;
      deps.keys = &cloud;
    }
    deps.ha.version = "0.1.0";
    gateway = std::make_unique<Gateway>(deps, std::move(o.config));
    mqtt::ClientHandlers h;
    h.on_connected = [this](bool) { gateway->on_mqtt_connected(); };
    h.on_message = [this](mqtt::Message m) { gateway->on_mqtt_message(m); };
    REQUIRE(client.connect(mqtt::ConnectOptions{}, h).ok());
    client.simulate_connect();
    gateway->start();
  }

  DeviceRegistry& registry() { return gateway->registry(); }
  StatePublisher& state() { return gateway->state(); }
  FakeTransport* transport_to(const std::string& host) { return factory.live_to(host); }

  // Connects the device at `host` and answers its first query.
  FakeDevice online(const std::string& host, const std::string& id, const std::string& key,
                    const nlohmann::json& dps) {
    FakeDevice d(proto::Version::V3_3, false, id, key);
    FakeTransport* t = transport_to(host);
    REQUIRE(t != nullptr);
    t->accept();
    d.read(*t);
    d.send(*t, proto::Command::DP_QUERY, d.report(dps));
    return d;
  }

  nlohmann::json last_json(const std::string& topic) {
    auto m = client.last_published(topic);
    INFO("nothing on ", topic);
    REQUIRE(m.has_value());
    return nlohmann::json::parse(m->payload);
  }

  size_t events_of(const std::string& type) {
    size_t n = 0;
    for (const auto& m : client.published_to("t2m/bridge/event"))
      if (nlohmann::json::parse(m.payload)["type"] == type) ++n;
    return n;
  }
};

}  // namespace t2m::gw::testing

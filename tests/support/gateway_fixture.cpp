#include "tests/support/gateway_fixture.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>

#include "cloud/pulsar_lws.h"
#include "common/loop_executor.h"
#include "common/uv_handle.h"
#include "config/config.h"
#include "gateway/transport.h"
#include "gateway/version.h"
#include "mqtt/paho_client.h"
#include "mqtt/publisher.h"
#include "tests/support/per_case.h"

namespace t2m::test {
namespace {

using nlohmann::json;

constexpr int STOP_WAIT_MS = 5000;
constexpr int CLOSE_WAIT_MS = 3000;
constexpr int SETTLE_MS = 1000;
const std::string ONLINE = R"({"state":"online"})";
const std::string OFFLINE = R"({"state":"offline"})";
const std::string BRIDGE_STATE = "tuya2mqtt/bridge/state";

std::optional<TestPki> pki_if(bool tls, const TempDir& dir) {
  if (!tls) return std::nullopt;
  std::string err;
  auto p = make_test_pki(dir.path(), &err);
  REQUIRE_MESSAGE(p.has_value(), err);
  return p;
}

BrokerOptions broker_options(BrokerOptions b, const std::optional<TestPki>& pki) {
  if (pki) {
    b.tls = pki;
    b.require_client_cert = true;
  }
  return b;
}

std::string issues_text(const config::ConfigIssues& issues) {
  std::string all;
  for (const auto& i : issues) all += i.to_string() + "\n";
  return all;
}

}  // namespace

DeviceSpec device(std::string_view id, std::string_view key, std::string version, std::string profile,
                  std::string host, std::string name, std::string category) {
  DeviceSpec d;
  d.id = std::string(id);
  d.key = std::string(key);
  d.version = std::move(version);
  d.profile = std::move(profile);
  d.host = std::move(host);
  d.name = std::move(name);
  d.category = std::move(category);
  return d;
}

std::string fleet_id(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bffleet%013zu", i);
  return buf;
}

std::string fleet_key(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "fleetKey%08zu", i);  // 16 characters
  return buf;
}

std::string fleet_name(size_t i) {
  return "plug" + std::to_string(i);
}

std::string fleet_version(size_t i, const std::vector<std::string>& versions) {
  static const char* const VERSIONS[] = {"3.3", "3.4", "3.5", "3.1"};
  return versions.empty() ? VERSIONS[i % 4] : versions[i % versions.size()];
}

std::vector<DeviceSpec> plug_fleet(size_t n, const std::string& host_prefix,
                                   const std::vector<std::string>& versions, int heartbeat_s) {
  std::vector<DeviceSpec> out;
  for (size_t i = 0; i < n; ++i) {
    DeviceSpec d;
    d.id = fleet_id(i);
    d.key = fleet_key(i);
    d.version = fleet_version(i, versions);
    d.host = host_prefix + std::to_string(i + 1);
    d.name = fleet_name(i);
    d.options = {{"heartbeat_interval", heartbeat_s}};
    out.push_back(std::move(d));
  }
  return out;
}

double now_ms() {
  return static_cast<double>(uv_hrtime()) / 1e6;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t idx = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[idx];
}

// The gateway core as gateway/app.cpp composes it, on the fixture's loop.
struct GatewayFixture::Core {
  UvTimers timers;
  gw::UvTcpTransportFactory transports;
  LoopExecutor executor;
  mqtt::PahoClient client;
  mqtt::Publisher publisher;
  std::unique_ptr<gw::Gateway> gateway;
  explicit Core(uv_loop_t* loop)
      : timers(loop), transports(loop), executor(loop), client(executor), publisher(client) {}
};

GatewayFixture::GatewayFixture(FixtureOptions options)
    : opt(std::move(options)), pki(pki_if(opt.tls, pki_dir)), broker(broker_options(opt.broker, pki)) {
  log_set_level(opt.level);
  REQUIRE_MESSAGE(broker.start(), broker.log());
  uv_loop_init(&loop);

  if (opt.cloud) {
    timers = std::make_unique<UvTimers>(&loop);
    fakecloud::FakeCloud::Options co;
    co.client_id = opt.cloud->access_id;
    co.secret = opt.cloud->access_secret;
    cloud = std::make_unique<fakecloud::FakeCloud>(*timers, co);
    for (const auto& d : opt.cloud->devices) cloud->add_device(d);
    server = std::make_unique<fakecloud::FakeCloudServer>(&loop, *cloud);
    REQUIRE(server->listen(0).ok());
    fakecloud::FakePulsarOptions po;
    po.access_id = opt.cloud->access_id;
    po.access_secret = opt.cloud->access_secret;
    pulsar = std::make_unique<fakecloud::FakePulsar>(&loop, *timers, po);
    REQUIRE(pulsar->start().ok());
  }

  json devs = json::array();
  for (const auto& d : opt.devices) {
    if (!d.simulated) continue;
    json s{{"id", d.id},           {"key", d.key},   {"version", d.version},
           {"profile", d.profile}, {"host", d.host}, {"port", 0}};
    for (const auto& sub : d.subs) s["sub_devices"].push_back({{"cid", sub.cid}, {"profile", sub.profile}});
    devs.push_back(std::move(s));
  }
  auto sc = sim::parse_config(json{{"devices", devs}});
  REQUIRE(sc.ok());
  simulator = std::make_unique<sim::Simulator>(&loop, sc.value());
  REQUIRE(simulator->start().ok());

  LoopMqttClient::Options oo;
  oo.port = broker.port();
  oo.client_id = "t2m-test-observer";
  oo.username = opt.username;
  oo.password = opt.password;
  oo.subscriptions = opt.subscriptions;
  observer = std::make_unique<LoopMqttClient>(&loop, oo, [this](MqttMessage m) {
    if (on_message) on_message(m);
    last[m.topic] = m.payload;
    if (keep_seen) seen.push_back(std::move(m));
  });
  observer->start();
  REQUIRE_MESSAGE(wait([&] { return observer->ready(); }), broker.log());
}

GatewayFixture::~GatewayFixture() {
  stop_gateway();
  openhub.reset();
  if (observer) {
    bool closed = false;
    observer->close([&] { closed = true; });
    wait([&] { return closed; }, CLOSE_WAIT_MS);
    observer.reset();
  }
  if (simulator) simulator->stop();
  simulator.reset();
  pulsar.reset();
  if (server) server->close();
  server.reset();
  cloud.reset();
  timers.reset();
  run_loop_until_idle(&loop, SETTLE_MS);
  cloud::lws_drain(&loop);
  if (const int rc = uv_close_all_and_drain(&loop); rc != 0)
    teardown_failed("the loop still had handles open (uv_loop_close: " + std::to_string(rc) + ")");
}

json GatewayFixture::device_entry(size_t i) const {
  const DeviceSpec& d = opt.devices.at(i);
  json e{{"id", d.id},        {"local_key", d.key},
         {"address", d.host}, {"version", d.version == "device22" ? "3.3" : d.version},
         {"name", d.name},    {"category", d.category}};
  if (d.simulated) e["port"] = simulator->port_of(d.id);
  if (d.version == "device22") e["device22"] = true;
  e.update(d.options);
  return e;
}

json GatewayFixture::gateway_config() const {
  json devices = json::array();
  for (size_t i = 0; i < opt.devices.size(); ++i) {
    const DeviceSpec& d = opt.devices[i];
    if (!d.configured) continue;
    devices.push_back(device_entry(i));
    for (const auto& sub : d.subs)
      devices.push_back({{"id", sub.id},
                         {"cid", sub.cid},
                         {"parent", d.id},
                         {"name", sub.name},
                         {"category", sub.category}});
  }
  json mqtt{{"server", broker.uri()}, {"client_id", "t2m-test-gateway"}};
  if (!opt.username.empty()) {
    mqtt["username"] = opt.username;
    mqtt["password"] = opt.password;
  }
  json cfg{{"mqtt", mqtt},
           {"discovery", {{"enabled", false}}},
           {"log_level", std::string(to_string(opt.level))},
           {"devices", devices}};
  if (opt.cloud) {
    json c{{"access_id", opt.cloud->access_id},
           {"access_secret", opt.cloud->access_secret},
           {"region", "eu"},
           {"base_url", server->base_url()}};
    if (openhub) {
      c["push"] = "openhub";  // no override: the broker comes from the config call
    } else {
      c["push"] = true;
      c["push_url"] = pulsar->url();
    }
    c.update(cloud_options);
    cfg["cloud"] = std::move(c);
  }
  return cfg;
}

json GatewayFixture::tls_gateway_config(const json& tls) const {
  json cfg = gateway_config();
  cfg["mqtt"]["server"] = "mqtts://127.0.0.1:" + std::to_string(broker.tls_port());
  cfg["mqtt"]["tls"] = tls;
  return cfg;
}

void GatewayFixture::use_openhub() {
  REQUIRE(cloud);
  openhub = std::make_unique<fakecloud::FakeOpenhub>();
  REQUIRE(openhub->start().ok());
  cloud->set_openhub(openhub->access());
}

void GatewayFixture::start_gateway() {
  start_gateway(gateway_config());
}

void GatewayFixture::start_gateway(const json& cfg) {
  const std::string err = try_start_gateway(cfg);
  REQUIRE_MESSAGE(err.empty(), err);
  if (!opt.cloud) return;
  if (openhub) {
    // The open-hub client announces its channel once it is connected and subscribed.
    REQUIRE(find_json("tuya2mqtt/bridge/event", 0, R"("channel":"openhub","connected":true)").is_object());
    return;
  }
  // The push consumer is connected once the fake has a session.
  REQUIRE(wait([&] { return pulsar->connections() > 0; }));
}

std::string GatewayFixture::try_start_gateway(const json& cfg) {
  auto parsed = config::parse_config(cfg);
  if (!parsed.ok()) return issues_text(parsed.error());
  config::LoadedConfig lc;
  lc.config = parsed.value();
  lc.path = dir.file("tuya2mqtt.json");
  app = std::make_unique<gw::App>(&loop, std::move(lc));
  auto st = app->start();
  return st.ok() ? std::string() : st.error().message;
}

void GatewayFixture::start_core(const json& cfg, const std::function<void(gw::Gateway::Deps&)>& adjust) {
  auto parsed = config::parse_config(cfg);
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : issues_text(parsed.error())));
  const config::Config& c = parsed.value();
  core_ = std::make_unique<Core>(&loop);
  Core& k = *core_;
  gw::Gateway::Deps deps{k.timers, k.transports, gw::system_random(), k.client, k.publisher};
  deps.ha.version = std::string(gw::GATEWAY_VERSION);
  if (adjust) adjust(deps);
  k.gateway = std::make_unique<gw::Gateway>(deps, c);

  mqtt::ConnectOptions co;
  co.server_uri = c.mqtt.server;
  co.client_id = c.mqtt.client_id;
  co.username = c.mqtt.username;
  co.password = c.mqtt.password;
  co.will = mqtt::Message{k.gateway->topics().bridge_state(), OFFLINE, mqtt::Qos::AT_LEAST_ONCE, true};
  mqtt::ClientHandlers h;
  h.on_connected = [&k](bool) { k.gateway->on_mqtt_connected(); };
  h.on_message = [&k](mqtt::Message m) { k.gateway->on_mqtt_message(m); };
  REQUIRE(k.client.connect(co, std::move(h)).ok());
  k.gateway->start();
}

void GatewayFixture::stop_gateway() {
  auto it = last.find(BRIDGE_STATE);
  const bool was_online = it != last.end() && it->second == ONLINE;
  if (app) {
    bool stopped = false;
    app->stop([&] { stopped = true; });
    wait([&] { return stopped; }, STOP_WAIT_MS);
    app.reset();
  }
  if (core_) {
    core_->gateway->stop();
    bool done = false;
    core_->client.disconnect([&] { done = true; });
    wait([&] { return done; }, STOP_WAIT_MS);
    core_->gateway.reset();
    core_->executor.close();
    core_.reset();
  }
  if (was_online && observer && observer->ready())
    wait([&] { return last[BRIDGE_STATE] == OFFLINE; }, STOP_WAIT_MS);
}

gw::Gateway& GatewayFixture::gateway() {
  REQUIRE(gateway_running());
  return app ? app->gateway() : *core_->gateway;
}

bool GatewayFixture::gateway_running() const {
  return app || core_;
}

bool GatewayFixture::gateway_connected() {
  return gateway().requests().health()["mqtt"].value("connected", false);
}

json GatewayFixture::device_health(const std::string& name) {
  return gateway().requests().health()["per_device"].value(name, json::object());
}

bool GatewayFixture::wait(const std::function<bool()>& pred, int ms) {
  return run_loop_until(&loop, pred, ms > 0 ? ms : opt.wait_ms);
}

json GatewayFixture::last_json(const std::string& topic) {
  auto it = last.find(topic);
  if (it == last.end() || it->second.empty()) return nullptr;
  return json::parse(it->second, nullptr, false);
}

json GatewayFixture::state(const std::string& name) {
  return last_json("tuya2mqtt/" + name);
}

std::string GatewayFixture::availability(const std::string& name) {
  auto it = last.find("tuya2mqtt/" + name + "/availability");
  return it == last.end() ? std::string() : it->second;
}

bool GatewayFixture::online(const std::string& name) {
  return availability(name) == ONLINE;
}

bool GatewayFixture::offline(const std::string& name) {
  return availability(name) == OFFLINE;
}

bool GatewayFixture::all_online() {
  auto up = [&](const std::string& name) { return online(name) && !state(name).is_null(); };
  for (const auto& d : opt.devices) {
    if (!d.configured || !d.simulated) continue;
    if (!up(d.name)) return false;
    for (const auto& sub : d.subs)
      if (!up(sub.name)) return false;
  }
  return true;
}

void GatewayFixture::publish(const std::string& topic, const std::string& payload, bool retain) {
  REQUIRE(observer);
  observer->publish(topic, payload, retain);
}

std::optional<MqttMessage> GatewayFixture::find_(const std::string& topic, size_t after,
                                                 const std::string& needle, int ms) {
  std::optional<MqttMessage> out;
  wait(
      [&] {
        for (size_t i = after; i < seen.size(); ++i)
          if (seen[i].topic == topic && seen[i].payload.find(needle) != std::string::npos) {
            out = seen[i];
            return true;
          }
        return false;
      },
      ms);
  return out;
}

std::optional<MqttMessage> GatewayFixture::next_on(const std::string& topic, size_t after, int ms) {
  return find_(topic, after, {}, ms);
}

json GatewayFixture::next_json(const std::string& topic, size_t after, int ms) {
  return find_json(topic, after, {}, ms);
}

json GatewayFixture::find_json(const std::string& topic, size_t after, const std::string& needle, int ms) {
  auto m = find_(topic, after, needle, ms);
  if (!m) return nullptr;
  return json::parse(m->payload, nullptr, false);
}

}  // namespace t2m::test

// The one end-to-end fixture of the integration, fault, security, HA and cloud tests (target
// t2m_gateway_fixture): a real mosquitto on a free loopback port, the device simulator and the gateway on
// one uv loop, watched by an MQTT observer (LoopMqttClient) that keeps the last payload of every topic
// and every message in order. What differs between the suites are options: the devices (kinds, versions,
// sub-devices, loopback block), MQTT credentials, a TLS listener with a throw-away PKI, the fake Tuya
// cloud (OpenAPI, Pulsar push, open-hub), and how the gateway is built: the App as `tuya2mqtt run` builds
// it, or the gateway core composed as gateway/app.cpp does with Deps a test adjusts (a short HA birth
// delay, session timings).
//
// One fixture per test program run: each ctest test is one TEST_CASE in its own process. A case whose
// SUBCASEs can share the world takes it with test::per_case (tests/support/per_case.h).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/timers.h"
#include "gateway/app.h"
#include "gateway/gateway.h"
#include "tests/fakecloud/fake_cloud.h"
#include "tests/fakecloud/fake_cloud_server.h"
#include "tests/fakecloud/fake_openhub.h"
#include "tests/fakecloud/fake_pulsar.h"
#include "tests/sim/src/simulator.h"
#include "tests/support/loop_mqtt_client.h"
#include "tests/support/mosquitto.h"

namespace t2m::test {

inline constexpr int FIXTURE_WAIT_MS = 10000;

// One simulated device and its entry in the gateway's configuration.
struct DeviceSpec {
  struct Sub {  // a Zigbee sub-device behind a "gateway" profile
    std::string cid, profile;
    std::string id, name, category;  // its configuration entry
  };
  std::string id, key;
  std::string version = "3.3";   // "3.1" .. "3.5", or "device22" (configured as 3.3 with "device22": true)
  std::string profile = "plug";  // the simulator's profile
  std::string host;              // its loopback address; the configured address when not simulated
  std::string name;
  std::string category = "cz";
  std::vector<Sub> subs;
  nlohmann::json options = nlohmann::json::object();  // merged into its configuration entry
  bool simulated = true;                              // false: configured only (a cloud-only device)
  bool configured = true;                             // false: simulated only (added later by a test)
};

// A device that is simulated and configured, without options or sub-devices.
DeviceSpec device(std::string_view id, std::string_view key, std::string version, std::string profile,
                  std::string host, std::string name, std::string category);

// The plug fleet of the fault, soak and security tests: device i is bffleet<i, 13 digits> with key
// fleetKey<i, 8 digits> on <host_prefix><i+1>, named plug<i>; versions cycle 3.3, 3.4, 3.5, 3.1 (or
// `versions`, "device22" allowed) so every session type carries load.
std::string fleet_id(size_t i);
std::string fleet_key(size_t i);
std::string fleet_name(size_t i);
std::string fleet_version(size_t i, const std::vector<std::string>& versions = {});
std::vector<DeviceSpec> plug_fleet(size_t n, const std::string& host_prefix,
                                   const std::vector<std::string>& versions = {}, int heartbeat_s = 2);

// For load tests: milliseconds on a monotonic clock (uv_hrtime), and the p-quantile (0..1) of `v`.
double now_ms();
double percentile(std::vector<double> v, double p);

// The fake Tuya cloud: the OpenAPI over loopback HTTP (its devices), the Pulsar push service, and on
// use_openhub() the open-hub broker instead of Pulsar.
struct CloudSpec {
  std::string access_id, access_secret;
  std::vector<fakecloud::FakeDevice> devices;
};

struct FixtureOptions {
  std::vector<DeviceSpec> devices;
  BrokerOptions broker;
  bool tls = false;                // pki() and a TLS listener on the broker that requires a client cert
  std::string username, password;  // the gateway's and the observer's (broker.users must know them)
  LogLevel level = LogLevel::WARN;
  std::vector<std::string> subscriptions = {"#"};  // the observer's
  std::optional<CloudSpec> cloud;
  int wait_ms = FIXTURE_WAIT_MS;  // wait()'s default bound
};

class GatewayFixture {
 public:
  explicit GatewayFixture(FixtureOptions options);
  // Stops the gateway, the observer, the fakes and the simulator, then checks that no handle is left.
  ~GatewayFixture();
  GatewayFixture(const GatewayFixture&) = delete;
  GatewayFixture& operator=(const GatewayFixture&) = delete;

  // ---- configuration
  // Device i's configuration entry (configured or not: tests add the others over MQTT).
  nlohmann::json device_entry(size_t i) const;
  // The configured devices (and sub-devices), the broker, the credentials, the cloud section.
  nlohmann::json gateway_config() const;
  // gateway_config() on the TLS listener (mqtts://) with `tls` as its "tls" block.
  nlohmann::json tls_gateway_config(const nlohmann::json& tls) const;
  // Push over the fake open-hub instead of Pulsar (before start_gateway()).
  void use_openhub();

  // ---- the gateway
  // The App from `cfg` (default gateway_config()). With the cloud, returns once push is connected.
  void start_gateway();
  void start_gateway(const nlohmann::json& cfg);
  // Parses `cfg` and starts the App: "" when it runs, else the configuration issues or the start error.
  std::string try_start_gateway(const nlohmann::json& cfg);
  // The gateway core on the fixture's loop, composed as gateway/app.cpp does (timers, TCP transports, a
  // Paho client, the publisher), with `adjust` given the Deps before the Gateway is built.
  void start_core(const nlohmann::json& cfg, const std::function<void(gw::Gateway::Deps&)>& adjust = {});
  // Stops the App or the core and waits until the observer saw the bridge go offline (if it saw it
  // online), so what a next start publishes is never mistaken for what this one left.
  void stop_gateway();
  gw::Gateway& gateway();
  bool gateway_running() const;
  // The gateway's broker client is connected (health_check's mqtt.connected).
  bool gateway_connected();
  // health_check's entry for device `name` (online, reports, session counters, errors).
  nlohmann::json device_health(const std::string& name);

  // ---- watching
  // Runs the loop until `pred` or `ms` (default options.wait_ms, times T2M_TEST_TIME_SCALE).
  bool wait(const std::function<bool()>& pred, int ms = 0);
  // The last payload on `topic` as JSON; null if none or empty (a cleared retained topic).
  nlohmann::json last_json(const std::string& topic);
  nlohmann::json state(const std::string& name);  // last_json("tuya2mqtt/<name>")
  std::string availability(const std::string& name);
  bool online(const std::string& name);
  bool offline(const std::string& name);
  // Every configured device and sub-device is online and has published its state.
  bool all_online();
  // QoS 1 from the observer.
  void publish(const std::string& topic, const std::string& payload, bool retain = false);
  // The first message on `topic` at or after index `after` of `seen`, waited for.
  std::optional<MqttMessage> next_on(const std::string& topic, size_t after, int ms = 0);
  // The same, parsed; null if none came.
  nlohmann::json next_json(const std::string& topic, size_t after, int ms = 0);
  // The first such message whose payload contains `needle`, parsed; null if none came.
  nlohmann::json find_json(const std::string& topic, size_t after, const std::string& needle, int ms = 0);

  FixtureOptions opt;
  TempDir dir{"t2m-fixture"};
  TempDir pki_dir{"t2m-pki"};
  std::optional<TestPki> pki;  // with options.tls
  MosquittoBroker broker;
  uv_loop_t loop{};
  std::unique_ptr<sim::Simulator> simulator;
  std::unique_ptr<LoopMqttClient> observer;
  std::unique_ptr<gw::App> app;

  // The fake cloud (options.cloud).
  std::unique_ptr<UvTimers> timers;
  std::unique_ptr<fakecloud::FakeCloud> cloud;
  std::unique_ptr<fakecloud::FakeCloudServer> server;
  std::unique_ptr<fakecloud::FakePulsar> pulsar;
  std::unique_ptr<fakecloud::FakeOpenhub> openhub;
  nlohmann::json cloud_options = nlohmann::json::object();  // merged into the "cloud" section

  // What the observer received.
  std::map<std::string, std::string> last;  // topic -> last payload
  std::vector<MqttMessage> seen;
  bool keep_seen = true;
  std::function<void(const MqttMessage&)> on_message;  // sees every message first

 private:
  std::optional<MqttMessage> find_(const std::string& topic, size_t after, const std::string& needle, int ms);
  struct Core;
  std::unique_ptr<Core> core_;
};

}  // namespace t2m::test

// The gateway's core (docs/architecture.md §3): the device registry and the handlers above it, wired
// once, and the one entry for what the broker sends. An MQTT message goes to Home Assistant's side first
// (status topic, discovery configs), then by topic to the command router (set/get) or the bridge
// requests; session events go from the registry to the state publisher. The composition root (app.cpp)
// adds the broker client, the cloud link and the discovery listener; tests build this with fakes. Loop
// thread only.
#pragma once

#include <nlohmann/json.hpp>

#include "common/timers.h"
#include "config/config.h"
#include "gateway/bridge_requests.h"
#include "gateway/cloud_port.h"
#include "gateway/command_router.h"
#include "gateway/device_registry.h"
#include "gateway/discovery_listener.h"
#include "gateway/ha_publisher.h"
#include "gateway/state_publisher.h"
#include "mqtt/client.h"
#include "mqtt/publisher.h"
#include "mqtt/topics.h"
#include "protocol/discovery.h"

namespace t2m::gw {

class Gateway {
 public:
  struct Deps {
    Timers& timers;
    TransportFactory& transports;
    RandomSource random;
    mqtt::Client& client;
    mqtt::Publisher& publisher;
    DeviceStore* store = nullptr;              // null: changes are not saved
    CloudPort* cloud = nullptr;                // null: no cloud section
    KeySource* keys = nullptr;                 // null: a wrong key is only reported
    AnnouncementRequester* scanner = nullptr;  // null: bridge/request/scan only lists what was heard
    SessionTimings timings = {};
    HaPublisher::Options ha = {};
    uint64_t ha_birth_delay_ms = DEFAULT_HA_BIRTH_DELAY_MS;
  };
  Gateway(Deps deps, config::Config config, nlohmann::json learned = nlohmann::json::object());
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Starts every session and publishes bridge/state online, info, devices and discovery.
  void start();
  // Stops every session and publishes every device and the bridge offline.
  void stop();

  // From mqtt::ClientHandlers.
  void on_mqtt_connected();
  void on_mqtt_message(const mqtt::Message& m);
  // From the discovery listener.
  void on_announcement(const proto::Announcement& a, const std::string& sender_ip);

  DeviceRegistry& registry() { return registry_; }
  const DeviceRegistry& registry() const { return registry_; }
  StatePublisher& state() { return state_; }
  const StatePublisher& state() const { return state_; }
  BridgeRequests& requests() { return requests_; }
  HaPublisher& ha() { return ha_; }
  const mqtt::Topics& topics() const { return topics_; }
  const config::Config& config() const { return registry_.config(); }

 private:
  void dispatch_(const mqtt::Message& m);

  Deps deps_;
  DeviceRegistry registry_;
  mqtt::Topics topics_;
  HaPublisher ha_;
  StatePublisher state_;
  CommandRouter commands_;
  BridgeRequests requests_;
  bool started_ = false;
};

}  // namespace t2m::gw

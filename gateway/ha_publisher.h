// Home Assistant discovery on the loop (docs/conventions.md §2.2, §6): publishes the retained
// device-based discovery configs (mqtt/ha_discovery.h) through the Publisher (so they are republished after
// every reconnect and cleared with their owner), clears them when a device is removed, republishes them
// when a device is renamed or its entities change, removes stale configs a previous run left for devices
// no longer configured, and tells its caller when Home Assistant's status topic says HA came back (the
// state publisher then republishes every state after a delay, as zigbee2mqtt does). It is given the
// devices to describe (StatePublisher calls it); it asks nobody for anything. Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/timers.h"
#include "config/config.h"
#include "model/derived_model.h"
#include "mqtt/client.h"
#include "mqtt/ha_discovery.h"
#include "mqtt/publisher.h"
#include "mqtt/topics.h"

namespace t2m::gw {

// Home Assistant restarts load integrations for a while after the birth message; states sent at once can
// arrive before the entities exist (zigbee2mqtt waits 30 s, HA's docs suggest a delay too).
inline constexpr uint64_t DEFAULT_HA_BIRTH_DELAY_MS = 15000;
// After (re)connecting, retained discovery configs on <prefix>/device/+/config are read for this long to
// find stale ones (devices removed while the gateway was not running); then the filter is dropped.
inline constexpr uint64_t DEFAULT_HA_CLEANUP_WINDOW_MS = 5000;

class HaPublisher {
 public:
  // What discovery needs to know about one device; pointers must stay valid during the call only.
  struct DeviceView {
    const config::DeviceConfig* config = nullptr;
    const model::DerivedModel* model = nullptr;
    std::string firmware_version;  // "" = unknown
    bool firmware_update = false;  // the cloud reports firmware for it: add the update entity
    std::vector<mqtt::ha::EventEntity> events;
  };
  struct Options {
    std::string version;      // origin / bridge sw_version
    std::string support_url;  // origin support_url, optional
    uint64_t cleanup_window_ms = DEFAULT_HA_CLEANUP_WINDOW_MS;
  };
  struct Stats {
    uint64_t discovery_published = 0;
    uint64_t discovery_cleared = 0;
    uint64_t stale_cleared = 0;
    uint64_t births = 0;
    uint64_t actions = 0;
  };

  HaPublisher(mqtt::Publisher& publisher, mqtt::Client& client, const mqtt::Topics& topics,
              config::HomeAssistantConfig config, Timers& timers, Options options);
  HaPublisher(const HaPublisher&) = delete;
  HaPublisher& operator=(const HaPublisher&) = delete;

  bool enabled() const { return config_.enabled; }
  // Publishes the bridge device and every device's discovery (no-op when disabled).
  void start(const std::vector<DeviceView>& devices);
  // (Re)publishes one device's discovery: after add, rename, options or a model change.
  void publish_device(const DeviceView& device);
  // Clears a removed device's discovery. `old_name` is only used for the log.
  void remove_device(const std::string& id, const std::string& old_name);
  // Cloud scene names for the bridge's scene event entity; republishes the bridge device.
  void set_scenes(std::vector<std::string> scenes);

  // From ClientHandlers::on_connected (after the bridge's): subscribes to HA's status topic and, for a
  // short window, to the discovery configs to collect stale ones.
  void on_mqtt_connected();
  // What a message meant to Home Assistant's side.
  enum class Inbound {
    NOT_HA,      // not HA's: the gateway's own topics handle it
    HANDLED,     // a discovery config (stale ones are cleared) or an unknown status
    HA_ONLINE,   // HA's birth message: states should follow after a delay
    HA_OFFLINE,  // HA's will: a pending republish is pointless
  };
  // From ClientHandlers::on_message, before the gateway's own topics.
  Inbound on_message(const mqtt::Message& message);

  // Scene-switch presses in one report (wire DPs) -> <base>/<name>/action {"event_type","source"}, not
  // retained. Published whether or not discovery is enabled (Node-RED users want them too).
  void publish_actions(const DeviceView& device, const nlohmann::json& dps);

  const mqtt::ha::Options& discovery_options() const { return options_; }
  std::optional<std::string> discovery_topic_of(const std::string& id) const;
  const Stats& stats() const { return stats_; }

 private:
  struct Published {
    std::string topic;
    std::vector<std::pair<std::string, std::string>> components;  // key -> platform
  };
  void publish_bridge_();
  void end_cleanup_();
  std::string discovery_filter_() const;

  mqtt::Publisher& publisher_;
  mqtt::Client& client_;
  const mqtt::Topics& topics_;
  config::HomeAssistantConfig config_;
  Scheduler sched_;
  Options opts_;
  mqtt::ha::Options options_;
  std::vector<std::string> scenes_;
  std::map<std::string, Published> published_;  // by device id
  bool cleanup_open_ = false;
  Stats stats_;
};

}  // namespace t2m::gw

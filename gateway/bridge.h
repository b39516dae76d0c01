// The router between MQTT and the devices (the only place wiring the two, docs/architecture.md):
// device reports become retained state, link changes become availability, /set and /get become
// session commands with an answer on set/result, and bridge/request/<path> is answered on
// bridge/response/<path> with the transaction echoed. Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/timers.h"
#include "config/config.h"
#include "gateway/device_model.h"
#include "gateway/device_session.h"
#include "gateway/error_code.h"
#include "mqtt/client.h"
#include "mqtt/publisher.h"
#include "mqtt/topics.h"
#include "protocol/discovery.h"

namespace t2m::gw {

inline constexpr std::string_view GATEWAY_VERSION = "0.1.0";

struct BridgeStats {
  uint64_t reports = 0;
  uint64_t state_publishes = 0;
  uint64_t commands = 0;
  uint64_t command_errors = 0;
  uint64_t bad_mqtt_messages = 0;
  uint64_t bridge_requests = 0;
  std::map<std::string, uint64_t>
      errors;  // by error code: wrong_key, bad_frame, mqtt_payload_invalid_json, ...
};

class Bridge {
 public:
  struct Deps {
    Timers& timers;
    TransportFactory& transports;
    RandomSource random;
    mqtt::Client& client;
    mqtt::Publisher& publisher;
  };
  // Optional hooks the composition root provides (discovery requests, persistence, HA discovery).
  struct Hooks {
    // bridge/request/scan: send the 3.5 discovery request now. Returns an error if not possible.
    std::function<Status()> send_discovery_request;
    // Persist the configuration after add/remove/rename/options.
    std::function<Status(const config::Config&)> save_config;
    // A device appeared, changed or was renamed (discovery must be (re)published), or was removed.
    std::function<void(const std::string& id)> on_device_changed;
    std::function<void(const std::string& id, const std::string& old_name)> on_device_removed;
    // What the gateway learned about devices (probed versions, device22) changed: persist it.
    std::function<void(const nlohmann::json& learned)> save_learned;
    // Requests answered later (device/ota_update/check|update): the handler calls `respond` once.
    std::function<void(const std::string& path, const nlohmann::json& data,
                       std::function<void(Result<nlohmann::json>)> respond)>
        async_request;
    // Every device report, after it was merged (HA scene-switch actions are derived from it).
    std::function<void(const std::string& id, const nlohmann::json& dps)> on_report;
    // A device rejected its local key: fetch a fresh one (the cloud link rate-limits this).
    std::function<void(const std::string& id)> on_wrong_key;
    // The LAN session is down: try the cloud instead. Returns false when no cloud path exists.
    std::function<bool(const std::string& id, const nlohmann::json& wire_dps,
                       std::function<void(const Status&)> done)>
        cloud_command;
    // What health_check reports under "cloud" (push channel state and counters); absent without a cloud.
    std::function<nlohmann::json()> cloud_health;
  };

  // `learned` is what save_learned persisted last time: {"<id>": {"version": "3.4", "device22": false}}.
  Bridge(Deps deps, config::Config config, Hooks hooks = {},
         nlohmann::json learned = nlohmann::json::object());
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Starts every enabled device session and publishes bridge/state online, info and devices.
  void start();
  // Stops every session and publishes every device offline and bridge/state offline.
  void stop();

  // From mqtt::ClientHandlers.
  void on_mqtt_connected();
  void on_mqtt_message(const mqtt::Message& m);
  // From the discovery listener.
  void on_announcement(const proto::Announcement& a, const std::string& sender_ip);

  // ---- from the cloud link (push messages, OpenAPI) ----
  struct CloudItem {
    std::optional<int> dp_id;
    std::string code;
    nlohmann::json value;
  };
  // A status report from the cloud (how sleeping battery devices get their state).
  void apply_cloud_report(const std::string& dev_id, const std::vector<CloudItem>& items);
  void apply_cloud_online(const std::string& dev_id, bool online);
  void apply_cloud_name(const std::string& dev_id, const std::string& name);
  void apply_cloud_dp_name(const std::string& dev_id, std::optional<int> dp_id, const std::string& name);
  // The device was deleted from the account: stop it and clear its retained topics.
  void apply_cloud_removed(const std::string& dev_id);
  // A newly bound device (details and key fetched by the cloud link).
  Status add_device(const config::DeviceConfig& cfg);
  // Firmware state: {"state":"idle|available|updating","installed_version","latest_version","progress"}.
  void apply_firmware(const std::string& dev_id, nlohmann::json update);
  void publish_device_event(const std::string& dev_id, const std::string& type, nlohmann::json data);
  void publish_event(const std::string& type, nlohmann::json data) { publish_event_(type, std::move(data)); }
  // A fresh local key for a device (persisted); reconnects at once if the device is down.
  bool update_local_key(const std::string& dev_id, const std::string& key);
  bool has_device(const std::string& id_or_name) const { return find_(id_or_name) != nullptr; }
  // Publishes the device's current state again (Home Assistant's birth message).
  void republish_state(const std::string& id_or_name);
  // The firmware state the cloud reported (null when none).
  nlohmann::json firmware_of(const std::string& id_or_name) const;
  std::string id_of(const std::string& id_or_name) const;

  const BridgeStats& stats() const { return stats_; }
  const config::Config& config() const { return config_; }
  const mqtt::Topics& topics() const { return topics_; }
  nlohmann::json health() const;
  nlohmann::json devices_json() const;
  // devices_json() as text (what bridge/devices carries), built without the whole DOM.
  std::string devices_payload() const;
  // Current MQTT state object of a device (for discovery templates and tests); null if unknown.
  nlohmann::json state_of(const std::string& id_or_name) const;
  bool device_online(const std::string& id_or_name) const;
  const DeviceModel* model_of(const std::string& id_or_name) const;
  std::vector<std::string> device_ids() const;

 private:
  struct Device;
  using DevicePtr = std::unique_ptr<Device>;

  Device* find_(std::string_view id_or_name) const;
  void add_device_(const config::DeviceConfig& cfg);
  void start_device_(Device& d);
  void remove_device_(const std::string& id);
  void link_children_();
  SessionOptions session_options_(const config::DeviceConfig& cfg) const;
  DeviceSession* session_for_(Device& d);

  void on_report_(Device& d, const nlohmann::json& dps, const std::optional<std::string>& cid);
  void handle_report_(Device& d, const nlohmann::json& dps, const std::optional<std::string>& cid);
  void handle_mqtt_message_(const mqtt::Message& m);
  void on_link_(Device& d, bool online, const std::string& reason);
  void on_error_(Device& d, const Error& e);
  void publish_state_(Device& d);
  void publish_availability_(Device& d);
  void publish_bridge_info_();
  void publish_bridge_devices_();  // soon: coalesces bursts (cold start, many modes learned)
  void publish_bridge_devices_now_();
  void publish_event_(const std::string& type, nlohmann::json data);

  void handle_set_(const std::string& name, nlohmann::json command);
  void handle_get_(const std::string& name, const std::vector<std::string>& attrs);
  void answer_set_(const std::string& name, const Status& st,
                   const std::optional<nlohmann::json>& transaction, const nlohmann::json& written);
  void handle_request_(const std::string& path, const std::string& payload);
  Result<nlohmann::json> request_rename_(const nlohmann::json& data);
  Result<nlohmann::json> request_add_(const nlohmann::json& data);
  Result<nlohmann::json> request_remove_(const nlohmann::json& data);
  Result<nlohmann::json> request_options_(const nlohmann::json& data);
  Result<nlohmann::json> request_scan_(const nlohmann::json& data);
  void count_error_(const std::string& code);
  void count_error_(ErrorCode code);
  nlohmann::json device_entry_(const Device& d) const;  // bridge/devices entry without "dps"
  void persist_();

  Deps deps_;
  config::Config config_;
  Hooks hooks_;
  mqtt::Topics topics_;
  ModelCache models_;                                         // shared by devices of one product
  std::map<std::string, DevicePtr> devices_;                  // by id
  mutable std::unordered_map<std::string, Device*> by_name_;  // rebuilt when names_dirty_
  mutable bool names_dirty_ = true;
  Scheduler sched_;
  std::map<std::string, nlohmann::json> heard_;  // UDP announcements by device id
  nlohmann::json learned_;
  BridgeStats stats_;
  bool started_ = false;
  std::shared_ptr<bool> alive_;
};

}  // namespace t2m::gw

// The devices the gateway runs (docs/architecture.md §3): each one's configuration, model, LAN session,
// cached wire state, gateway/sub-device links and counters, and the only place that adds, renames,
// reconfigures or removes a device. It knows nothing about MQTT: the handlers above it publish what a
// change means. Session events go to one SessionEvents sink (the state publisher), in the direction the
// data flows; nothing here calls a handler otherwise. Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/timers.h"
#include "config/config.h"
#include "gateway/device_session.h"
#include "gateway/error_code.h"
#include "model/device_model.h"
#include "protocol/discovery.h"

namespace t2m::gw {

// Counters of the whole gateway, reported by bridge/request/health_check.
struct GatewayStats {
  uint64_t reports = 0;
  uint64_t state_publishes = 0;
  uint64_t commands = 0;
  uint64_t command_errors = 0;
  uint64_t bad_mqtt_messages = 0;
  uint64_t bridge_requests = 0;
  uint64_t unknown_sub_device_reports = 0;  // reports from a gateway for a cid we were not told about
  std::map<std::string, uint64_t>
      errors;  // by error code: wrong_key, bad_frame, mqtt_payload_invalid_json, ...
};

struct Device {
  config::DeviceConfig cfg;
  model::DeviceModel model;
  std::unique_ptr<DeviceSession> session;  // gateways and plain devices; null for sub-devices
  Device* parent = nullptr;                // sub-devices: their gateway
  std::vector<Device*> children;
  nlohmann::json dps = nlohmann::json::object();  // merged wire state
  bool online = false;
  std::string reason = "not connected yet";
  std::optional<proto::Version> version;
  uint64_t last_seen_ms = 0;
  uint64_t reports = 0;
  std::map<std::string, uint64_t> errors;
  std::optional<bool> cloud_online;
  std::string cloud_name;
  nlohmann::json update;             // firmware state, null until the cloud says something
  bool dp_refusal_reported = false;  // the first refusal is an event; the rest are counted

  // A device without a LAN session (sleeping battery devices) is as online as the cloud says.
  bool effective_online() const;
  // Whether a command can go over the LAN now (its own link, or its gateway's).
  bool lan_up() const { return parent ? parent->online : online; }
  const std::string& name() const { return cfg.display_name(); }
};

// What a report may add to a device's DPs: ids 1..255 (all the protocol can name), values of at most
// MAX_DP_VALUE_BYTES of JSON and MAX_DEVICE_DPS_BYTES all together, and no more than the device's
// max_dps distinct ids, so that a device that names new ids or sends ever larger values in every frame
// cannot grow memory and state messages without bound. `taken` holds what
// was merged into d.dps (what the report changes), `refused` the ids that were not.
struct DpMerge {
  nlohmann::json taken = nlohmann::json::object();
  std::vector<std::string> refused;
};
DpMerge merge_dps(Device& d, const nlohmann::json& dps);

// Where the registry's changes are kept: the configuration file and the learned protocol modes.
class DeviceStore {
 public:
  virtual ~DeviceStore() = default;
  virtual Status save_config(const config::Config& config) = 0;
  // {"<id>": {"version": "3.4", "device22": false}}; failures are the store's to report.
  virtual void save_learned(const nlohmann::json& learned) = 0;
};

// Who is told what the LAN sessions report (implemented by StatePublisher).
class SessionEvents {
 public:
  virtual ~SessionEvents() = default;
  virtual void on_session_report(Device& d, const nlohmann::json& dps,
                                 const std::optional<std::string>& cid) = 0;
  virtual void on_session_link(Device& d, bool online, const std::string& reason) = 0;
  virtual void on_session_error(Device& d, const Error& e) = 0;
  // Version probing or device22 detection finished; the registry has stored it already.
  virtual void on_session_mode(Device& d, proto::Version v, bool device22) = 0;
};

// Where a rejected local key is replaced from (implemented by CloudLink; rate-limited there).
class KeySource {
 public:
  virtual ~KeySource() = default;
  virtual void request_key(const std::string& id) = 0;
};

// Session timings shared by every device: the configuration's "session" section (tests shorten them).
struct SessionTimings {
  uint32_t connect_timeout_ms = SessionOptions{}.connect_timeout_ms;
  uint32_t response_timeout_ms = SessionOptions{}.response_timeout_ms;
  uint32_t backoff_min_ms = SessionOptions{}.backoff_min_ms;
  uint32_t backoff_max_ms = SessionOptions{}.backoff_max_ms;
  uint32_t offline_command_timeout_ms = SessionOptions{}.offline_command_timeout_ms;
  bool operator==(const SessionTimings&) const = default;
};
// The configured timings; validation keeps every value within uint32_t milliseconds.
SessionTimings session_timings(const config::SessionConfig& session);

class DeviceRegistry {
 public:
  struct Deps {
    Timers& timers;
    TransportFactory& transports;
    RandomSource random;
    DeviceStore* store = nullptr;  // null: changes are not persisted
    SessionTimings timings = {};
  };
  using DeviceMap = std::map<std::string, std::unique_ptr<Device>>;

  // `learned` is what the store kept last time.
  DeviceRegistry(Deps deps, config::Config config, nlohmann::json learned = nlohmann::json::object());
  ~DeviceRegistry();
  DeviceRegistry(const DeviceRegistry&) = delete;
  DeviceRegistry& operator=(const DeviceRegistry&) = delete;

  // Starts every session; their events go to `events` until stop().
  void start(SessionEvents& events);
  void stop();
  bool started() const { return events_ != nullptr; }
  void set_key_source(KeySource* keys) { keys_ = keys; }

  Device* find(std::string_view id_or_name) const;
  const DeviceMap& devices() const { return devices_; }
  std::vector<std::string> ids() const;
  const config::Config& config() const { return config_; }
  GatewayStats& stats() { return stats_; }
  const GatewayStats& stats() const { return stats_; }
  void count_error(const std::string& code) { ++stats_.errors[code]; }
  void count_error(ErrorCode code) { ++stats_.errors[std::string(to_string(code))]; }
  // The session that reaches `d`: its own, or its gateway's for a sub-device; null when there is none.
  DeviceSession* session_for(Device& d);
  // Re-derives d's model from its merged state (new DPs can change the template's layout); true if it
  // changed, so entities and discovery must be published again.
  bool refine_model(Device& d) { return d.model.refine(d.cfg, d.dps, &models_); }

  // ---- life cycle (used by bridge/request and by the cloud link) ----
  // A config entry as bridge/request/device/add takes it; validated against the whole configuration.
  Result<Device*> add(const nlohmann::json& entry);
  struct Removed {
    std::string id;
    std::string name;
  };
  Result<Removed> remove(std::string_view id_or_name);
  struct Renamed {
    Device* device;
    std::string from;
  };
  Result<Renamed> rename(std::string_view id_or_name, const std::string& to);
  // Replaces the device's options (see config::update_device); its cached state is kept.
  Result<Renamed> reconfigure(std::string_view id_or_name, const nlohmann::json& options);
  // A fresh local key (persisted); the session uses it at once. False if unknown or unchanged.
  bool update_local_key(const std::string& id, const std::string& key);

  // ---- what UDP broadcasts told ----
  struct Heard {
    Device* device;       // null: not configured
    bool first;           // the first broadcast from this id since the start
    nlohmann::json seen;  // {"id","ip","version","product_key","last_seen_ms"}
  };
  // Records the announcement and follows a configured device's address (starting its session when the
  // address was not known).
  Heard on_announcement(const proto::Announcement& a, const std::string& sender_ip);
  // Announcements by device id, as in Heard::seen.
  const std::map<std::string, nlohmann::json>& heard() const { return heard_; }

 private:
  Device& insert_(const config::DeviceConfig& cfg);
  void start_session_(Device& d);
  void link_children_();
  SessionOptions session_options_(const config::DeviceConfig& cfg) const;
  void mode_learned_(Device& d, proto::Version v, bool device22);
  void erase_(const std::string& id);
  void persist_();

  Deps deps_;
  config::Config config_;
  model::ModelCache models_;                                  // shared by devices of one product
  DeviceMap devices_;                                         // by id
  mutable std::unordered_map<std::string, Device*> by_name_;  // rebuilt when names_dirty_
  mutable bool names_dirty_ = true;
  std::map<std::string, nlohmann::json> heard_;
  nlohmann::json learned_;
  GatewayStats stats_;
  SessionEvents* events_ = nullptr;
  KeySource* keys_ = nullptr;
};

}  // namespace t2m::gw

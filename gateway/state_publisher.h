// Everything the gateway says on MQTT about its devices (docs/architecture.md §5, the device → MQTT walk):
// device reports become retained state in real units, links become availability, errors and life-cycle
// changes become bridge/event messages, the device list becomes bridge/devices, cloud reports and
// firmware state join the device state, and Home Assistant discovery follows every change. It reads the
// registry and writes MQTT; it never sends anything to a device. Loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/timers.h"
#include "gateway/device_registry.h"
#include "gateway/ha_publisher.h"
#include "gateway/version.h"
#include "mqtt/publisher.h"
#include "mqtt/topics.h"

namespace t2m::gw {

// One DP of a cloud status report: by id, or by code when the cloud names only that.
struct CloudItem {
  std::optional<int> dp_id;
  std::string code;
  nlohmann::json value;
};

class StatePublisher final : public SessionEvents {
 public:
  struct Deps {
    DeviceRegistry& registry;
    mqtt::Publisher& publisher;
    const mqtt::Topics& topics;
    Timers& timers;
    HaPublisher* ha = nullptr;  // null: no Home Assistant discovery
    uint64_t ha_birth_delay_ms = DEFAULT_HA_BIRTH_DELAY_MS;
  };
  explicit StatePublisher(Deps deps);
  StatePublisher(const StatePublisher&) = delete;
  StatePublisher& operator=(const StatePublisher&) = delete;

  // bridge/state online, bridge/info, every device's availability and discovery, bridge/devices.
  void start();
  // Every device and the bridge offline (the registry has stopped the sessions).
  void stop();

  // SessionEvents
  void on_session_report(Device& d, const nlohmann::json& dps,
                         const std::optional<std::string>& cid) override;
  void on_session_link(Device& d, bool online, const std::string& reason) override;
  void on_session_error(Device& d, const Error& e) override;
  void on_session_mode(Device& d, proto::Version v, bool device22) override;

  // ---- what the registry's life-cycle operations mean on MQTT ----
  void device_added(Device& d);
  // `reason` is added to the device_removed event when given (e.g. deleted from the Tuya account).
  void device_removed(const DeviceRegistry::Removed& r, const std::string& reason = {});
  void device_renamed(const DeviceRegistry::Renamed& r);
  void device_reconfigured(const DeviceRegistry::Renamed& r);
  void device_key_updated(const Device& d);
  void announcement(const DeviceRegistry::Heard& h);

  // ---- from the cloud ----
  // A status report from the cloud (how sleeping battery devices get their state).
  void cloud_report(const std::string& dev_id, const std::vector<CloudItem>& items);
  void cloud_online(const std::string& dev_id, bool online);
  void cloud_name(const std::string& dev_id, const std::string& name);
  void cloud_dp_name(const std::string& dev_id, std::optional<int> dp_id, const std::string& name);
  // Firmware state: {"state":"idle|available|updating","installed_version","latest_version","progress"}.
  void firmware(const std::string& dev_id, nlohmann::json update);
  // <base>/<name>/event {"event_type","data"} (a scene that acted on the device).
  void device_event(const std::string& dev_id, const std::string& type, nlohmann::json data);
  // <base>/bridge/event {"type","data"}.
  void event(const std::string& type, nlohmann::json data);

  // Home Assistant's status topic: its birth republishes every state after a delay, its will cancels that.
  void ha_status(bool online);
  void publish_bridge_info();
  void publish_state(Device& d);

  // bridge/devices: the document, and the same as text built without the whole DOM.
  nlohmann::json devices_json() const;
  std::string devices_payload() const;
  // The MQTT state object of a device (tests, discovery templates); null if unknown.
  nlohmann::json state_of(const std::string& id_or_name) const;
  // The firmware update entity needs to know the installed version.
  static HaPublisher::DeviceView ha_view(const Device& d);

 private:
  void publish_availability_(const Device& d);
  // Counts what merge_dps refused; the first refusal of a device is a bridge/event.
  void dps_refused_(Device& d, const std::vector<std::string>& ids);
  void publish_bridge_devices_();  // coalesces bursts (cold start, many modes learned)
  void publish_bridge_devices_now_();
  void discovery_changed_(const Device& d);
  nlohmann::json device_entry_(const Device& d) const;  // bridge/devices entry without "dps"

  Deps deps_;
  Scheduler sched_;
  // Unknown sub-devices: at most this many "<gateway id>/<cid>" are announced (once each) and kept.
  static constexpr size_t MAX_UNKNOWN_CIDS = 64;
  std::set<std::string> unknown_cids_;
  bool started_ = false;
};

}  // namespace t2m::gw

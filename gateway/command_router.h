// MQTT commands to devices (docs/architecture.md §5, the MQTT → device walk): <name>/set and
// <name>/<attr>/set become validated wire DPs written through the device's session (its own or its
// gateway's), or through the cloud when the LAN is down and the cloud may be used; <name>/get asks the
// device for its state. Every set is answered on <name>/set/result with the transaction echoed. Loop
// thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "gateway/cloud_port.h"
#include "gateway/device_registry.h"
#include "mqtt/publisher.h"
#include "mqtt/topics.h"

namespace t2m::gw {

class CommandRouter {
 public:
  struct Deps {
    DeviceRegistry& registry;
    mqtt::Publisher& publisher;
    const mqtt::Topics& topics;
    CloudPort* cloud = nullptr;  // null: no cloud fallback
  };
  explicit CommandRouter(Deps deps);
  ~CommandRouter();
  CommandRouter(const CommandRouter&) = delete;
  CommandRouter& operator=(const CommandRouter&) = delete;

  // <name>/set (a JSON object or ON/OFF/...) and <name>/<attribute>/set (a bare value).
  void on_set(const std::string& name, const std::string& payload);
  void on_set_attribute(const std::string& name, const std::string& attribute, const std::string& payload);
  // <name>/get and <name>/<attribute>/get: fresh state arrives as a report; only failures are answered.
  void on_get(const std::string& name);
  // A set that could not even be read (the inbound adapter caught an exception).
  void answer_unreadable(const std::string& name);

 private:
  void set_(const std::string& name, nlohmann::json command);
  void answer_(const std::string& name, const Status& st, const std::optional<nlohmann::json>& transaction,
               const nlohmann::json& written);
  // Completion of a write, answered under the device's current name (it may be renamed meanwhile).
  CloudPort::Done answer_later_(const std::string& id, std::optional<nlohmann::json> transaction,
                                nlohmann::json written);

  Deps deps_;
  std::shared_ptr<bool> alive_;
};

}  // namespace t2m::gw

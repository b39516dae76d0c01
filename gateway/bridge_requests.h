// bridge/request/<path> → registry operations → bridge/response/<path> with the transaction echoed
// (zigbee2mqtt's request/response convention, docs/conventions.md): device/rename, device/add,
// device/remove, device/options, scan, health_check, info, devices, and the firmware requests the cloud
// answers later (device/ota_update/check|update). To add a request: one branch in handle_() and one
// function here (docs/architecture.md §6). Loop thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "gateway/cloud_port.h"
#include "gateway/device_registry.h"
#include "gateway/discovery_listener.h"
#include "gateway/state_publisher.h"
#include "mqtt/client.h"
#include "mqtt/publisher.h"
#include "mqtt/topics.h"

namespace t2m::gw {

class BridgeRequests {
 public:
  struct Deps {
    DeviceRegistry& registry;
    StatePublisher& state;
    mqtt::Publisher& publisher;
    mqtt::Client& client;  // health_check reports whether the broker link is up
    const mqtt::Topics& topics;
    CloudPort* cloud = nullptr;                // null: no cloud section
    AnnouncementRequester* scanner = nullptr;  // null: UDP discovery off
  };
  explicit BridgeRequests(Deps deps);
  ~BridgeRequests();
  BridgeRequests(const BridgeRequests&) = delete;
  BridgeRequests& operator=(const BridgeRequests&) = delete;

  void on_request(const std::string& path, const std::string& payload);
  // The bridge/request/health_check answer.
  nlohmann::json health() const;

 private:
  Result<nlohmann::json> handle_(const std::string& path, const nlohmann::json& data);
  void respond_(const std::string& path, const Result<nlohmann::json>& r, const nlohmann::json& transaction);
  Result<nlohmann::json> rename_(const nlohmann::json& data);
  Result<nlohmann::json> add_(const nlohmann::json& data);
  Result<nlohmann::json> remove_(const nlohmann::json& data);
  Result<nlohmann::json> options_(const nlohmann::json& data);
  Result<nlohmann::json> scan_(const nlohmann::json& data);

  Deps deps_;
  std::shared_ptr<bool> alive_;
};

}  // namespace t2m::gw

// What the MQTT handlers may ask of the Tuya cloud, as one interface: CloudLink implements it, tests fake
// it, and a gateway without a cloud section passes none. The handlers call it; it never calls them.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace t2m::gw {

class CloudPort {
 public:
  using Done = std::function<void(const Status&)>;
  using Respond = std::function<void(Result<nlohmann::json>)>;
  virtual ~CloudPort() = default;
  // The LAN session is down: send these wire DPs through the cloud. False when the cloud cannot take
  // them (cloud commands not allowed, or a DP without a code); then `done` is never called.
  virtual bool send_command(const std::string& id, const nlohmann::json& wire_dps, Done done) = 0;
  // bridge/request/device/ota_update/<check|update>; `respond` is called once.
  virtual void firmware_request(const std::string& path, const nlohmann::json& data, Respond respond) = 0;
  // What health_check reports under "cloud" (push channel state and counters).
  virtual nlohmann::json health() const = 0;
};

}  // namespace t2m::gw

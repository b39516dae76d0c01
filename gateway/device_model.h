// What the bridge needs to know about a device's DPs: names, types, scales and ranges, and the two
// conversions done on every message (device dps -> MQTT state, MQTT command -> device dps).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/config.h"
#include "protocol/dps.h"

namespace t2m::gw {

struct DpInfo {
  std::string id;    // "1"
  std::string code;  // "switch_1"; empty when unknown
  std::optional<proto::DpSpec> spec;
  bool read_only = false;
};

class DeviceModel {
 public:
  // Sources in order: the config's per-DP overrides, the cloud specification saved in the device list.
  static DeviceModel build(const config::DeviceConfig& cfg);

  // {"<code or id>": real value, ..., "dps": {raw wire dps}} for every DP in `dps`.
  nlohmann::json to_state(const nlohmann::json& dps) const;
  // A command object keyed by codes or DP ids -> wire dps, validated. Errors name the DP and say what
  // is allowed. Keys that are not DPs (e.g. "transaction") must be removed by the caller.
  Result<nlohmann::json> to_dps(const nlohmann::json& command) const;
  // "switch_1" or "1" -> "1".
  std::optional<std::string> dp_id(std::string_view code_or_id) const;
  // For bridge/devices: every known DP with its description.
  nlohmann::json describe() const;
  std::vector<std::string> dp_ids() const;

 private:
  std::map<std::string, DpInfo> by_id_;
  std::map<std::string, std::string, std::less<>> id_by_code_;
};

}  // namespace t2m::gw

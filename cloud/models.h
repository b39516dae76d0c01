// DTOs for the OpenAPI answers the gateway uses, parsed from JSON. Parsers accept both field casings
// Tuya has been seen to use, and turn every malformed answer into an Error (never an exception).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace t2m::cloud {

inline constexpr const char* ERR_MALFORMED = "cloud_malformed";

struct TokenInfo {
  std::string access_token;
  std::string refresh_token;
  int64_t expire_time_s = 0;
  std::string uid;  // the project's uid (not the app account's, see docs/cloud.md §10.1)
};

struct DeviceInfo {
  std::string id, name, local_key, category, product_id, product_name, uuid, uid, owner_id;
  std::string ip, mac, model, icon, biz_type, node_id, gateway_id, time_zone, sn;
  bool sub = false;
  std::optional<bool> online;
  int64_t active_time = 0, create_time = 0, update_time = 0;
  nlohmann::json status = nlohmann::json::array();  // [{code, value}]
};

// A page of a cursor-paginated listing; `cursor` is empty when the API gave none.
struct DevicePage {
  std::vector<DeviceInfo> devices;
  bool has_more = false;
  std::string cursor;
};

struct FactoryInfo {
  std::string id, mac, uuid, sn;
};

struct DpSpec {
  int dp_id = 0;  // 0 when the API did not say
  std::string code, type, name, desc;
  std::string mode = "rw";                           // "rw", "ro" (status only) or "wr"
  nlohmann::json values = nlohmann::json::object();  // always an object after parsing
  // Parsed from `values` for convenience.
  std::optional<double> min, max, step;
  int scale = 0;
  std::string unit;
  std::vector<std::string> range;   // Enum
  std::vector<std::string> labels;  // Bitmap
  std::optional<int> maxlen;
};

struct Specification {
  std::string category;
  std::vector<DpSpec> functions;  // writable
  std::vector<DpSpec> status;     // reported
  // Union by code, `mode` set from where each code appears.
  std::vector<DpSpec> merged() const;
};

struct ShadowProperty {
  std::string code, custom_name;
  int dp_id = 0;
  nlohmann::json value;
  int64_t time = 0;
};

struct FirmwareInfo {
  int channel = 0;
  std::string channel_desc;
  int upgrade_status = 0;  // see UpgradeStatus in ota.h
  std::string current_version, latest_version, desc, remind;
  bool can_upgrade = false;
  int timeout_s = 0;
  int upgrade_type = 0;
  int64_t last_upgrade_time = 0;
};

struct UpgradeProgress {
  int upgrade_status = 0;
  int progress = 0;
};

struct ReportLog {
  std::string code;
  std::string value;  // text as reported ("true", "123", "white")
  int64_t event_time = 0;
};

struct ReportLogPage {
  std::vector<ReportLog> logs;
  bool has_more = false;
  std::string last_row_key;
  int64_t total = 0;
};

Result<TokenInfo> parse_token(const nlohmann::json& result);
Result<DeviceInfo> parse_device(const nlohmann::json& j);
// `/v1.3/iot-03/devices` {list,...}, `/v1.0/iot-01/associated-users/devices` {devices,...},
// `/v2.0/devices` {devices,...} and plain arrays (`/v2.0/cloud/thing/device`, `/v1.0/users/{uid}/devices`).
Result<DevicePage> parse_device_page(const nlohmann::json& result);
Result<std::vector<FactoryInfo>> parse_factory_infos(const nlohmann::json& result);
Result<Specification> parse_specification(const nlohmann::json& result);
// `/v2.0/cloud/thing/{id}/model`: {"model": "<json text>"}; abilityId is the DP id.
Result<std::vector<DpSpec>> parse_thing_model(const nlohmann::json& result);
Result<std::vector<ShadowProperty>> parse_shadow_properties(const nlohmann::json& result);
Result<std::vector<FirmwareInfo>> parse_firmware_list(const nlohmann::json& result);
Result<UpgradeProgress> parse_upgrade_progress(const nlohmann::json& result);
Result<ReportLogPage> parse_report_logs(const nlohmann::json& result);
// `values` may be a JSON-encoded string or an object; fills the convenience fields of `spec`.
void apply_values(DpSpec& spec, const nlohmann::json& values);
// "a4cf12000002" or "A4-CF-..." -> "a4:cf:12:00:00:02"; anything else unchanged.
std::string normalize_mac(std::string_view mac);

}  // namespace t2m::cloud

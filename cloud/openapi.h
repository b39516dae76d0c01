// The Tuya OpenAPI endpoint catalogue: typed calls (devices, listings, specifications, control,
// firmware, history) over an OpenApiChannel, which signs, queues, rate-limits and retries them
// (openapi_channel.h). Each call knows its path, its parameters, its fallbacks between API families and
// how to parse its answer (models.h); none keeps state beyond the call. Loop thread only; callbacks are
// never invoked from inside the call that started them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cloud/models.h"
#include "cloud/openapi_channel.h"

namespace t2m::cloud {

class OpenApi {
 public:
  // Owns its channel; the arguments are the channel's.
  OpenApi(HttpClient& http, Timers& timers, CloudConfig config, NonceSource nonce = random_nonce_source())
      : channel_(http, timers, std::move(config), std::move(nonce)) {}
  OpenApi(const OpenApi&) = delete;
  OpenApi& operator=(const OpenApi&) = delete;

  // Tokens, generic calls, state and statistics.
  OpenApiChannel& channel() { return channel_; }
  const OpenApiChannel& channel() const { return channel_; }

  // --- devices ---
  void get_device(const std::string& id, Callback<DeviceInfo> cb);
  // Every device of the app account `owner_uid` (v1.3 listing, falls back to /v1.0/users/{uid}/devices),
  // plus the project-wide listings (v2.0 thing list, associated users) merged by id.
  void list_devices(const std::string& owner_uid, Callback<std::vector<DeviceInfo>> cb);
  // One listing API, every page (guards: repeated or empty cursor, de-duplication by id).
  enum class Listing { THING_V2, IOT03_V13, ASSOCIATED_USERS, USER_V1 };
  void list_devices_with(Listing api, const std::string& owner_uid, Callback<std::vector<DeviceInfo>> cb);
  void factory_infos(const std::vector<std::string>& ids, Callback<std::vector<FactoryInfo>> cb);
  void get_status(const std::string& id, JsonCallback cb);
  // Batch status (≤ 20 ids per call, split as needed): device id -> [{code, value}].
  void get_statuses(const std::vector<std::string>& ids, Callback<std::map<std::string, nlohmann::json>> cb);
  // For the gateway when a device's key stops working: the current local key.
  void refresh_local_key(const std::string& id, Callback<std::string> cb);

  // --- specifications ---
  // v1.1 specifications (dp_id); when a code lacks a dp_id, the thing model and then the shadow
  // properties fill it in. 2009 (no DPs) gives an empty specification, not an error.
  void get_specification(const std::string& id, Callback<Specification> cb);
  void get_thing_model(const std::string& id, Callback<std::vector<DpSpec>> cb);
  void get_shadow_properties(const std::string& id, const std::vector<std::string>& codes,
                             Callback<std::vector<ShadowProperty>> cb);

  // --- control (LAN fallback) ---
  // {"code": value, ...}; falls back from /v1.0/devices to /v1.0/iot-03/devices on 1106/1108.
  void send_commands(const std::string& id, const nlohmann::json& code_values, Callback<bool> cb);
  void issue_properties(const std::string& id, const nlohmann::json& code_values, Callback<bool> cb);

  // --- firmware (see ota.h for the state machine) ---
  void get_firmware(const std::string& id, Callback<std::vector<FirmwareInfo>> cb);
  void start_firmware_upgrade(const std::string& id, int channel, Callback<bool> cb);
  void get_upgrade_progress(const std::string& id, int channel, Callback<UpgradeProgress> cb);

  // --- history ---
  void get_report_logs(const std::string& id, const std::vector<std::string>& codes, int64_t start_ms,
                       int64_t end_ms, int size, const std::string& last_row_key, Callback<ReportLogPage> cb);

 private:
  struct Walk;
  void walk_page(const std::shared_ptr<Walk>& w, const std::string& cursor);

  OpenApiChannel channel_;
};

}  // namespace t2m::cloud

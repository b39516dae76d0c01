// Setup wizard and history command: `tuya2mqtt wizard` fetches the account's devices, local keys and
// DP mappings and writes a device list (a superset of tinytuya's devices.json, owner-readable only);
// `--refresh` updates keys of re-paired devices and reports what changed. `tuya2mqtt history` exports
// report logs to CSV. Both entry points create their own uv loop; no secret is ever printed.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "cloud/models.h"
#include "cloud/openapi.h"

namespace t2m::cloud {

inline constexpr const char* ERR_WIZARD_FILE = "cloud_wizard_file";

// tinytuya "mapping": {"<dp_id>": {"code", "type", "values"}} for every spec entry with a DP id.
nlohmann::json mapping_from_spec(const Specification& spec);
// One device-list entry with tinytuya's keys (name, id, key, mac, uuid, category, product_name,
// product_id, biz_type, model, sub, icon, ip, version, mapping, node_id, parent) plus "online".
// `ip` and `version` are LAN facts the cloud does not know: they start empty (the gateway's
// discovery fills them) and are kept from the previous file on refresh.
nlohmann::json device_list_entry(const DeviceInfo& d, const nlohmann::json& mapping);

struct DeviceListChange {
  enum class Kind { ADDED, REMOVED, KEY_CHANGED, RENAMED };
  Kind kind;
  std::string id;
  std::string name;
  std::string detail;  // e.g. the old name; never a key
};
std::string to_string(DeviceListChange::Kind k);

// Merges a fresh list into the previous one: fresh cloud facts win, LAN facts (ip, version) and any
// extra keys the user added are kept, devices gone from the cloud are kept (and reported).
nlohmann::json merge_device_lists(const nlohmann::json& old_list, const nlohmann::json& fresh,
                                  std::vector<DeviceListChange>& changes);

// Reads a device list (array, or {"devices": [...]}) — an absent file is an empty list.
Result<nlohmann::json> read_device_list(const std::string& path);
// Writes `content` to `path` atomically (temp file + rename) with mode 0600.
Status write_private_file(const std::string& path, const std::string& content);

struct WizardOptions {
  std::string device_id;  // one device of the app account, to learn the owner uid (docs/cloud.md §10.1)
  std::string user_id;    // or the app account uid itself
  std::string out_path = "devices.json";
  bool refresh = false;
  bool with_specs = true;
};

struct WizardReport {
  std::string owner_uid;
  size_t devices = 0;
  size_t sub_devices = 0;
  size_t with_mapping = 0;
  size_t spec_failures = 0;
  std::vector<DeviceListChange> changes;
};

void run_wizard(OpenApi& api, const WizardOptions& options, Callback<WizardReport> cb);

// Command-line entry points for the `tuya2mqtt` binary. Return the process exit code.
int wizard_main(int argc, char** argv);
int history_main(int argc, char** argv);

}  // namespace t2m::cloud

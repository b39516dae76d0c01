// The device list the wizard writes (a superset of tinytuya's devices.json, owner-readable only): one
// entry per device from its cloud details and DP mapping, the merge of a refreshed list into the
// previous one, and reading and atomically writing the file. No network, no loop.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "cloud/models.h"
#include "common/result.h"

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

// The string at `key` of an object, empty when absent or not a string: device lists and config files
// are edited by hand, so a wrong type is treated as missing rather than as an error.
std::string json_string(const nlohmann::json& j, const char* key);

}  // namespace t2m::cloud

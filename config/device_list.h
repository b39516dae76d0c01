// Import of a device list file: tinytuya's devices.json as it is (the output of `python -m tinytuya
// wizard`), so that a tinytuya user switches in one step.
//
// tinytuya writes an array of objects such as
//   {"name": "Kitchen Plug", "id": "bf...", "key": "0123456789abcdef", "ip": "192.168.1.20",
//    "version": "3.3", "category": "cz", "product_id": "keyjup78v54myhan", "product_name": "Smart Plug",
//    "mapping": {"1": {"code": "switch_1", "type": "Boolean", "values": {}}, ...},
//    "sub": false, "node_id": "...", "parent": "<gateway id>", "mac": "...", "uuid": "...", ...}
// Sub-devices (sub: true, or a node_id with a parent/gateway_id) become devices with cid = node_id.
// Fields the gateway has no use for (mac, uuid, icon, biz_type, ...) are ignored. An object of the form
// {"devices": [...]} is accepted too.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace t2m::config {

struct DeviceListEntry {
  std::string path;      // "device_list[3]"
  nlohmann::json entry;  // the entry converted to the config's "devices" form (local_key, address, cid, ...)
};

struct DeviceListImport {
  std::vector<DeviceListEntry> entries;
  ConfigIssues issues;      // entries that cannot be read at all
  ConfigWarnings warnings;  // entries fixed up (duplicate names, unusable names) or skipped
};

// Converts the list. Names are made usable as MQTT topic levels: wildcards are replaced by '_'; a
// name already used by an earlier entry falls back to the device id (with a warning), since real lists
// often hold several "Smart Plug"s.
DeviceListImport import_device_list(const nlohmann::json& list);

}  // namespace t2m::config

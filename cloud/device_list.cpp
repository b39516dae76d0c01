#include "cloud/device_list.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/atomic_file.h"

namespace t2m::cloud {

using nlohmann::json;

std::string json_string(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return {};
  const json& v = j.at(key);
  return v.is_string() ? v.get_ref<const std::string&>() : std::string();
}

json mapping_from_spec(const Specification& spec) {
  json mapping = json::object();
  for (const auto& d : spec.merged()) {
    if (d.dp_id <= 0) continue;
    mapping[std::to_string(d.dp_id)] = {{"code", d.code}, {"type", d.type}, {"values", d.values}};
  }
  return mapping;
}

json device_list_entry(const DeviceInfo& d, const json& mapping) {
  json e = {{"name", d.name},
            {"id", d.id},
            {"key", d.local_key},
            {"mac", d.mac},
            {"uuid", d.uuid},
            {"category", d.category},
            {"product_name", d.product_name},
            {"product_id", d.product_id},
            {"biz_type", d.biz_type},
            {"model", d.model},
            {"sub", d.sub},
            {"icon", d.icon},
            {"ip", ""},
            {"version", ""},
            {"mapping", mapping.is_object() ? mapping : json::object()}};
  if (!d.node_id.empty()) e["node_id"] = d.node_id;
  if (!d.gateway_id.empty() && d.gateway_id != d.id) e["parent"] = d.gateway_id;
  if (d.online) e["online"] = *d.online;
  return e;
}

std::string to_string(DeviceListChange::Kind k) {
  switch (k) {
    case DeviceListChange::Kind::ADDED:
      return "added";
    case DeviceListChange::Kind::REMOVED:
      return "no longer in the cloud (kept)";
    case DeviceListChange::Kind::KEY_CHANGED:
      return "local key changed";
    case DeviceListChange::Kind::RENAMED:
      return "renamed";
  }
  return "changed";
}

json merge_device_lists(const json& old_list, const json& fresh, std::vector<DeviceListChange>& changes) {
  std::map<std::string, json> old_by_id;
  std::vector<std::string> old_order;
  if (old_list.is_array()) {
    for (const auto& o : old_list) {
      const std::string id = json_string(o, "id");
      if (id.empty() || old_by_id.count(id)) continue;
      old_by_id[id] = o;
      old_order.push_back(id);
    }
  }
  json out = json::array();
  std::set<std::string> seen;
  for (const auto& f : fresh) {
    const std::string id = json_string(f, "id");
    seen.insert(id);
    auto it = old_by_id.find(id);
    if (it == old_by_id.end()) {
      changes.push_back({DeviceListChange::Kind::ADDED, id, json_string(f, "name"), ""});
      out.push_back(f);
      continue;
    }
    json merged = it->second;
    std::string old_key = json_string(merged, "key");
    if (old_key.empty()) old_key = json_string(merged, "local_key");
    const std::string old_name = json_string(merged, "name");
    for (const auto& [k, v] : f.items()) {
      // LAN facts the cloud does not know survive a refresh.
      if ((k == "ip" || k == "version") && v.is_string() && v.get_ref<const std::string&>().empty() &&
          !json_string(merged, k.c_str()).empty()) {
        continue;
      }
      // A failed specification fetch must not wipe a mapping that was fine before.
      if (k == "mapping" && v.is_object() && v.empty() && merged.contains("mapping") &&
          merged["mapping"].is_object() && !merged["mapping"].empty()) {
        continue;
      }
      merged[k] = v;
    }
    if (merged.contains("local_key") && !json_string(f, "key").empty()) merged.erase("local_key");
    if (!old_key.empty() && old_key != json_string(f, "key")) {
      changes.push_back({DeviceListChange::Kind::KEY_CHANGED, id, json_string(f, "name"), ""});
    }
    if (old_name != json_string(f, "name")) {
      changes.push_back(
          {DeviceListChange::Kind::RENAMED, id, json_string(f, "name"), "was \"" + old_name + "\""});
    }
    out.push_back(std::move(merged));
  }
  for (const auto& id : old_order) {
    if (seen.count(id)) continue;
    changes.push_back({DeviceListChange::Kind::REMOVED, id, json_string(old_by_id[id], "name"), ""});
    out.push_back(old_by_id[id]);
  }
  return out;
}

Result<json> read_device_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) return json::array();
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return fail(ERR_WIZARD_FILE, path + " is not valid JSON");
  if (j.is_object() && j.contains("devices")) j = j["devices"];
  if (!j.is_array()) return fail(ERR_WIZARD_FILE, path + " is not a device list (expected an array)");
  return j;
}

Status write_private_file(const std::string& path, const std::string& content) {
  auto st = write_file_atomically(path, content, OWNER_ONLY_FILE_MODE);
  if (!st.ok()) return fail(ERR_WIZARD_FILE, st.error().message);
  return {};
}

}  // namespace t2m::cloud

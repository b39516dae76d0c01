#include "config/device_list.h"

#include <map>
#include <set>

namespace t2m::config {
namespace {

using nlohmann::json;

std::string str(const json& obj, const char* key) {
  if (!obj.contains(key)) return {};
  const json& v = obj.at(key);
  if (v.is_string()) return v.get<std::string>();
  return {};
}

// Topic-safe name: MQTT wildcards and NUL replaced, stray slashes at the ends removed.
std::string usable_name(std::string name) {
  for (char& c : name) {
    if (c == '+' || c == '#' || c == '\0') c = '_';
  }
  while (!name.empty() && (name.front() == '/' || name.front() == ' ')) name.erase(name.begin());
  while (!name.empty() && (name.back() == '/' || name.back() == ' ')) name.pop_back();
  return name;
}

// "Unknown" address values written by the wizard when a device was not found on the LAN.
bool no_address(const std::string& ip) {
  return ip.empty() || ip == "0.0.0.0";
}

}  // namespace

DeviceListImport import_device_list(const json& list_in) {
  DeviceListImport out;
  const json* list = &list_in;
  if (list_in.is_object() && list_in.contains("devices")) list = &list_in.at("devices");
  if (!list->is_array()) {
    out.issues.push_back({"device_list", "must be an array of devices (tinytuya devices.json)"});
    return out;
  }
  std::set<std::string> names;
  std::map<std::string, std::string> gateway_by_key;  // local key -> id of a non-sub device with that key
  struct Pending {
    size_t index;
    std::string key;
  };
  std::vector<Pending> orphans;  // sub-devices without a parent: resolved by key after the first pass

  for (size_t i = 0; i < list->size(); ++i) {
    const std::string path = "device_list[" + std::to_string(i) + "]";
    const json& src = (*list)[i];
    if (!src.is_object()) {
      out.issues.push_back({path, "must be an object"});
      continue;
    }
    const std::string id = str(src, "id");
    if (id.empty()) {
      out.issues.push_back({path + ".id", "is required"});
      continue;
    }
    json e = json::object();
    e["id"] = id;
    const std::string key = str(src, "key");
    const std::string node_id = str(src, "node_id");
    std::string parent = str(src, "parent");
    if (parent.empty()) parent = str(src, "gateway_id");
    const bool sub = (src.contains("sub") && src["sub"].is_boolean() && src["sub"].get<bool>()) ||
                     (!node_id.empty() && !parent.empty());
    if (sub) {
      if (node_id.empty()) {
        out.warnings.push_back(path + ": sub-device without node_id, skipped");
        continue;
      }
      e["cid"] = node_id;
      if (!parent.empty()) {
        e["parent"] = parent;
      } else {
        orphans.push_back({out.entries.size(), key});
      }
    } else if (!key.empty()) {
      e["local_key"] = key;
      gateway_by_key.emplace(key, id);
    }
    std::string name = usable_name(str(src, "name"));
    if (!name.empty()) {
      if (names.count(name)) {
        out.warnings.push_back(path + ".name: \"" + name + "\" is used by an earlier device; using the id " +
                               id);
      } else {
        names.insert(name);
        e["name"] = name;
      }
    }
    const std::string ip = str(src, "ip");
    if (!no_address(ip) && !sub) e["address"] = ip;
    if (src.contains("version")) {
      const json& v = src["version"];
      if (v.is_string() && !v.get<std::string>().empty()) e["version"] = v;
      if (v.is_number()) e["version"] = v;
    }
    for (const char* k : {"category", "product_id", "product_name"}) {
      if (const std::string s = str(src, k); !s.empty()) e[k] = s;
    }
    if (src.contains("mapping") && src["mapping"].is_object()) e["mapping"] = src["mapping"];
    out.entries.push_back({path, std::move(e)});
  }
  for (const auto& o : orphans) {
    auto it = gateway_by_key.find(o.key);
    if (!o.key.empty() && it != gateway_by_key.end()) {
      // Sub-devices share their gateway's local key: the same guess tinytuya's wizard makes.
      out.entries[o.index].entry["parent"] = it->second;
    } else {
      out.warnings.push_back(out.entries[o.index].path +
                             ": sub-device without parent/gateway_id; set \"parent\"");
    }
  }
  return out;
}

}  // namespace t2m::config

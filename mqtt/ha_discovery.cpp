// HA discovery: the device envelope (device block, origin, which components a device gets, removed
// components), the bridge device, ids and topics. The component payloads are ha_components.cpp.
#include "mqtt/ha_discovery.h"

#include <algorithm>
#include <cctype>

#include "mqtt/ha_components.h"
#include "mqtt/topics.h"

namespace t2m::mqtt::ha {
namespace {

using detail::AVAILABILITY_TEMPLATE;
using model::humanize;
using detail::slug;
using nlohmann::json;

std::string sanitize(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += (std::isalnum(u) || c == '_' || c == '-') ? c : '_';
  }
  return out;
}

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

class Builder {
 public:
  Builder(const DeviceInfo& info, const Options& o)
      : info_(info), cfg_(*info.config), model_(*info.model), o_(o), components_(info, o) {}

  json run(const std::vector<std::pair<std::string, std::string>>& removed) {
    json comps = json::object();
    for (const auto& e : model_.entities) {
      json c = components_.entity(e);
      if (!c.is_null()) comps[e.key] = std::move(c);
    }
    comps["refresh"] = components_.refresh_button();
    if (info_.firmware_update) comps["firmware"] = components_.update_entity();
    for (const auto& [id, d] : model_.dps) {
      if (!is_action_dp(d)) continue;
      EventEntity ev{d.property(), humanize(d.property()), d.spec.range, "button"};
      comps[entity_key_of(d) + "_action"] = components_.event_entity(ev, entity_key_of(d) + "_action");
    }
    for (const auto& ev : info_.events)
      comps[ev.key + "_event"] = components_.event_entity(ev, ev.key + "_event");
    for (const auto& [key, platform] : removed) {
      if (!comps.contains(key)) comps[key] = json{{"platform", platform}};
    }
    return json{{"device", device_block()}, {"origin", origin_block(o_)}, {"components", std::move(comps)}};
  }

  static json origin_block(const Options& o) {
    json j{{"name", std::string(ORIGIN_NAME)}};
    if (!o.version.empty()) j["sw_version"] = o.version;
    if (!o.support_url.empty()) j["support_url"] = o.support_url;
    return j;
  }

 private:
  static std::string entity_key_of(const model::DpDescription& d) {
    std::string out;
    for (char c : d.property()) {
      const auto u = static_cast<unsigned char>(c);
      out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '_';
    }
    return out;
  }

  json device_block() const {
    json d{{"identifiers", json::array({device_identifier(cfg_)})},
           {"name", cfg_.display_name()},
           {"manufacturer", std::string(MANUFACTURER)}};
    std::string model = cfg_.product_name;
    if (model.empty()) model = "Tuya device";
    if (!cfg_.category.empty()) model += " (" + cfg_.category + ")";
    d["model"] = model;
    if (!cfg_.product_id.empty()) d["model_id"] = cfg_.product_id;
    if (!info_.firmware_version.empty()) d["sw_version"] = info_.firmware_version;
    if (cfg_.is_sub_device() && !cfg_.parent.empty()) {
      config::DeviceConfig parent;
      parent.id = cfg_.parent;
      d["via_device"] = device_identifier(parent);
    } else {
      d["via_device"] = bridge_identifier(o_);
    }
    return d;
  }

  const DeviceInfo& info_;
  const config::DeviceConfig& cfg_;
  const model::DerivedModel& model_;
  const Options& o_;
  detail::ComponentBuilder components_;
};

}  // namespace

std::string jinja_string(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string device_identifier(const config::DeviceConfig& device) {
  std::string id = std::string(IDENTIFIER_PREFIX) + sanitize(device.id);
  if (device.is_sub_device()) id += "_" + sanitize(device.cid);
  return id;
}

std::string bridge_identifier(const Options& options) {
  return std::string(IDENTIFIER_PREFIX) + "bridge_" + sanitize(options.base_topic);
}

std::string discovery_topic(const Options& options, const config::DeviceConfig& device) {
  std::string object = std::string(OBJECT_ID_PREFIX) + sanitize(device.id);
  if (device.is_sub_device()) object += "_" + sanitize(device.cid);
  return options.prefix + "/device/" + object + "/config";
}

std::string bridge_discovery_topic(const Options& options) {
  return options.prefix + "/device/" + bridge_identifier(options) + "/config";
}

std::string unique_id(const config::DeviceConfig& device, std::string_view entity_key) {
  std::string id = sanitize(device.id);
  if (device.is_sub_device()) id += "_" + sanitize(device.cid);
  return id + "_" + std::string(entity_key);
}

std::string action_topic(const Options& options, std::string_view friendly_name) {
  return options.base_topic + "/" + std::string(friendly_name) + "/action";
}

json device_discovery(const DeviceInfo& info, const Options& options,
                      const std::vector<std::pair<std::string, std::string>>& removed) {
  if (!info.config || !info.model) return nullptr;
  return Builder(info, options).run(removed);
}

json bridge_discovery(const Options& options, const std::vector<std::string>& scenes) {
  const Topics topics(options.base_topic);
  const std::string id = bridge_identifier(options);
  const json bridge_only = json::array(
      {json{{"topic", topics.bridge_state()}, {"value_template", std::string(AVAILABILITY_TEMPLATE)}}});
  auto base = [&](std::string_view platform, std::string_view key, std::string_view name) {
    const std::string entity = "tuya2mqtt_bridge_" + slug(options.base_topic) + "_" + std::string(key);
    return json{{"platform", std::string(platform)},
                {"unique_id", id + "_" + std::string(key)},
                {"name", std::string(name)},
                {"object_id", entity},
                {"default_entity_id", std::string(platform) + "." + entity}};
  };
  json comps = json::object();
  json conn = base("binary_sensor", "connection_state", "Connection state");
  conn["state_topic"] = topics.bridge_state();
  conn["value_template"] = std::string(AVAILABILITY_TEMPLATE);
  conn["payload_on"] = "online";
  conn["payload_off"] = "offline";
  conn["device_class"] = "connectivity";
  conn["entity_category"] = "diagnostic";
  comps["connection_state"] = conn;
  json version = base("sensor", "version", "Version");
  version["state_topic"] = topics.bridge_info();
  version["value_template"] = "{{ value_json['version'] }}";
  version["entity_category"] = "diagnostic";
  version["availability"] = bridge_only;
  comps["version"] = version;
  json scan = base("button", "scan", "Scan for devices");
  scan["command_topic"] = topics.bridge_request("scan");
  scan["payload_press"] = "{}";
  scan["entity_category"] = "diagnostic";
  scan["availability"] = bridge_only;
  comps["scan"] = scan;
  if (!scenes.empty()) {
    json ev = base("event", "scene", "Scene");
    ev["state_topic"] = topics.bridge_event();
    ev["event_types"] = scenes;
    ev["value_template"] = "{% if value_json['type'] == " + jinja_string(SCENE_RUN_EVENT) +
                           " %}{{ {'event_type': value_json['data']['name']} | to_json }}{% endif %}";
    ev["availability"] = bridge_only;
    comps["scene"] = ev;
  }
  json device{{"identifiers", json::array({id})},
              {"name", options.base_topic == "tuya2mqtt" ? std::string("tuya2mqtt bridge")
                                                         : "tuya2mqtt bridge (" + options.base_topic + ")"},
              {"manufacturer", std::string(ORIGIN_NAME)},
              {"model", "Tuya to MQTT bridge"}};
  if (!options.version.empty()) device["sw_version"] = options.version;
  if (!options.support_url.empty()) device["configuration_url"] = options.support_url;
  return json{{"device", device}, {"origin", Builder::origin_block(options)}, {"components", comps}};
}

std::vector<std::pair<std::string, std::string>> components_of(const json& payload) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!payload.is_object() || !payload.contains("components") || !payload["components"].is_object())
    return out;
  for (const auto& [k, v] : payload["components"].items()) {
    if (v.is_object() && v.contains("platform") && v["platform"].is_string()) {
      out.emplace_back(k, v["platform"].get<std::string>());
    }
  }
  return out;
}

bool is_action_dp(const model::DpDescription& dp) {
  if (dp.spec.type != proto::DpType::ENUM || dp.writable || dp.code.empty()) return false;
  const std::string_view c = dp.code;
  auto between = [&](std::string_view head, std::string_view tail) {
    if (c.size() <= head.size() + tail.size()) return false;
    if (c.substr(0, head.size()) != head || c.substr(c.size() - tail.size()) != tail) return false;
    return digits(c.substr(head.size(), c.size() - head.size() - tail.size()));
  };
  return between("switch", "_value") || between("switch_type_", "") || between("switch_mode", "") ||
         between("scene_", "");
}

std::vector<json> events_from_report(const model::DerivedModel& model, const json& dps) {
  std::vector<json> out;
  if (!dps.is_object()) return out;
  for (const auto& [k, v] : dps.items()) {
    if (!digits(k) || k.size() > 3 || !v.is_string()) continue;
    const auto* d = model.find_dp(std::stoi(k));
    if (!d || !is_action_dp(*d)) continue;
    out.push_back(json{{std::string(EVENT_TYPE_KEY), v}, {std::string(EVENT_SOURCE_KEY), d->property()}});
  }
  return out;
}

}  // namespace t2m::mqtt::ha

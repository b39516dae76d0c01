// Writing a Config back: the document with its unknown keys and the current values (defaults omitted),
// the atomic owner-only save, and the run-time changes of bridge/request/device/* (add, options, remove).
#include "config/config.h"

#include <algorithm>

#include "common/atomic_file.h"
#include "config/config_internal.h"

namespace t2m::config {

using namespace detail;

json device_to_json(const DeviceConfig& device) {
  return device_json(device, DeviceConfig{});
}

json to_json(const Config& c) {
  json j = c.extra.is_object() ? c.extra : json::object();
  const MqttConfig dm;
  json m = j.contains("mqtt") && j["mqtt"].is_object() ? j["mqtt"] : json::object();
  put(m, "server", c.mqtt.server, c.mqtt.server == dm.server);
  put(m, "client_id", c.mqtt.client_id, c.mqtt.client_id == dm.client_id);
  put(m, "username", c.mqtt.username, c.mqtt.username.empty());
  put(m, "password", c.mqtt.password, c.mqtt.password.empty());
  if (c.mqtt.tls) {
    json t = m.contains("tls") && m["tls"].is_object() ? m["tls"] : json::object();
    const TlsConfig dt;
    put(t, "ca", c.mqtt.tls->ca, c.mqtt.tls->ca.empty());
    put(t, "cert", c.mqtt.tls->cert, c.mqtt.tls->cert.empty());
    put(t, "key", c.mqtt.tls->key, c.mqtt.tls->key.empty());
    put(t, "key_password", c.mqtt.tls->key_password, c.mqtt.tls->key_password.empty());
    put(t, "verify_hostname", c.mqtt.tls->verify_hostname, c.mqtt.tls->verify_hostname == dt.verify_hostname);
    m["tls"] = t;
  } else {
    m.erase("tls");
  }
  put(m, "base_topic", c.mqtt.base_topic, c.mqtt.base_topic == dm.base_topic);
  put(m, "keepalive", c.mqtt.keepalive.count(), c.mqtt.keepalive == dm.keepalive);
  put(m, "plain_topics", c.mqtt.plain_topics, c.mqtt.plain_topics == dm.plain_topics);
  put(m, "retain", c.mqtt.retain, c.mqtt.retain == dm.retain);
  if (!m.empty() || j.contains("mqtt")) j["mqtt"] = m;

  const HomeAssistantConfig dh;
  json h =
      j.contains("homeassistant") && j["homeassistant"].is_object() ? j["homeassistant"] : json::object();
  put(h, "enabled", c.homeassistant.enabled, c.homeassistant.enabled == dh.enabled);
  put(h, "discovery_prefix", c.homeassistant.discovery_prefix,
      c.homeassistant.discovery_prefix == dh.discovery_prefix);
  put(h, "status_topic", c.homeassistant.status_topic, c.homeassistant.status_topic == dh.status_topic);
  if (!h.empty() || j.contains("homeassistant")) j["homeassistant"] = h;

  if (c.cloud) {
    const CloudConfig dc;
    json cl = j.contains("cloud") && j["cloud"].is_object() ? j["cloud"] : json::object();
    cl["access_id"] = c.cloud->access_id;
    cl["access_secret"] = c.cloud->access_secret;
    put(cl, "region", c.cloud->region, c.cloud->region == dc.region);
    put(cl, "base_url", c.cloud->base_url, c.cloud->base_url.empty());
    put(cl, "user_id", c.cloud->user_id, c.cloud->user_id.empty());
    put(cl, "device_id", c.cloud->device_id, c.cloud->device_id.empty());
    put(cl, "allow_cloud_commands", c.cloud->allow_cloud_commands, !c.cloud->allow_cloud_commands);
    // Off and Pulsar keep the spelling the file used (older files have booleans); new ones are booleans.
    json push_value = std::string(to_string(c.cloud->push));
    if (c.cloud->push != PushTransport::OPENHUB && !(cl.contains("push") && cl["push"] == push_value))
      push_value = c.cloud->push == PushTransport::PULSAR;
    put(cl, "push", push_value, c.cloud->push == PushTransport::OFF);
    put(cl, "openhub_ca", c.cloud->openhub_ca, c.cloud->openhub_ca.empty());
    put(cl, "ota_poll_interval", duration_json(c.cloud->ota_poll_interval),
        c.cloud->ota_poll_interval == dc.ota_poll_interval);
    j["cloud"] = cl;
  } else {
    j.erase("cloud");
  }
  put(j, "log_level", c.log_level, c.log_level == DEFAULT_LOG_LEVEL);

  const DiscoveryConfig dd;
  json di = j.contains("discovery") && j["discovery"].is_object() ? j["discovery"] : json::object();
  put(di, "enabled", c.discovery.enabled, c.discovery.enabled == dd.enabled);
  put(di, "bind_address", c.discovery.bind_address, c.discovery.bind_address == dd.bind_address);
  put(di, "ports", c.discovery.ports, c.discovery.ports == dd.ports);
  put(di, "broadcast_target", c.discovery.broadcast_target, c.discovery.broadcast_target.empty());
  put(di, "request_interval", c.discovery.request_interval.count(),
      c.discovery.request_interval == dd.request_interval);
  if (!di.empty() || j.contains("discovery")) j["discovery"] = di;

  const SessionConfig ds;
  json se = j.contains("session") && j["session"].is_object() ? j["session"] : json::object();
  put(se, "connect_timeout", duration_json(c.session.connect_timeout),
      c.session.connect_timeout == ds.connect_timeout);
  put(se, "response_timeout", duration_json(c.session.response_timeout),
      c.session.response_timeout == ds.response_timeout);
  put(se, "reconnect_min", duration_json(c.session.reconnect_min),
      c.session.reconnect_min == ds.reconnect_min);
  put(se, "reconnect_max", duration_json(c.session.reconnect_max),
      c.session.reconnect_max == ds.reconnect_max);
  put(se, "offline_command_timeout", duration_json(c.session.offline_command_timeout),
      c.session.offline_command_timeout == ds.offline_command_timeout);
  if (!se.empty() || j.contains("session")) j["session"] = se;
  put(j, "device_list", c.device_list, c.device_list.empty());

  json devs = json::array();
  for (const auto& d : c.devices) {
    if (d.origin != DeviceOrigin::CONFIG) continue;
    auto listed = c.device_list_entries.find(d.id);
    devs.push_back(listed != c.device_list_entries.end() ? listed_device_json(d, listed->second)
                                                         : device_json(d, DeviceConfig{}));
  }
  if (!devs.empty() || j.contains("devices")) j["devices"] = devs;
  return j;
}

Result<DeviceConfig, ConfigIssues> update_device(Config& config, std::string_view id_or_name,
                                                 const json& options) {
  const DeviceConfig* old = config.find_device(id_or_name);
  if (!old) return fail(ConfigIssues{{"id", "no device is called \"" + std::string(id_or_name) + "\""}});
  if (!options.is_object()) return fail(ConfigIssues{{"options", "must be an object"}});
  if (options.contains("id") && options["id"] != old->id) {
    return fail(ConfigIssues{{"options.id", "the id of a device cannot change"}});
  }
  json entry = merge_entry(device_to_json(*old), options);
  // An option given under its tinytuya name replaces the canonical one.
  drop_replaced_by_alias(entry, options);
  auto parsed = parse_device(entry, "options");
  if (!parsed) return fail(parsed.error());
  DeviceConfig updated = *parsed;
  json written = old->extra.is_object() && !old->extra.empty() ? old->extra : json{{"id", old->id}};
  updated.extra = merge_entry(written, options);
  updated.origin = DeviceOrigin::CONFIG;
  updated.source_path = old->source_path;
  updated.list_path = old->list_path;
  Config next = config;
  *next.find_device(old->id) = updated;
  if (auto issues = validate(next); !issues.empty()) return fail(std::move(issues));
  config = std::move(next);
  return updated;
}

Result<DeviceConfig, ConfigIssues> add_device(Config& config, const json& entry) {
  auto parsed = parse_device(entry, "device");
  if (!parsed) return fail(parsed.error());
  Config next = config;
  next.devices.push_back(*parsed);
  next.devices.back().source_path = "device";
  if (auto issues = validate(next); !issues.empty()) return fail(std::move(issues));
  config = std::move(next);
  config.devices.back().source_path = "devices[" + std::to_string(config.devices.size() - 1) + "]";
  return config.devices.back();
}

bool remove_device(Config& config, std::string_view id) {
  auto it =
      std::find_if(config.devices.begin(), config.devices.end(), [&](const auto& d) { return d.id == id; });
  if (it == config.devices.end()) return false;
  if (config.device_list_entries.count(std::string(id))) {
    it->enabled = false;
    it->origin = DeviceOrigin::CONFIG;
    it->extra = json{{"id", std::string(id)}, {"enabled", false}};
    return true;
  }
  config.devices.erase(it);
  return true;
}

Status save_config(const Config& config, const std::string& path) {
  // Owner-only from the first byte: the file holds keys.
  auto st = write_file_atomically(path, to_json(config).dump(2) + "\n", OWNER_ONLY_FILE_MODE);
  if (!st.ok()) return fail("config_write", st.error().message);
  return {};
}

}  // namespace t2m::config

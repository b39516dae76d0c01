// Reading a configuration document into a Config: the sections, the devices (device list entries first,
// then the "devices" entries that override or extend them), and the scrubbing of secrets from every issue
// and warning. The values are checked by validate_config (config_validate.cpp) before a Config is returned.
#include "config/config.h"

#include <map>
#include <string>
#include <vector>

#include "common/log.h"
#include "config/config_internal.h"
#include "config/device_list.h"

namespace t2m::config {
namespace {

using namespace detail;

void parse_tls(Ctx& ctx, const json& j, const std::string& path, TlsConfig& tls) {
  if (!j.is_object()) {
    ctx.err(path, "must be an object");
    return;
  }
  check_unknown(ctx, j, path, {"ca", "cert", "key", "key_password", "verify_hostname"});
  get_string(ctx, j, "ca", path, tls.ca);
  get_string(ctx, j, "cert", path, tls.cert);
  get_string(ctx, j, "key", path, tls.key);
  get_string(ctx, j, "key_password", path, tls.key_password);
  get_bool(ctx, j, "verify_hostname", path, tls.verify_hostname);
}

void parse_mqtt(Ctx& ctx, const json& j, MqttConfig& m) {
  const std::string path = "mqtt";
  if (!j.is_object()) {
    ctx.err(path, "must be an object");
    return;
  }
  check_unknown(ctx, j, path,
                {"server", "client_id", "username", "password", "tls", "base_topic", "keepalive",
                 "plain_topics", "retain"});
  get_string(ctx, j, "server", path, m.server);
  get_string(ctx, j, "client_id", path, m.client_id);
  get_string(ctx, j, "username", path, m.username);
  get_string(ctx, j, "password", path, m.password);
  if (j.contains("tls") && !j["tls"].is_null()) {
    TlsConfig tls;
    parse_tls(ctx, j["tls"], join(path, "tls"), tls);
    m.tls = tls;
  }
  get_string(ctx, j, "base_topic", path, m.base_topic);
  get_seconds(ctx, j, "keepalive", path, m.keepalive);
  get_bool(ctx, j, "plain_topics", path, m.plain_topics);
  get_bool(ctx, j, "retain", path, m.retain);
}

void parse_ha(Ctx& ctx, const json& j, HomeAssistantConfig& h) {
  const std::string path = "homeassistant";
  if (j.is_boolean()) {  // "homeassistant": false is a common shorthand (zigbee2mqtt accepts it)
    h.enabled = j.get<bool>();
    return;
  }
  if (!j.is_object()) {
    ctx.err(path, "must be an object or a boolean");
    return;
  }
  check_unknown(ctx, j, path, {"enabled", "discovery_prefix", "status_topic"});
  get_bool(ctx, j, "enabled", path, h.enabled);
  get_string(ctx, j, "discovery_prefix", path, h.discovery_prefix);
  get_string(ctx, j, "status_topic", path, h.status_topic);
}

void parse_cloud(Ctx& ctx, const json& j, CloudConfig& c) {
  const std::string path = "cloud";
  if (!j.is_object()) {
    ctx.err(path, "must be an object");
    return;
  }
  check_unknown(ctx, j, path,
                {"access_id", "access_secret", "region", "base_url", "user_id", "device_id",
                 "allow_cloud_commands", "push", "openhub_ca", "ota_poll_interval"});
  get_string(ctx, j, "access_id", path, c.access_id);
  get_string(ctx, j, "access_secret", path, c.access_secret);
  get_string(ctx, j, "region", path, c.region);
  get_string(ctx, j, "base_url", path, c.base_url);
  get_string(ctx, j, "user_id", path, c.user_id);
  get_string(ctx, j, "device_id", path, c.device_id);
  get_bool(ctx, j, "allow_cloud_commands", path, c.allow_cloud_commands);
  if (auto it = j.find("push"); it != j.end() && !it->is_null()) {
    if (it->is_boolean()) {
      c.push = it->get<bool>() ? PushTransport::PULSAR : PushTransport::OFF;
    } else if (it->is_string() && it->get<std::string>() == "off") {
      c.push = PushTransport::OFF;
    } else if (it->is_string() && it->get<std::string>() == "pulsar") {
      c.push = PushTransport::PULSAR;
    } else if (it->is_string() && it->get<std::string>() == "openhub") {
      c.push = PushTransport::OPENHUB;
    } else {
      ctx.err(join(path, "push"),
              "must be \"off\", \"pulsar\" or \"openhub\" (got " +
                  (it->is_string() ? "\"" + it->get<std::string>() + "\"" : type_name(*it)) + ")");
    }
  }
  get_string(ctx, j, "openhub_ca", path, c.openhub_ca);
  get_millis(ctx, j, "ota_poll_interval", path, c.ota_poll_interval);
}

void parse_discovery(Ctx& ctx, const json& j, DiscoveryConfig& d) {
  const std::string path = "discovery";
  if (j.is_boolean()) {
    d.enabled = j.get<bool>();
    return;
  }
  if (!j.is_object()) {
    ctx.err(path, "must be an object or a boolean");
    return;
  }
  check_unknown(ctx, j, path, {"enabled", "bind_address", "ports", "broadcast_target", "request_interval"});
  get_bool(ctx, j, "enabled", path, d.enabled);
  get_string(ctx, j, "bind_address", path, d.bind_address);
  get_string(ctx, j, "broadcast_target", path, d.broadcast_target);
  get_seconds(ctx, j, "request_interval", path, d.request_interval);
  if (j.contains("ports") && !j["ports"].is_null()) {
    const json& ports = j["ports"];
    if (!ports.is_array()) {
      ctx.err(join(path, "ports"), "must be an array of port numbers");
    } else {
      d.ports.clear();
      for (size_t i = 0; i < ports.size(); ++i) {
        if (!ports[i].is_number_integer()) {
          ctx.err(index(join(path, "ports"), i), "must be a port number");
          continue;
        }
        const int64_t p = ports[i].get<int64_t>();
        // Devices broadcast to 6666/6667/7000, but a relay (or a test) may forward them to other ports.
        if (p < 1 || p > UINT16_MAX) {
          ctx.err(index(join(path, "ports"), i),
                  "must be a port number from 1 to 65535 (got " + std::to_string(p) + ")");
          continue;
        }
        d.ports.push_back(static_cast<uint16_t>(p));
      }
    }
  }
}

void parse_session(Ctx& ctx, const json& j, SessionConfig& s) {
  const std::string path = "session";
  if (!j.is_object()) {
    ctx.err(path, "must be an object");
    return;
  }
  check_unknown(
      ctx, j, path,
      {"connect_timeout", "response_timeout", "reconnect_min", "reconnect_max", "offline_command_timeout"});
  get_millis(ctx, j, "connect_timeout", path, s.connect_timeout);
  get_millis(ctx, j, "response_timeout", path, s.response_timeout);
  get_millis(ctx, j, "reconnect_min", path, s.reconnect_min);
  get_millis(ctx, j, "reconnect_max", path, s.reconnect_max);
  get_millis(ctx, j, "offline_command_timeout", path, s.offline_command_timeout);
}

Result<Config, ConfigIssues> parse_config_unscrubbed(const json& doc, const json& device_list,
                                                     ConfigWarnings* warnings) {
  Ctx ctx;
  ctx.warnings = warnings;
  Config c;
  if (!doc.is_object()) {
    ctx.err("", "the configuration must be a JSON object");
    return fail(ctx.issues);
  }
  c.extra = doc;
  check_unknown(
      ctx, doc, "",
      {"mqtt", "homeassistant", "cloud", "log_level", "discovery", "session", "device_list", "devices"});
  if (doc.contains("mqtt")) parse_mqtt(ctx, doc["mqtt"], c.mqtt);
  if (doc.contains("homeassistant")) parse_ha(ctx, doc["homeassistant"], c.homeassistant);
  if (doc.contains("cloud") && !doc["cloud"].is_null()) {
    CloudConfig cloud;
    parse_cloud(ctx, doc["cloud"], cloud);
    c.cloud = cloud;
  }
  get_string(ctx, doc, "log_level", "", c.log_level);
  if (doc.contains("discovery")) parse_discovery(ctx, doc["discovery"], c.discovery);
  if (doc.contains("session") && !doc["session"].is_null()) parse_session(ctx, doc["session"], c.session);
  get_string(ctx, doc, "device_list", "", c.device_list);

  // Device list entries first, in list order.
  std::map<std::string, json> list_json;  // id -> config-form JSON
  std::vector<std::string> list_order;
  if (!device_list.is_null()) {
    auto imported = import_device_list(device_list);
    for (auto& w : imported.warnings) ctx.warn("", w);
    for (auto& issue : imported.issues) ctx.issues.push_back(issue);
    for (auto& e : imported.entries) {
      Ctx sub;
      DeviceConfig d;
      parse_device_into(sub, e.entry, e.path, d);
      for (auto& i : sub.issues) ctx.issues.push_back(i);
      d.extra = json::object();
      d.list_path = e.path;
      d.origin = DeviceOrigin::DEVICE_LIST;
      if (d.id.empty() || list_json.count(d.id)) {
        if (!d.id.empty()) ctx.err(join(e.path, "id"), "duplicate id in the device list");
        continue;
      }
      list_json[d.id] = e.entry;
      list_order.push_back(d.id);
      c.device_list_entries[d.id] = d;
    }
  }
  std::map<std::string, DeviceConfig> overridden;
  std::vector<DeviceConfig> config_only;
  if (doc.contains("devices") && !doc["devices"].is_null()) {
    const json& devs = doc["devices"];
    if (!devs.is_array()) {
      ctx.err("devices", "must be an array");
    } else {
      for (size_t i = 0; i < devs.size(); ++i) {
        const std::string path = index("devices", i);
        const json& e = devs[i];
        std::string id;
        if (e.is_object() && e.contains("id") && e["id"].is_string()) id = e["id"].get<std::string>();
        auto listed = list_json.find(id);
        DeviceConfig d;
        if (listed != list_json.end() && !overridden.count(id)) {
          // Override/extend the list entry; issues use the config's path for the config's keys.
          Ctx sub;
          sub.warnings = ctx.warnings;
          parse_device_into(sub, merge_entry(listed->second, e), path, d);
          for (auto& issue : sub.issues) ctx.issues.push_back(issue);
          d.extra = e;
          d.source_path = path;
          d.list_path = c.device_list_entries[id].list_path;
          overridden[id] = d;
        } else {
          parse_device_into(ctx, e, path, d);
          config_only.push_back(d);
        }
      }
    }
  }
  for (const auto& id : list_order) {
    if (auto it = overridden.find(id); it != overridden.end()) {
      c.devices.push_back(it->second);
    } else {
      c.devices.push_back(c.device_list_entries[id]);
    }
  }
  for (auto& d : config_only) c.devices.push_back(std::move(d));

  validate_config(ctx, c);
  if (!ctx.issues.empty()) return fail(ctx.issues);
  return c;
}

// Every secret value in a document (keys, passwords, cloud secrets), wherever it sits.
void collect_secrets(const json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (v.is_string() && (k == "local_key" || k == "key" || k == "password" || k == "access_secret" ||
                            k == "key_password")) {
        out.push_back(v.get<std::string>());
      } else {
        collect_secrets(v, out);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) collect_secrets(v, out);
  }
}

// Defence in depth: messages are built without secrets, but a user may paste a key where a name or a
// JSON key belongs. Any secret that still shows up in a message is replaced by redact().
void scrub(std::string& text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    if (s.size() < 4) continue;  // too short to be a real secret; scrubbing would mangle words
    for (size_t at = text.find(s); at != std::string::npos; at = text.find(s, at)) {
      const std::string r = redact(s);
      text.replace(at, s.size(), r);
      at += r.size();
    }
  }
}

}  // namespace

Result<DeviceConfig, ConfigIssues> parse_device(const json& entry, const std::string& path) {
  Ctx ctx;
  DeviceConfig d;
  parse_device_into(ctx, entry, path, d);
  if (ctx.issues.empty()) validate_device(ctx, d);
  if (!ctx.issues.empty()) {
    std::vector<std::string> secrets;
    collect_secrets(entry, secrets);
    for (auto& i : ctx.issues) scrub(i.message, secrets);
    return fail(ctx.issues);
  }
  return d;
}

Result<Config, ConfigIssues> parse_config(const json& doc, const json& device_list,
                                          ConfigWarnings* warnings) {
  ConfigWarnings local_warnings;
  const size_t first_warning = warnings ? warnings->size() : 0;
  auto r = parse_config_unscrubbed(doc, device_list, warnings ? warnings : &local_warnings);
  std::vector<std::string> secrets;
  collect_secrets(doc, secrets);
  collect_secrets(device_list, secrets);
  if (warnings) {
    for (size_t i = first_warning; i < warnings->size(); ++i) scrub((*warnings)[i], secrets);
  }
  if (r) return r;
  ConfigIssues issues = r.error();
  for (auto& i : issues) {
    scrub(i.path, secrets);
    scrub(i.message, secrets);
  }
  return fail(std::move(issues));
}

}  // namespace t2m::config

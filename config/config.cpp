#include "config/config.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/log.h"
#include "config/device_list.h"

namespace t2m::config {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view VERSIONS[] = {"3.1", "3.2", "3.3", "3.4", "3.5", "auto"};
// tuya-local's "3.22" = protocol 3.3 with the device22 quirk (docs/conventions.md §3.5).
constexpr std::string_view VERSION_322 = "3.22";
constexpr std::string_view COMPONENTS[] = {"none", "sensor", "binary_sensor", "switch", "number",  "select",
                                           "text", "light",  "cover",         "fan",    "climate", "button"};
constexpr uint16_t MAX_PORT = 65535;
constexpr int64_t MS_PER_SECOND = 1000;
constexpr int64_t SECONDS_PER_MINUTE = 60;
constexpr int64_t SECONDS_PER_HOUR = 3600;
constexpr size_t MAX_HOSTNAME = 253;
// Owner read/write only: the file holds keys.
constexpr mode_t SECRET_FILE_MODE = 0600;
constexpr mode_t GROUP_OTHER_BITS = 0077;

// Collects issues and warnings while parsing.
struct Ctx {
  ConfigIssues issues;
  ConfigWarnings* warnings = nullptr;
  void err(const std::string& path, std::string msg) { issues.push_back({path, std::move(msg)}); }
  void warn(const std::string& path, const std::string& msg) {
    if (warnings) warnings->push_back(path.empty() ? msg : path + ": " + msg);
  }
};

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string type_name(const json& v) {
  return v.type_name();
}

void check_unknown(Ctx& ctx, const json& obj, const std::string& path,
                   std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : obj.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end())
      ctx.warn(join(path, k), "unknown key, ignored");
  }
}

bool get_string(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, std::string& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_string()) {
    ctx.err(join(path, key), "must be a string (got " + type_name(*it) + ")");
    return false;
  }
  out = it->get<std::string>();
  return true;
}

bool get_bool(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, bool& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    ctx.err(join(path, key), "must be true or false (got " + type_name(*it) + ")");
    return false;
  }
  out = it->get<bool>();
  return true;
}

bool get_int(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, int64_t& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (it->is_number_integer()) {
    out = it->get<int64_t>();
    return true;
  }
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (d == std::floor(d) && std::fabs(d) < 9e15) {
      out = static_cast<int64_t>(d);
      return true;
    }
  }
  ctx.err(join(path, key),
          "must be an integer (got " + (it->is_number() ? it->dump() : type_name(*it)) + ")");
  return false;
}

bool get_seconds(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, seconds& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  const auto ms = parse_duration(*it);
  if (!ms) {
    ctx.err(join(path, key), "must be a duration: seconds or a string such as \"10s\", \"5m\"");
    return false;
  }
  if (ms->count() % MS_PER_SECOND != 0) {
    ctx.err(join(path, key), "must be whole seconds");
    return false;
  }
  out = std::chrono::duration_cast<seconds>(*ms);
  return true;
}

bool get_millis(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, milliseconds& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  const auto ms = parse_duration(*it);
  if (!ms) {
    ctx.err(join(path, key), "must be a duration: seconds or a string such as \"250ms\", \"1s\"");
    return false;
  }
  out = *ms;
  return true;
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_hostname(const std::string& s) {
  if (s.empty() || s.size() > MAX_HOSTNAME || s.front() == '-' || s.front() == '.' || s.back() == '-')
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// MQTT topic levels: no wildcards, no empty levels at the ends.
std::string topic_problem(const std::string& t) {
  if (t.empty()) return "must not be empty";
  if (t.find_first_of("+#") != std::string::npos) return "must not contain MQTT wildcards '+' or '#'";
  if (t.front() == '/' || t.back() == '/') return "must not start or end with '/'";
  if (t.find("//") != std::string::npos) return "must not contain empty levels (\"//\")";
  if (t.find('\0') != std::string::npos) return "must not contain NUL";
  return {};
}

std::string format_duration(milliseconds ms) {
  if (ms.count() % MS_PER_SECOND == 0) return {};
  return std::to_string(ms.count()) + "ms";
}

json duration_json(milliseconds ms) {
  if (ms.count() % MS_PER_SECOND == 0) return json(ms.count() / MS_PER_SECOND);
  return json(format_duration(ms));
}

// Field names differ between the config ("local_key", "address", "cid") and tinytuya's devices.json
// ("key", "ip", "node_id"); issues name the field where the user actually wrote it.
std::string field(const DeviceConfig& d, std::string_view name) {
  std::string_view alias;
  if (name == "local_key") alias = "key";
  if (name == "address") alias = "ip";
  if (name == "cid") alias = "node_id";
  const bool in_config =
      d.extra.is_object() && (d.extra.contains(name) || (!alias.empty() && d.extra.contains(alias)));
  if (!d.list_path.empty() && !in_config) return join(d.list_path, alias.empty() ? name : alias);
  const std::string base = d.source_path.empty() ? std::string("device") : d.source_path;
  if (in_config && !alias.empty() && !d.extra.contains(name)) return join(base, alias);
  return join(base, name);
}

// ---------------------------------------------------------------------------------------------------
// Parsing sections

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

void parse_dp_override(Ctx& ctx, const json& j, const std::string& path, DpOverride& o) {
  if (!j.is_object()) {
    ctx.err(path, "must be an object");
    return;
  }
  check_unknown(ctx, j, path,
                {"code", "type", "scale", "unit", "min", "max", "step", "values", "max_len", "read_only",
                 "device_class", "state_class", "component", "name"});
  std::string s;
  if (get_string(ctx, j, "code", path, s)) {
    const bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!ok) {
      ctx.err(join(path, "code"), "must be letters, digits and '_' (got \"" + s + "\")");
    } else if (s == "dps" || s == "state") {
      ctx.err(join(path, "code"), "\"" + s + "\" is reserved");
    }
    o.code = s;
  }
  if (get_string(ctx, j, "type", path, s)) {
    o.type = proto::parse_dp_type(s);
    if (!o.type) {
      ctx.err(join(path, "type"),
              "must be one of bool, integer, enum, string, raw, bitmap, json (got \"" + s + "\")");
    }
  }
  int64_t i = 0;
  if (get_int(ctx, j, "scale", path, i)) {
    if (i < 0 || i > proto::DP_MAX_SCALE)
      ctx.err(join(path, "scale"), "must be 0..9 (got " + std::to_string(i) + ")");
    o.scale = static_cast<int>(i);
  }
  if (get_string(ctx, j, "unit", path, s)) o.unit = s;
  if (get_int(ctx, j, "min", path, i)) o.min = i;
  if (get_int(ctx, j, "max", path, i)) o.max = i;
  if (o.min && o.max && *o.min > *o.max) ctx.err(join(path, "min"), "must not be greater than max");
  if (get_int(ctx, j, "step", path, i)) {
    if (i <= 0) ctx.err(join(path, "step"), "must be positive (got " + std::to_string(i) + ")");
    o.step = i;
  }
  if (get_int(ctx, j, "max_len", path, i)) {
    if (i < 0) ctx.err(join(path, "max_len"), "must not be negative");
    o.max_len = static_cast<size_t>(std::max<int64_t>(i, 0));
  }
  if (j.contains("values") && !j["values"].is_null()) {
    const json& v = j["values"];
    std::vector<std::string> values;
    if (!v.is_array() || v.empty()) {
      ctx.err(join(path, "values"), "must be a non-empty array of strings");
    } else {
      for (size_t k = 0; k < v.size(); ++k) {
        if (!v[k].is_string()) {
          ctx.err(index(join(path, "values"), k), "must be a string");
        } else {
          values.push_back(v[k].get<std::string>());
        }
      }
    }
    o.values = values;
  }
  bool b = false;
  if (get_bool(ctx, j, "read_only", path, b)) o.read_only = b;
  if (get_string(ctx, j, "device_class", path, s)) o.device_class = s;
  if (get_string(ctx, j, "state_class", path, s)) o.state_class = s;
  if (get_string(ctx, j, "component", path, s)) {
    if (std::find(std::begin(COMPONENTS), std::end(COMPONENTS), s) == std::end(COMPONENTS)) {
      ctx.err(join(path, "component"),
              "must be one of none, sensor, binary_sensor, switch, number, select, text, light, cover, fan, "
              "climate, button (got \"" +
                  s + "\")");
    }
    o.component = s;
  }
  if (get_string(ctx, j, "name", path, s)) o.name = s;
}

std::optional<int> parse_dp_id(std::string_view key) {
  int id = 0;
  auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec != std::errc() || p != key.data() + key.size() || id < MIN_DP_ID || id > MAX_DP_ID)
    return std::nullopt;
  return id;
}

// First key of `names` present in `obj` (aliases such as local_key/key).
std::string_view present(const json& obj, std::initializer_list<std::string_view> names) {
  for (auto n : names) {
    if (obj.contains(n)) return n;
  }
  return *names.begin();
}

void parse_device_into(Ctx& ctx, const json& j, const std::string& path, DeviceConfig& d) {
  d.source_path = path;
  if (!j.is_object()) {
    ctx.err(path, "must be an object");
    return;
  }
  d.extra = j;
  check_unknown(ctx, j, path,
                {"id",
                 "local_key",
                 "key",
                 "address",
                 "ip",
                 "port",
                 "version",
                 "device22",
                 "name",
                 "enabled",
                 "poll_interval",
                 "heartbeat_interval",
                 "update_dps",
                 "update_dps_interval",
                 "max_dps_per_write",
                 "write_pacing",
                 "cid",
                 "node_id",
                 "parent",
                 "category",
                 "product_id",
                 "product_name",
                 "plain_topics",
                 "retain",
                 "passive",
                 "invert_position",
                 "kelvin_min",
                 "kelvin_max",
                 "dps",
                 "mapping"});
  if (!get_string(ctx, j, "id", path, d.id) && !j.contains("id")) ctx.err(join(path, "id"), "is required");
  get_string(ctx, j, present(j, {"local_key", "key"}), path, d.local_key);
  get_string(ctx, j, present(j, {"address", "ip"}), path, d.address);
  if (d.address.empty()) d.address = "auto";
  int64_t i = 0;
  if (get_int(ctx, j, "port", path, i)) {
    if (i < 1 || i > MAX_PORT)
      ctx.err(join(path, "port"), "must be 1..65535 (got " + std::to_string(i) + ")");
    d.port = static_cast<uint16_t>(std::clamp<int64_t>(i, 0, MAX_PORT));
  }
  if (j.contains("version") && j["version"].is_number()) {
    // 3.3 written as a number: read it as the string it means.
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2g", j["version"].get<double>());
    d.version = buf;
  } else {
    get_string(ctx, j, "version", path, d.version);
  }
  if (d.version.empty()) d.version = "auto";
  if (d.version == VERSION_322) {
    d.version = "3.3";
    d.device22 = true;
  }
  get_bool(ctx, j, "device22", path, d.device22);
  get_string(ctx, j, "name", path, d.name);
  get_bool(ctx, j, "enabled", path, d.enabled);
  get_seconds(ctx, j, "poll_interval", path, d.poll_interval);
  get_seconds(ctx, j, "heartbeat_interval", path, d.heartbeat_interval);
  get_seconds(ctx, j, "update_dps_interval", path, d.update_dps_interval);
  get_millis(ctx, j, "write_pacing", path, d.write_pacing);
  if (get_int(ctx, j, "max_dps_per_write", path, i)) {
    if (i < 0 || i > MAX_DP_ID) ctx.err(join(path, "max_dps_per_write"), "must be 0 (no limit) ..255");
    d.max_dps_per_write = static_cast<uint32_t>(std::clamp<int64_t>(i, 0, MAX_DP_ID));
  }
  if (j.contains("update_dps") && !j["update_dps"].is_null()) {
    const json& u = j["update_dps"];
    const std::string up = join(path, "update_dps");
    if (!u.is_array()) {
      ctx.err(up, "must be an array of DP ids");
    } else {
      for (size_t k = 0; k < u.size(); ++k) {
        std::optional<int> id;
        if (u[k].is_number_integer()) {
          const int64_t v = u[k].get<int64_t>();
          if (v >= MIN_DP_ID && v <= MAX_DP_ID) id = static_cast<int>(v);
        } else if (u[k].is_string()) {
          id = parse_dp_id(u[k].get<std::string>());
        }
        if (!id) {
          ctx.err(index(up, k), "must be a DP id 1..255 (got " + u[k].dump() + ")");
        } else {
          d.update_dps.push_back(*id);
        }
      }
    }
  }
  get_string(ctx, j, present(j, {"cid", "node_id"}), path, d.cid);
  get_string(ctx, j, "parent", path, d.parent);
  get_string(ctx, j, "category", path, d.category);
  get_string(ctx, j, "product_id", path, d.product_id);
  get_string(ctx, j, "product_name", path, d.product_name);
  bool b = false;
  if (get_bool(ctx, j, "plain_topics", path, b)) d.plain_topics = b;
  if (get_bool(ctx, j, "retain", path, b)) d.retain = b;
  get_bool(ctx, j, "passive", path, d.passive);
  get_bool(ctx, j, "invert_position", path, d.invert_position);
  if (get_int(ctx, j, "kelvin_min", path, i))
    d.kelvin_min = static_cast<int>(std::clamp<int64_t>(i, 0, MAX_KELVIN + 1));
  if (get_int(ctx, j, "kelvin_max", path, i))
    d.kelvin_max = static_cast<int>(std::clamp<int64_t>(i, 0, MAX_KELVIN + 1));
  if (j.contains("dps") && !j["dps"].is_null()) {
    const json& dps = j["dps"];
    const std::string dp_path = join(path, "dps");
    if (!dps.is_object()) {
      ctx.err(dp_path, "must be an object keyed by DP id");
    } else {
      for (const auto& [k, v] : dps.items()) {
        const auto id = parse_dp_id(k);
        if (!id) {
          ctx.err(join(dp_path, k), "key must be a DP id 1..255");
          continue;
        }
        DpOverride o;
        parse_dp_override(ctx, v, join(dp_path, k), o);
        d.dps[*id] = o;
      }
    }
  }
  if (j.contains("mapping") && !j["mapping"].is_null()) {
    const json& m = j["mapping"];
    const std::string mp = join(path, "mapping");
    if (!m.is_object()) {
      ctx.err(mp, "must be an object keyed by DP id");
    } else {
      for (const auto& [k, v] : m.items()) {
        if (!parse_dp_id(k)) {
          ctx.warn(join(mp, k), "not a DP id, ignored");
          continue;
        }
        if (auto spec = proto::parse_dp_spec(v); !spec) {
          ctx.warn(join(mp, k), "unusable cloud spec (" + spec.error().message + "), DP treated as raw");
          continue;
        }
        d.mapping[k] = v;
      }
    }
  }
}

// Merges a config "devices" entry over the JSON of a device list entry: explicit keys win; "dps" is merged
// DP by DP.
json merge_entry(const json& base, const json& over) {
  json out = base;
  for (const auto& [k, v] : over.items()) {
    if (k == "dps" && out.contains("dps") && out["dps"].is_object() && v.is_object()) {
      for (const auto& [dk, dv] : v.items()) out["dps"][dk] = dv;
    } else {
      out[k] = v;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Validation of values

void validate_device(Ctx& ctx, const DeviceConfig& d) {
  if (d.id.empty()) {
    ctx.err(field(d, "id"), "must not be empty");
  } else if (d.id.size() > MAX_DEVICE_ID_LENGTH || !std::all_of(d.id.begin(), d.id.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
             })) {
    ctx.err(field(d, "id"), "must be 1..64 letters, digits, '_' or '-'");
  }
  if (d.is_sub_device()) {
    if (d.parent.empty()) ctx.err(field(d, "parent"), "is required for a sub-device (cid is set)");
  } else {
    if (!d.parent.empty())
      ctx.err(field(d, "cid"), "is required when parent is set (the sub-device's node id)");
    if (d.local_key.empty()) {
      ctx.err(field(d, "local_key"), "is required (16 characters)");
    } else if (d.local_key.size() != LOCAL_KEY_LENGTH) {
      ctx.err(field(d, "local_key"),
              "must be 16 characters (got " + std::to_string(d.local_key.size()) + ")");
    } else if (!std::all_of(d.local_key.begin(), d.local_key.end(),
                            [](char c) { return c >= ' ' && c <= '~'; })) {
      ctx.err(field(d, "local_key"), "must be printable ASCII characters");
    }
  }
  if (d.address != "auto" && !is_ipv4(d.address) && !is_hostname(d.address)) {
    ctx.err(field(d, "address"),
            "must be an IPv4 address, a host name or \"auto\" (got \"" + d.address + "\")");
  }
  if (std::find(std::begin(VERSIONS), std::end(VERSIONS), d.version) == std::end(VERSIONS)) {
    ctx.err(field(d, "version"),
            "must be one of 3.1, 3.2, 3.3, 3.4, 3.5, 3.22, auto (got \"" + d.version + "\")");
  }
  if (d.name.size() > MAX_NAME_LENGTH) ctx.err(field(d, "name"), "must be at most 128 characters");
  if (!d.name.empty()) {
    if (auto p = topic_problem(d.name); !p.empty()) ctx.err(field(d, "name"), p);
    if (d.name == "bridge" || d.name.rfind("bridge/", 0) == 0) {
      ctx.err(field(d, "name"), "\"bridge\" is reserved for the gateway's own topics");
    }
    for (std::string_view suffix : {"/set", "/get", "/availability"}) {
      if (d.name.size() > suffix.size() &&
          d.name.compare(d.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        ctx.err(field(d, "name"), "must not end in \"" + std::string(suffix) + "\"");
      }
    }
  }
  if (d.poll_interval.count() != 0 && d.poll_interval < MIN_POLL_INTERVAL) {
    ctx.err(field(d, "poll_interval"), "must be 0 (off) or at least 1 s");
  }
  if (d.poll_interval.count() < 0) ctx.err(field(d, "poll_interval"), "must not be negative");
  if (d.heartbeat_interval < MIN_HEARTBEAT_INTERVAL || d.heartbeat_interval > MAX_HEARTBEAT_INTERVAL) {
    ctx.err(field(d, "heartbeat_interval"), "must be 1..25 s (devices drop idle sockets after ~30 s; got " +
                                                std::to_string(d.heartbeat_interval.count()) + ")");
  }
  if (!d.update_dps.empty() && d.update_dps_interval < MIN_UPDATEDPS_INTERVAL) {
    ctx.err(field(d, "update_dps_interval"), "must be at least 5 s");
  }
  if (d.update_dps.size() > UPDATEDPS_WARN_SIZE) {
    ctx.warn(field(d, "update_dps"),
             "long UPDATEDPS lists have crashed plugs (localtuya#549); keep it short");
  }
  if (d.write_pacing.count() < 0 || d.write_pacing > MAX_WRITE_PACING) {
    ctx.err(field(d, "write_pacing"), "must be 0..10 s");
  }
  if (d.kelvin_min < MIN_KELVIN || d.kelvin_max > MAX_KELVIN || d.kelvin_min >= d.kelvin_max) {
    ctx.err(field(d, "kelvin_min"),
            "kelvin_min..kelvin_max must be an increasing range within 1000..20000 K");
  }
}

// "1h", "5m", "2s" or "250ms": the largest unit that states the bound exactly.
std::string describe(milliseconds ms) {
  const int64_t n = ms.count();
  if (n != 0 && n % (MS_PER_SECOND * SECONDS_PER_HOUR) == 0)
    return std::to_string(n / (MS_PER_SECOND * SECONDS_PER_HOUR)) + "h";
  if (n != 0 && n % (MS_PER_SECOND * SECONDS_PER_MINUTE) == 0)
    return std::to_string(n / (MS_PER_SECOND * SECONDS_PER_MINUTE)) + "m";
  if (n != 0 && n % MS_PER_SECOND == 0) return std::to_string(n / MS_PER_SECOND) + "s";
  return std::to_string(n) + "ms";
}

void check_range(Ctx& ctx, const std::string& path, milliseconds value, milliseconds min, milliseconds max) {
  if (value < min || value > max) {
    ctx.err(path, "must be between " + describe(min) + " and " + describe(max) + " (got " +
                      std::to_string(value.count()) + "ms)");
  }
}

void validate_config(Ctx& ctx, const Config& c) {
  // mqtt
  {
    const std::string& s = c.mqtt.server;
    const auto scheme_end = s.find("://");
    const std::string scheme = scheme_end == std::string::npos ? "" : s.substr(0, scheme_end);
    static const std::set<std::string> schemes = {"mqtt", "mqtts", "tcp", "ssl", "ws", "wss"};
    if (!schemes.count(scheme) || scheme_end + 3 >= s.size()) {
      ctx.err("mqtt.server",
              "must be a URI such as mqtt://host:1883 or mqtts://host:8883 (got \"" + s + "\")");
    }
    if (c.mqtt.client_id.empty()) ctx.err("mqtt.client_id", "must not be empty");
    if (auto p = topic_problem(c.mqtt.base_topic); !p.empty()) ctx.err("mqtt.base_topic", p);
    if (c.mqtt.keepalive.count() < 1 || c.mqtt.keepalive > MAX_MQTT_KEEPALIVE) {
      ctx.err("mqtt.keepalive", "must be 1..65535 s");
    }
    if (!c.mqtt.password.empty() && c.mqtt.username.empty()) {
      ctx.err("mqtt.username", "is required when a password is set");
    }
    if (c.mqtt.tls) {
      if (!c.mqtt.tls->key.empty() && c.mqtt.tls->cert.empty())
        ctx.err("mqtt.tls.cert", "is required with tls.key");
      if (!c.mqtt.tls->cert.empty() && c.mqtt.tls->key.empty())
        ctx.err("mqtt.tls.key", "is required with tls.cert");
      if (!c.mqtt.tls->key_password.empty() && c.mqtt.tls->key.empty()) {
        ctx.err("mqtt.tls.key_password", "is only meaningful with tls.key");
      }
      if (scheme == "mqtt" || scheme == "tcp" || scheme == "ws") {
        ctx.warn("mqtt.tls", "TLS settings given but mqtt.server uses a plain scheme (" + scheme + "://)");
      }
    }
  }
  // homeassistant
  if (auto p = topic_problem(c.homeassistant.discovery_prefix); !p.empty()) {
    ctx.err("homeassistant.discovery_prefix", p);
  }
  if (auto p = topic_problem(c.homeassistant.status_topic); !p.empty())
    ctx.err("homeassistant.status_topic", p);
  // cloud
  if (c.cloud) {
    if (c.cloud->access_id.empty()) ctx.err("cloud.access_id", "is required");
    if (c.cloud->access_secret.empty()) ctx.err("cloud.access_secret", "is required");
    if (std::find(std::begin(CLOUD_REGIONS), std::end(CLOUD_REGIONS), c.cloud->region) ==
        std::end(CLOUD_REGIONS)) {
      ctx.err("cloud.region",
              "must be one of cn, us, us-e, eu, eu-w, in, sg (got \"" + c.cloud->region + "\")");
    }
    const auto& u = c.cloud->base_url;
    if (!u.empty() && u.rfind("https://", 0) != 0 && u.rfind("http://", 0) != 0) {
      ctx.err("cloud.base_url", "must start with https:// or http://");
    }
    const auto poll = c.cloud->ota_poll_interval;
    if (poll < MIN_OTA_POLL_INTERVAL || poll > MAX_OTA_POLL_INTERVAL) {
      // Every poll is a quota-counted OpenAPI call; an hour-long gap would miss the whole upgrade.
      ctx.err("cloud.ota_poll_interval",
              "must be between 1s and 10m (got " + std::to_string(poll.count()) + "ms)");
    }
    if (!c.cloud->openhub_ca.empty() && c.cloud->push != PushTransport::OPENHUB)
      ctx.warn("cloud.openhub_ca", "only used with \"push\": \"openhub\", ignored");
  }
  // log level
  LogLevel lvl{};
  if (!parse_log_level(c.log_level, lvl)) {
    ctx.err("log_level", "must be one of error, warning, info, debug, verbose (got \"" + c.log_level + "\")");
  }
  // discovery
  if (!is_ipv4(c.discovery.bind_address)) {
    ctx.err("discovery.bind_address", "must be an IPv4 address (got \"" + c.discovery.bind_address + "\")");
  }
  if (!c.discovery.broadcast_target.empty() && !is_ipv4(c.discovery.broadcast_target)) {
    ctx.err("discovery.broadcast_target",
            "must be an IPv4 address (got \"" + c.discovery.broadcast_target + "\")");
  }
  if (c.discovery.request_interval.count() < 1) ctx.err("discovery.request_interval", "must be at least 1 s");
  // session
  check_range(ctx, "session.connect_timeout", c.session.connect_timeout, MIN_CONNECT_TIMEOUT,
              MAX_CONNECT_TIMEOUT);
  check_range(ctx, "session.response_timeout", c.session.response_timeout, MIN_RESPONSE_TIMEOUT,
              MAX_RESPONSE_TIMEOUT);
  check_range(ctx, "session.reconnect_min", c.session.reconnect_min, MIN_RECONNECT_DELAY,
              MAX_RECONNECT_DELAY);
  check_range(ctx, "session.reconnect_max", c.session.reconnect_max, MIN_RECONNECT_DELAY,
              MAX_RECONNECT_DELAY);
  if (c.session.reconnect_max < c.session.reconnect_min)
    ctx.err("session.reconnect_max", "must not be less than reconnect_min");
  check_range(ctx, "session.offline_command_timeout", c.session.offline_command_timeout,
              MIN_OFFLINE_COMMAND_TIMEOUT, MAX_OFFLINE_COMMAND_TIMEOUT);

  // devices
  std::map<std::string, const DeviceConfig*> ids;
  std::map<std::string, const DeviceConfig*> names;
  for (const auto& d : c.devices) {
    validate_device(ctx, d);
    if (!d.id.empty()) {
      if (auto [it, fresh] = ids.emplace(d.id, &d); !fresh) {
        ctx.err(field(d, "id"), "duplicate id (also " + it->second->source_path + ")");
      }
    }
  }
  for (const auto& d : c.devices) {
    const std::string& n = d.display_name();
    if (n.empty()) continue;
    if (auto [it, fresh] = names.emplace(n, &d); !fresh && it->second->id != d.id) {
      ctx.err(field(d, "name"), "duplicate name \"" + n + "\" (also " + it->second->source_path + ")");
    }
    if (!d.name.empty() && d.name != d.id) {
      if (auto it = ids.find(d.name); it != ids.end() && it->second != &d) {
        ctx.err(field(d, "name"), "is the id of another device (" + it->second->source_path + ")");
      }
    }
    if (d.is_sub_device() && !d.parent.empty()) {
      auto it = ids.find(d.parent);
      if (it == ids.end()) {
        ctx.err(field(d, "parent"), "no device with id \"" + d.parent + "\"");
      } else if (it->second->is_sub_device()) {
        ctx.err(field(d, "parent"), "\"" + d.parent + "\" is itself a sub-device");
      }
    }
  }
}

// Does the document hold anything secret? (Permission warnings only matter then.)
bool holds_secrets(const Config& c) {
  if (!c.mqtt.password.empty()) return true;
  if (c.mqtt.tls && !c.mqtt.tls->key_password.empty()) return true;
  if (c.cloud && !c.cloud->access_secret.empty()) return true;
  for (const auto& d : c.devices) {
    if (d.origin == DeviceOrigin::CONFIG && d.extra.is_object() &&
        (d.extra.contains("local_key") || d.extra.contains("key"))) {
      return true;
    }
  }
  return false;
}

void check_permissions(const std::string& path, bool secrets, ConfigWarnings& warnings) {
  if (!secrets) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if ((st.st_mode & GROUP_OTHER_BITS) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    warnings.push_back(path + ": readable by group/others (mode " + mode +
                       ") but holds keys or passwords; run: chmod 600 " + path);
  }
}

std::string line_col(const std::string& text, size_t byte) {
  size_t line = 1;
  size_t col = 1;
  for (size_t i = 0; i < text.size() && i + 1 < byte; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Reads and parses a JSON file; the error text never quotes the file's content (it may hold keys).
std::optional<json> read_json(const std::string& path, const std::string& issue_path, Ctx& ctx) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ctx.err(issue_path, "cannot read " + path);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    ctx.err(issue_path, path + ": JSON syntax error at " + line_col(text, e.byte));
  }
  return std::nullopt;
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

// Helpers for writing back: keep a key that was written; write a non-default value.
template <class T>
void put(json& obj, std::string_view key, const T& value, bool is_default) {
  if (!is_default || obj.contains(key)) obj[std::string(key)] = value;
}

json override_to_json(const DpOverride& o, json out) {
  if (!out.is_object()) out = json::object();
  if (o.code) out["code"] = *o.code;
  if (o.type) out["type"] = std::string(proto::to_string(*o.type));
  if (o.scale) out["scale"] = *o.scale;
  if (o.unit) out["unit"] = *o.unit;
  if (o.min) out["min"] = *o.min;
  if (o.max) out["max"] = *o.max;
  if (o.step) out["step"] = *o.step;
  if (o.values) out["values"] = *o.values;
  if (o.max_len) out["max_len"] = *o.max_len;
  if (o.read_only) out["read_only"] = *o.read_only;
  if (o.device_class) out["device_class"] = *o.device_class;
  if (o.state_class) out["state_class"] = *o.state_class;
  if (o.component) out["component"] = *o.component;
  if (o.name) out["name"] = *o.name;
  return out;
}

// Every known field of a device, defaults included.
json all_fields(const DeviceConfig& d) {
  json j = json::object();
  j["local_key"] = d.local_key;
  j["address"] = d.address;
  j["port"] = d.port;
  j["version"] = d.version;
  j["device22"] = d.device22;
  j["name"] = d.name;
  j["enabled"] = d.enabled;
  j["poll_interval"] = d.poll_interval.count();
  j["heartbeat_interval"] = d.heartbeat_interval.count();
  j["update_dps"] = d.update_dps;
  j["update_dps_interval"] = d.update_dps_interval.count();
  j["max_dps_per_write"] = d.max_dps_per_write;
  j["write_pacing"] = duration_json(d.write_pacing);
  j["cid"] = d.cid;
  j["parent"] = d.parent;
  j["category"] = d.category;
  j["product_id"] = d.product_id;
  j["product_name"] = d.product_name;
  j["plain_topics"] = d.plain_topics ? json(*d.plain_topics) : json();
  j["retain"] = d.retain ? json(*d.retain) : json();
  j["passive"] = d.passive;
  j["invert_position"] = d.invert_position;
  j["kelvin_min"] = d.kelvin_min;
  j["kelvin_max"] = d.kelvin_max;
  json dps = json::object();
  for (const auto& [id, o] : d.dps) dps[std::to_string(id)] = override_to_json(o, json::object());
  j["dps"] = dps;
  j["mapping"] = d.mapping;
  return j;
}

constexpr std::string_view KNOWN_DEVICE_ALIASES[][2] = {
    {"key", "local_key"}, {"ip", "address"}, {"node_id", "cid"}};

// A device that is also in the device list is written as the fields that differ from the list's entry
// (plus its unknown keys): the list stays the source of keys, addresses and mappings.
json listed_device_json(const DeviceConfig& d, const DeviceConfig& listed) {
  json j = d.extra.is_object() ? d.extra : json::object();
  for (const auto& alias : KNOWN_DEVICE_ALIASES) j.erase(std::string(alias[0]));
  const json mine = all_fields(d);
  const json theirs = all_fields(listed);
  for (const auto& [k, v] : mine.items()) {
    if (v != theirs[k] && !v.is_null()) {
      j[k] = v;
    } else {
      j.erase(k);
    }
  }
  j["id"] = d.id;
  return j;
}

json device_json(const DeviceConfig& d, const DeviceConfig& base) {
  json j = d.extra.is_object() ? d.extra : json::object();
  // Rename aliases to their canonical names so that nothing is written twice.
  for (auto [alias, canon] : {std::pair{"key", "local_key"}, {"ip", "address"}, {"node_id", "cid"}}) {
    if (j.contains(alias)) {
      j[canon] = j[alias];
      j.erase(alias);
    }
  }
  j["id"] = d.id;
  put(j, "local_key", d.local_key, d.local_key == base.local_key);
  put(j, "address", d.address, d.address == base.address);
  put(j, "port", d.port, d.port == base.port);
  put(j, "version", d.version, d.version == base.version);
  put(j, "device22", d.device22, d.device22 == base.device22);
  put(j, "name", d.name, d.name == base.name);
  put(j, "enabled", d.enabled, d.enabled == base.enabled);
  put(j, "poll_interval", d.poll_interval.count(), d.poll_interval == base.poll_interval);
  put(j, "heartbeat_interval", d.heartbeat_interval.count(), d.heartbeat_interval == base.heartbeat_interval);
  put(j, "update_dps", d.update_dps, d.update_dps == base.update_dps);
  put(j, "update_dps_interval", d.update_dps_interval.count(),
      d.update_dps_interval == base.update_dps_interval);
  put(j, "max_dps_per_write", d.max_dps_per_write, d.max_dps_per_write == base.max_dps_per_write);
  put(j, "write_pacing", duration_json(d.write_pacing), d.write_pacing == base.write_pacing);
  put(j, "cid", d.cid, d.cid == base.cid);
  put(j, "parent", d.parent, d.parent == base.parent);
  put(j, "category", d.category, d.category == base.category);
  put(j, "product_id", d.product_id, d.product_id == base.product_id);
  put(j, "product_name", d.product_name, d.product_name == base.product_name);
  if (d.plain_topics != base.plain_topics || j.contains("plain_topics")) {
    if (d.plain_topics)
      j["plain_topics"] = *d.plain_topics;
    else
      j.erase("plain_topics");
  }
  if (d.retain != base.retain || j.contains("retain")) {
    if (d.retain)
      j["retain"] = *d.retain;
    else
      j.erase("retain");
  }
  put(j, "passive", d.passive, d.passive == base.passive);
  put(j, "invert_position", d.invert_position, d.invert_position == base.invert_position);
  put(j, "kelvin_min", d.kelvin_min, d.kelvin_min == base.kelvin_min);
  put(j, "kelvin_max", d.kelvin_max, d.kelvin_max == base.kelvin_max);
  if (d.dps != base.dps || j.contains("dps")) {
    json dps = j.contains("dps") && j["dps"].is_object() ? j["dps"] : json::object();
    json out = json::object();
    for (const auto& [id, o] : d.dps) {
      const std::string k = std::to_string(id);
      auto b = base.dps.find(id);
      if (b != base.dps.end() && b->second == o && !dps.contains(k)) continue;
      out[k] = override_to_json(o, dps.contains(k) ? dps[k] : json::object());
    }
    if (out.empty())
      j.erase("dps");
    else
      j["dps"] = out;
  }
  if (d.mapping != base.mapping || j.contains("mapping")) {
    if (d.mapping.empty())
      j.erase("mapping");
    else
      j["mapping"] = d.mapping;
  }
  return j;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

std::string_view to_string(PushTransport transport) {
  switch (transport) {
    case PushTransport::OFF:
      return "off";
    case PushTransport::PULSAR:
      return "pulsar";
    case PushTransport::OPENHUB:
      return "openhub";
  }
  return "off";
}

namespace {
Result<Config, ConfigIssues> parse_config_unscrubbed(const json& doc, const json& device_list,
                                                     ConfigWarnings* warnings);
}  // namespace

std::optional<milliseconds> parse_duration(const json& value) {
  double amount = 0;
  double unit_ms = MS_PER_SECOND;
  if (value.is_number()) {
    amount = value.get<double>();
  } else if (value.is_string()) {
    std::string s = value.get<std::string>();
    s.erase(std::remove_if(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); }), s.end());
    size_t n = 0;
    while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
    if (n == 0) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + n, amount);
    if (ec != std::errc() || p != s.data() + n) return std::nullopt;
    const std::string unit = s.substr(n);
    if (unit == "ms") {
      unit_ms = 1;
    } else if (unit.empty() || unit == "s") {
      unit_ms = MS_PER_SECOND;
    } else if (unit == "m" || unit == "min") {
      unit_ms = static_cast<double>(MS_PER_SECOND * SECONDS_PER_MINUTE);
    } else if (unit == "h") {
      unit_ms = static_cast<double>(MS_PER_SECOND * SECONDS_PER_HOUR);
    } else {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  const double ms = amount * unit_ms;
  // A week is far beyond any interval here; the bound keeps the conversion defined.
  constexpr double MAX_MS = 7.0 * 24 * SECONDS_PER_HOUR * MS_PER_SECOND;
  if (!std::isfinite(ms) || ms < 0 || ms > MAX_MS) return std::nullopt;
  return milliseconds(std::llround(ms));
}

const DeviceConfig* Config::find_device(std::string_view id_or_name) const {
  for (const auto& d : devices) {
    if (d.id == id_or_name) return &d;
  }
  for (const auto& d : devices) {
    if (d.display_name() == id_or_name) return &d;
  }
  return nullptr;
}

DeviceConfig* Config::find_device(std::string_view id_or_name) {
  return const_cast<DeviceConfig*>(std::as_const(*this).find_device(id_or_name));
}

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

namespace {
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

}  // namespace

ConfigIssues validate(const Config& config) {
  Ctx ctx;
  validate_config(ctx, config);
  return ctx.issues;
}

Result<LoadedConfig, ConfigIssues> load_config(const std::string& path) {
  Ctx ctx;
  LoadedConfig out;
  std::error_code ec;
  out.path = std::filesystem::absolute(path, ec).string();
  if (ec) out.path = path;
  auto doc = read_json(path, "", ctx);
  if (!doc) return fail(ctx.issues);
  json list = nullptr;
  if (doc->is_object() && doc->contains("device_list") && (*doc)["device_list"].is_string()) {
    std::filesystem::path lp((*doc)["device_list"].get<std::string>());
    if (lp.is_relative()) lp = std::filesystem::path(out.path).parent_path() / lp;
    out.device_list_path = lp.string();
    auto l = read_json(out.device_list_path, "device_list", ctx);
    if (!l) return fail(ctx.issues);
    list = std::move(*l);
  }
  auto parsed = parse_config(*doc, list, &out.warnings);
  if (!parsed) return fail(parsed.error());
  out.config = std::move(*parsed);
  check_permissions(path, holds_secrets(out.config), out.warnings);
  if (!out.device_list_path.empty()) {
    bool list_keys = false;
    for (const auto& [id, d] : out.config.device_list_entries) list_keys = list_keys || !d.local_key.empty();
    check_permissions(out.device_list_path, list_keys, out.warnings);
  }
  return out;
}

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
  for (const auto& alias : KNOWN_DEVICE_ALIASES) {
    // An option given under its tinytuya name replaces the canonical one.
    if (options.contains(alias[0])) entry.erase(std::string(alias[1]));
  }
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
  const std::string tmp = path + ".tmp";
  const std::string text = to_json(config).dump(2) + "\n";
  {
    // Create with 0600 from the start: the file holds keys.
    const mode_t old = ::umask(GROUP_OTHER_BITS);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ::umask(old);
    if (!out) return fail("config_write", "cannot write " + tmp);
    out << text;
    out.flush();
    if (!out) return fail("config_write", "cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), SECRET_FILE_MODE);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail("config_write", "cannot replace " + path + ": " + ec.message());
  return {};
}

}  // namespace t2m::config

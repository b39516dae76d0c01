// Validation of values: what a Config must satisfy as a whole (sections, unique ids and names, parents of
// sub-devices), and the checks of hosts and topics that the device fields use too.
#include "config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "common/log.h"
#include "config/config_internal.h"

namespace t2m::config {
namespace {

using namespace detail;

constexpr size_t MAX_HOSTNAME = 253;

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

}  // namespace

namespace detail {

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
    // Every poll is a quota-counted OpenAPI call; an hour-long gap would miss the whole upgrade.
    check_range(ctx, "cloud.ota_poll_interval", c.cloud->ota_poll_interval, MIN_OTA_POLL_INTERVAL,
                MAX_OTA_POLL_INTERVAL);
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
        ctx.err(field_path(d, "id"), "duplicate id (also " + it->second->source_path + ")");
      }
    }
  }
  for (const auto& d : c.devices) {
    const std::string& n = d.display_name();
    if (n.empty()) continue;
    if (auto [it, fresh] = names.emplace(n, &d); !fresh && it->second->id != d.id) {
      ctx.err(field_path(d, "name"), "duplicate name \"" + n + "\" (also " + it->second->source_path + ")");
    }
    if (!d.name.empty() && d.name != d.id) {
      if (auto it = ids.find(d.name); it != ids.end() && it->second != &d) {
        ctx.err(field_path(d, "name"), "is the id of another device (" + it->second->source_path + ")");
      }
    }
    if (d.is_sub_device() && !d.parent.empty()) {
      auto it = ids.find(d.parent);
      if (it == ids.end()) {
        ctx.err(field_path(d, "parent"), "no device with id \"" + d.parent + "\"");
      } else if (it->second->is_sub_device()) {
        ctx.err(field_path(d, "parent"), "\"" + d.parent + "\" is itself a sub-device");
      }
    }
  }
}

}  // namespace detail

ConfigIssues validate(const Config& config) {
  Ctx ctx;
  validate_config(ctx, config);
  return ctx.issues;
}

}  // namespace t2m::config

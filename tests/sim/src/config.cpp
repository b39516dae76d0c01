#include "tests/sim/src/config.h"

#include <arpa/inet.h>

#include <fstream>
#include <set>
#include <sstream>

namespace t2m::sim {

namespace {

using nlohmann::json;

constexpr uint32_t LOOPBACK_NET = 0x7F000000;  // 127.0.0.0/8
constexpr uint32_t LOOPBACK_MASK = 0xFF000000;
constexpr uint32_t MAX_PORT = 65535;

Result<uint32_t> get_u32(const json& obj, const char* key, uint32_t fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > UINT32_MAX) {
    return fail("config", std::string("'") + key + "' must be a non-negative integer");
  }
  return it->get<uint32_t>();
}

Result<std::string> get_str(const json& obj, const char* key, std::string fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (!it->is_string()) return fail("config", std::string("'") + key + "' must be a string");
  return it->get<std::string>();
}

struct Defaults {
  uint32_t idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  uint32_t push_interval_ms = 0;
  uint32_t travel_ms = DEFAULT_TRAVEL_MS;
  std::string host = "127.0.0.1";
};

Result<SubDeviceSpec> parse_sub(const json& j) {
  if (!j.is_object()) return fail("config", "a sub-device must be an object");
  SubDeviceSpec s;
  auto cid = get_str(j, "cid", "");
  if (!cid) return fail(cid.error());
  s.cid = *cid;
  auto name = get_str(j, "name", s.cid);
  if (!name) return fail(name.error());
  s.name = *name;
  auto prof = get_str(j, "profile", "switch");
  if (!prof) return fail(prof.error());
  auto p = parse_profile(*prof);
  if (!p || *p == Profile::GATEWAY)
    return fail("config", "sub-device '" + s.cid + "': unknown profile '" + *prof + "'");
  s.profile = *p;
  if (j.contains("dps")) {
    if (!j["dps"].is_object()) return fail("config", "sub-device '" + s.cid + "': 'dps' must be an object");
    s.dps = j["dps"];
  }
  return s;
}

Result<DeviceSpec> parse_device(const json& j, const Defaults& d) {
  if (!j.is_object()) return fail("config", "a device must be an object");
  DeviceSpec s;
  s.idle_timeout_ms = d.idle_timeout_ms;
  s.push_interval_ms = d.push_interval_ms;
  s.travel_ms = d.travel_ms;
  s.host = d.host;
  auto id = get_str(j, "id", "");
  if (!id) return fail(id.error());
  s.id = *id;
  auto ctx = [&](const Error& e) { return fail("config", "device '" + s.id + "': " + e.message); };
  auto key = get_str(j, "key", "");
  if (!key) return ctx(key.error());
  s.key = *key;
  auto name = get_str(j, "name", s.id);
  if (!name) return ctx(name.error());
  s.name = *name;
  auto pk = get_str(j, "product_key", "");
  if (!pk) return ctx(pk.error());
  s.product_key = *pk;
  auto ver = get_str(j, "version", "3.3");
  if (!ver) return ctx(ver.error());
  if (auto st = parse_version_name(*ver, s.version, s.device22); !st) return ctx(st.error());
  if (j.contains("device22")) {
    if (!j["device22"].is_boolean())
      return fail("config", "device '" + s.id + "': 'device22' must be a boolean");
    s.device22 = s.device22 || j["device22"].get<bool>();
  }
  auto prof = get_str(j, "profile", "plug");
  if (!prof) return ctx(prof.error());
  auto p = parse_profile(*prof);
  if (!p) return fail("config", "device '" + s.id + "': unknown profile '" + *prof + "'");
  s.profile = *p;
  auto host = get_str(j, "host", s.host);
  if (!host) return ctx(host.error());
  s.host = *host;
  auto port = get_u32(j, "port", proto::PORT_TCP);
  if (!port) return ctx(port.error());
  if (*port > MAX_PORT) return fail("config", "device '" + s.id + "': port out of range");
  s.port = static_cast<uint16_t>(*port);
  auto idle = get_u32(j, "idle_timeout_ms", s.idle_timeout_ms);
  if (!idle) return ctx(idle.error());
  s.idle_timeout_ms = *idle;
  auto push = get_u32(j, "push_interval_ms", s.push_interval_ms);
  if (!push) return ctx(push.error());
  s.push_interval_ms = *push;
  auto travel = get_u32(j, "travel_ms", s.travel_ms);
  if (!travel) return ctx(travel.error());
  s.travel_ms = *travel;
  if (j.contains("dps")) {
    if (!j["dps"].is_object()) return fail("config", "device '" + s.id + "': 'dps' must be an object");
    s.dps = j["dps"];
  }
  if (j.contains("sub_devices")) {
    if (!j["sub_devices"].is_array())
      return fail("config", "device '" + s.id + "': 'sub_devices' must be an array");
    for (const auto& sj : j["sub_devices"]) {
      auto sub = parse_sub(sj);
      if (!sub) return ctx(sub.error());
      s.sub_devices.push_back(std::move(*sub));
    }
  }
  if (auto st = validate_device(s); !st) return fail(st.error());
  return s;
}

std::string version_name(proto::Version v, bool device22) {
  if (device22) return "device22";
  switch (v) {
    case proto::Version::V3_1:
      return "3.1";
    case proto::Version::V3_2:
      return "3.2";
    case proto::Version::V3_3:
      return "3.3";
    case proto::Version::V3_4:
      return "3.4";
    case proto::Version::V3_5:
      return "3.5";
  }
  return "3.3";
}

}  // namespace

bool is_loopback_ipv4(std::string_view host) {
  in_addr a{};
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), &a) != 1) return false;
  return (ntohl(a.s_addr) & LOOPBACK_MASK) == LOOPBACK_NET;
}

Result<Endpoint> parse_loopback_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return fail("config", "endpoint must be host:port: '" + std::string(text) + "'");
  Endpoint e;
  e.host = std::string(text.substr(0, colon));
  std::string port(text.substr(colon + 1));
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > MAX_PORT) {
    return fail("config", "bad port in '" + std::string(text) + "'");
  }
  e.port = static_cast<uint16_t>(std::stoul(port));
  if (!is_loopback_ipv4(e.host)) {
    return fail(
        "config",
        "'" + e.host + "' is not a loopback IPv4 address (127.0.0.0/8); the simulator only uses loopback");
  }
  return e;
}

Status parse_version_name(std::string_view name, proto::Version& v, bool& device22) {
  device22 = false;
  if (name == "3.1")
    v = proto::Version::V3_1;
  else if (name == "3.2")
    v = proto::Version::V3_2, device22 = true;  // 3.2 devices behave as device22 (§4.5)
  else if (name == "3.3")
    v = proto::Version::V3_3;
  else if (name == "3.4")
    v = proto::Version::V3_4;
  else if (name == "3.5")
    v = proto::Version::V3_5;
  else if (name == "device22")
    v = proto::Version::V3_3, device22 = true;
  else
    return fail("config", "unknown version '" + std::string(name) + "' (3.1, 3.2, 3.3, 3.4, 3.5, device22)");
  return {};
}

Status validate_device(const DeviceSpec& d) {
  if (d.id.empty()) return fail("config", "a device has no id");
  if (d.key.size() != LOCAL_KEY_SIZE) {
    return fail("config", "device '" + d.id + "': the local key must be 16 characters (got " +
                              std::to_string(d.key.size()) + ")");
  }
  if (!is_loopback_ipv4(d.host)) {
    return fail("config", "device '" + d.id + "': host '" + d.host + "' is not a loopback IPv4 address");
  }
  if (!d.sub_devices.empty() && d.profile != Profile::GATEWAY) {
    return fail("config", "device '" + d.id + "': only a gateway has sub-devices");
  }
  std::set<std::string> cids;
  for (const auto& s : d.sub_devices) {
    if (s.cid.empty()) return fail("config", "device '" + d.id + "': a sub-device has no cid");
    if (!cids.insert(s.cid).second)
      return fail("config", "device '" + d.id + "': duplicate cid '" + s.cid + "'");
  }
  return {};
}

Status validate_config(const SimConfig& c) {
  std::set<std::string> ids;
  std::set<std::pair<std::string, uint16_t>> addrs;
  for (const auto& d : c.devices) {
    if (auto st = validate_device(d); !st) return st;
    if (!ids.insert(d.id).second) return fail("config", "duplicate device id '" + d.id + "'");
    if (d.port != 0 && !addrs.insert({d.host, d.port}).second) {
      return fail("config",
                  "device '" + d.id + "': " + d.host + ":" + std::to_string(d.port) + " is already used");
    }
  }
  if (c.broadcast_to && !is_loopback_ipv4(c.broadcast_to->host))
    return fail("config", "broadcast_to is not loopback");
  if (c.discovery_listen && !is_loopback_ipv4(c.discovery_listen->host)) {
    return fail("config", "discovery listen address is not loopback");
  }
  return {};
}

Result<SimConfig> parse_config(const json& doc) {
  if (!doc.is_object()) return fail("config", "the device file must be a JSON object");
  SimConfig c;
  Defaults d;
  if (doc.contains("defaults")) {
    const json& dj = doc["defaults"];
    if (!dj.is_object()) return fail("config", "'defaults' must be an object");
    auto idle = get_u32(dj, "idle_timeout_ms", d.idle_timeout_ms);
    if (!idle) return fail(idle.error());
    d.idle_timeout_ms = *idle;
    auto push = get_u32(dj, "push_interval_ms", d.push_interval_ms);
    if (!push) return fail(push.error());
    d.push_interval_ms = *push;
    auto travel = get_u32(dj, "travel_ms", d.travel_ms);
    if (!travel) return fail(travel.error());
    d.travel_ms = *travel;
    auto host = get_str(dj, "host", d.host);
    if (!host) return fail(host.error());
    d.host = *host;
  }
  if (doc.contains("discovery")) {
    const json& dj = doc["discovery"];
    if (!dj.is_object()) return fail("config", "'discovery' must be an object");
    auto to = get_str(dj, "broadcast_to", "");
    if (!to) return fail(to.error());
    if (!to->empty()) {
      auto e = parse_loopback_endpoint(*to);
      if (!e) return fail(e.error());
      c.broadcast_to = *e;
    }
    auto every = get_u32(dj, "interval_ms", c.broadcast_interval_ms);
    if (!every) return fail(every.error());
    c.broadcast_interval_ms = *every;
    auto listen = get_str(dj, "listen", "");
    if (!listen) return fail(listen.error());
    if (!listen->empty()) {
      auto e = parse_loopback_endpoint(*listen);
      if (!e) return fail(e.error());
      c.discovery_listen = *e;
    }
  }
  if (!doc.contains("devices") || !doc["devices"].is_array())
    return fail("config", "'devices' must be an array");
  for (const auto& dj : doc["devices"]) {
    auto dev = parse_device(dj, d);
    if (!dev) return fail(dev.error());
    c.devices.push_back(std::move(*dev));
  }
  if (auto st = validate_config(c); !st) return fail(st.error());
  return c;
}

Result<SimConfig> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail("config", "cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  json doc = json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded()) return fail("config", "'" + path + "' is not valid JSON");
  auto c = parse_config(doc);
  if (!c) return fail("config", path + ": " + c.error().message);
  return c;
}

Result<std::vector<DeviceSpec>> generate_devices(const GenerateOptions& o) {
  if (o.versions.empty() || o.profiles.empty())
    return fail("config", "--mix and --profiles must not be empty");
  in_addr base{};
  if (inet_pton(AF_INET, o.base_host.c_str(), &base) != 1 || !is_loopback_ipv4(o.base_host)) {
    return fail("config", "--base-address must be a loopback IPv4 address");
  }
  std::vector<DeviceSpec> out;
  out.reserve(o.count);
  uint32_t addr = ntohl(base.s_addr);
  uint32_t port = o.base_port;
  for (size_t i = 0; i < o.count; ++i) {
    DeviceSpec d;
    char buf[64];
    snprintf(buf, sizeof buf, "bfsim%015zu", i);  // 20 chars, like real ids
    d.id = buf;
    snprintf(buf, sizeof buf, "k%015zu", i * 7919 % 1000000007);
    d.key = buf;
    d.name = "sim " + std::to_string(i);
    d.product_key = "simproduct" + std::to_string(i % 10);
    if (auto st = parse_version_name(o.versions[i % o.versions.size()], d.version, d.device22); !st)
      return fail(st.error());
    d.profile = o.profiles[i % o.profiles.size()];
    if (d.profile == Profile::GATEWAY) {
      d.sub_devices.push_back({"sub" + std::to_string(i) + "a", "switch", Profile::SWITCH, json::object()});
      d.sub_devices.push_back({"sub" + std::to_string(i) + "b", "sensor", Profile::SENSOR, json::object()});
    }
    d.push_interval_ms = o.push_interval_ms;
    d.idle_timeout_ms = o.idle_timeout_ms;
    if (o.same_host) {
      if (port > MAX_PORT) return fail("config", "ran out of ports");
      d.host = o.base_host;
      d.port = static_cast<uint16_t>(port++);
    } else {
      while ((addr & 0xFF) == 0 || (addr & 0xFF) == 0xFF) ++addr;
      if ((addr & LOOPBACK_MASK) != LOOPBACK_NET) return fail("config", "ran out of loopback addresses");
      in_addr a{};
      a.s_addr = htonl(addr++);
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &a, text, sizeof text);
      d.host = text;
      d.port = o.base_port;
    }
    out.push_back(std::move(d));
  }
  return out;
}

json devices_to_json(const std::vector<DeviceSpec>& devices) {
  json arr = json::array();
  for (const auto& d : devices) {
    json j{{"id", d.id},
           {"key", d.key},
           {"name", d.name},
           {"version", version_name(d.version, d.device22)},
           {"profile", std::string(to_string(d.profile))},
           {"host", d.host},
           {"port", d.port}};
    if (!d.product_key.empty()) j["product_key"] = d.product_key;
    if (d.idle_timeout_ms != DEFAULT_IDLE_TIMEOUT_MS) j["idle_timeout_ms"] = d.idle_timeout_ms;
    if (d.push_interval_ms != 0) j["push_interval_ms"] = d.push_interval_ms;
    if (d.travel_ms != DEFAULT_TRAVEL_MS) j["travel_ms"] = d.travel_ms;
    if (!d.dps.empty()) j["dps"] = d.dps;
    if (!d.sub_devices.empty()) {
      json subs = json::array();
      for (const auto& s : d.sub_devices) {
        json sj{{"cid", s.cid}, {"name", s.name}, {"profile", std::string(to_string(s.profile))}};
        if (!s.dps.empty()) sj["dps"] = s.dps;
        subs.push_back(sj);
      }
      j["sub_devices"] = subs;
    }
    arr.push_back(j);
  }
  return json{{"devices", arr}};
}

}  // namespace t2m::sim

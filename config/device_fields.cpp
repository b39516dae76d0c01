// The device field table: every field of a "devices" entry, each with how it is read, checked and written
// back. Parsing, validating and serialising a device all walk this one table.
#include "config/config_internal.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iterator>
#include <utility>

#include "protocol/dps.h"

namespace t2m::config::detail {
namespace {

constexpr std::string_view VERSIONS[] = {"3.1", "3.2", "3.3", "3.4", "3.5", "auto"};
// tuya-local's "3.22" = protocol 3.3 with the device22 quirk (docs/conventions.md §3.5).
constexpr std::string_view VERSION_322 = "3.22";
constexpr std::string_view VERSION_33 = "3.3";
// address and version: learnt from the device (its broadcasts, the protocol probe).
constexpr std::string_view AUTO = "auto";
constexpr uint16_t MAX_PORT = 65535;

// ---- Readers of the common kinds of field; M is the DeviceConfig member they fill ----

template <auto M>
void read_string(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  get_string(ctx, j, name, path, d.*M);
}

template <auto M>
void read_bool(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  get_bool(ctx, j, name, path, d.*M);
}

template <auto M>
void read_optional_bool(Ctx& ctx, const json& j, std::string_view name, const std::string& path,
                        DeviceConfig& d) {
  bool b = false;
  if (get_bool(ctx, j, name, path, b)) d.*M = b;
}

template <auto M>
void read_seconds(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  get_seconds(ctx, j, name, path, d.*M);
}

template <auto M>
void read_millis(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  get_millis(ctx, j, name, path, d.*M);
}

// Out-of-range Kelvin values are kept just outside the range, so that the check names them.
template <auto M>
void read_kelvin(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  int64_t i = 0;
  if (get_int(ctx, j, name, path, i)) d.*M = static_cast<int>(std::clamp<int64_t>(i, 0, MAX_KELVIN + 1));
}

// ---- Values as written ----

template <auto M>
json as_json(const DeviceConfig& d) {
  return json(d.*M);
}

template <auto M>
json seconds_json(const DeviceConfig& d) {
  return json((d.*M).count());
}

template <auto M>
json millis_json(const DeviceConfig& d) {
  return duration_json(d.*M);
}

template <auto M>
json optional_json(const DeviceConfig& d) {
  return d.*M ? json(*(d.*M)) : json();
}

// ---- The fields that need more than a typed read ----

void read_id(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  if (!get_string(ctx, j, name, path, d.id) && !j.contains(name)) ctx.err(join(path, name), "is required");
}

void check_id(Ctx& ctx, const DeviceConfig& d) {
  if (d.id.empty()) {
    ctx.err(field_path(d, "id"), "must not be empty");
  } else if (d.id.size() > MAX_DEVICE_ID_LENGTH || !std::all_of(d.id.begin(), d.id.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
             })) {
    ctx.err(field_path(d, "id"), "must be 1..64 letters, digits, '_' or '-'");
  }
}

// The id is always written: it is what identifies the entry.
void write_id(json& j, const DeviceConfig& d, const DeviceConfig&) {
  j["id"] = d.id;
}

// A device is reached with its own local key or, as a sub-device (cid), through its parent's session.
void check_keying(Ctx& ctx, const DeviceConfig& d) {
  if (d.is_sub_device()) {
    if (d.parent.empty()) ctx.err(field_path(d, "parent"), "is required for a sub-device (cid is set)");
    return;
  }
  if (!d.parent.empty())
    ctx.err(field_path(d, "cid"), "is required when parent is set (the sub-device's node id)");
  if (d.local_key.empty()) {
    ctx.err(field_path(d, "local_key"), "is required (16 characters)");
  } else if (d.local_key.size() != LOCAL_KEY_LENGTH) {
    ctx.err(field_path(d, "local_key"),
            "must be 16 characters (got " + std::to_string(d.local_key.size()) + ")");
  } else if (!std::all_of(d.local_key.begin(), d.local_key.end(),
                          [](char c) { return c >= ' ' && c <= '~'; })) {
    ctx.err(field_path(d, "local_key"), "must be printable ASCII characters");
  }
}

void read_address(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  get_string(ctx, j, name, path, d.address);
  if (d.address.empty()) d.address = AUTO;
}

void check_address(Ctx& ctx, const DeviceConfig& d) {
  if (d.address != AUTO && !is_ipv4(d.address) && !is_hostname(d.address)) {
    ctx.err(field_path(d, "address"),
            "must be an IPv4 address, a host name or \"auto\" (got \"" + d.address + "\")");
  }
}

void read_port(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  int64_t i = 0;
  if (get_int(ctx, j, name, path, i)) {
    if (i < 1 || i > MAX_PORT) ctx.err(join(path, name), "must be 1..65535 (got " + std::to_string(i) + ")");
    d.port = static_cast<uint16_t>(std::clamp<int64_t>(i, 0, MAX_PORT));
  }
}

void read_version(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  if (j.contains(name) && j[name].is_number()) {
    // 3.3 written as a number: read it as the string it means.
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2g", j[name].get<double>());
    d.version = buf;
  } else {
    get_string(ctx, j, name, path, d.version);
  }
  if (d.version.empty()) d.version = AUTO;
  if (d.version == VERSION_322) {
    d.version = VERSION_33;
    d.device22 = true;
  }
}

void check_version(Ctx& ctx, const DeviceConfig& d) {
  if (std::find(std::begin(VERSIONS), std::end(VERSIONS), d.version) == std::end(VERSIONS)) {
    ctx.err(field_path(d, "version"),
            "must be one of 3.1, 3.2, 3.3, 3.4, 3.5, 3.22, auto (got \"" + d.version + "\")");
  }
}

// The name is a topic level of every topic of the device.
void check_name(Ctx& ctx, const DeviceConfig& d) {
  if (d.name.size() > MAX_NAME_LENGTH) ctx.err(field_path(d, "name"), "must be at most 128 characters");
  if (d.name.empty()) return;
  if (auto p = topic_problem(d.name); !p.empty()) ctx.err(field_path(d, "name"), p);
  if (d.name == "bridge" || d.name.rfind("bridge/", 0) == 0) {
    ctx.err(field_path(d, "name"), "\"bridge\" is reserved for the gateway's own topics");
  }
  for (std::string_view suffix : {"/set", "/get", "/availability"}) {
    if (d.name.size() > suffix.size() &&
        d.name.compare(d.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      ctx.err(field_path(d, "name"), "must not end in \"" + std::string(suffix) + "\"");
    }
  }
}

void check_poll_interval(Ctx& ctx, const DeviceConfig& d) {
  if (d.poll_interval.count() != 0 && d.poll_interval < MIN_POLL_INTERVAL) {
    ctx.err(field_path(d, "poll_interval"), "must be 0 (off) or at least 1 s");
  }
  if (d.poll_interval.count() < 0) ctx.err(field_path(d, "poll_interval"), "must not be negative");
}

void check_heartbeat_interval(Ctx& ctx, const DeviceConfig& d) {
  if (d.heartbeat_interval < MIN_HEARTBEAT_INTERVAL || d.heartbeat_interval > MAX_HEARTBEAT_INTERVAL) {
    ctx.err(field_path(d, "heartbeat_interval"),
            "must be 1..25 s (devices drop idle sockets after ~30 s; got " +
                std::to_string(d.heartbeat_interval.count()) + ")");
  }
}

void check_update_dps_interval(Ctx& ctx, const DeviceConfig& d) {
  if (!d.update_dps.empty() && d.update_dps_interval < MIN_UPDATEDPS_INTERVAL) {
    ctx.err(field_path(d, "update_dps_interval"), "must be at least 5 s");
  }
}

void check_write_pacing(Ctx& ctx, const DeviceConfig& d) {
  if (d.write_pacing.count() < 0 || d.write_pacing > MAX_WRITE_PACING) {
    ctx.err(field_path(d, "write_pacing"), "must be 0..10 s");
  }
}

void read_max_dps(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  int64_t i = 0;
  if (get_int(ctx, j, name, path, i)) {
    if (i < 1 || i > MAX_DP_ID) ctx.err(join(path, name), "must be 1..255");
    d.max_dps = static_cast<uint32_t>(std::clamp<int64_t>(i, 1, MAX_DP_ID));
  }
}

void read_max_dps_per_write(Ctx& ctx, const json& j, std::string_view name, const std::string& path,
                            DeviceConfig& d) {
  int64_t i = 0;
  if (get_int(ctx, j, name, path, i)) {
    if (i < 0 || i > MAX_DP_ID) ctx.err(join(path, name), "must be 0 (no limit) ..255");
    d.max_dps_per_write = static_cast<uint32_t>(std::clamp<int64_t>(i, 0, MAX_DP_ID));
  }
}

void read_update_dps(Ctx& ctx, const json& j, std::string_view name, const std::string& path,
                     DeviceConfig& d) {
  if (!j.contains(name) || j[name].is_null()) return;
  const json& u = j[name];
  const std::string up = join(path, name);
  if (!u.is_array()) {
    ctx.err(up, "must be an array of DP ids");
    return;
  }
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

void check_update_dps(Ctx& ctx, const DeviceConfig& d) {
  if (d.update_dps.size() > UPDATEDPS_WARN_SIZE) {
    ctx.warn(field_path(d, "update_dps"),
             "long UPDATEDPS lists have crashed plugs (localtuya#549); keep it short");
  }
}

void check_kelvin(Ctx& ctx, const DeviceConfig& d) {
  if (d.kelvin_min < MIN_KELVIN || d.kelvin_max > MAX_KELVIN || d.kelvin_min >= d.kelvin_max) {
    ctx.err(field_path(d, "kelvin_min"),
            "kelvin_min..kelvin_max must be an increasing range within 1000..20000 K");
  }
}

void read_dps(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  if (!j.contains(name) || j[name].is_null()) return;
  const json& dps = j[name];
  const std::string dp_path = join(path, name);
  if (!dps.is_object()) {
    ctx.err(dp_path, "must be an object keyed by DP id");
    return;
  }
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

json dps_json(const DeviceConfig& d) {
  json dps = json::object();
  for (const auto& [id, o] : d.dps) dps[std::to_string(id)] = override_to_json(o, json::object());
  return dps;
}

// DP by DP: an override equal to base's is not repeated, unless the user wrote it; what the user wrote
// in an override (unknown keys included) is kept.
void write_dps(json& j, const DeviceConfig& d, const DeviceConfig& base) {
  if (d.dps == base.dps && !j.contains("dps")) return;
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

// Unusable entries are dropped with a warning: the DP is then treated as raw, as if the cloud said nothing.
void read_mapping(Ctx& ctx, const json& j, std::string_view name, const std::string& path, DeviceConfig& d) {
  if (!j.contains(name) || j[name].is_null()) return;
  const json& m = j[name];
  const std::string mp = join(path, name);
  if (!m.is_object()) {
    ctx.err(mp, "must be an object keyed by DP id");
    return;
  }
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

void write_mapping(json& j, const DeviceConfig& d, const DeviceConfig& base) {
  if (d.mapping == base.mapping && !j.contains("mapping")) return;
  if (d.mapping.empty())
    j.erase("mapping");
  else
    j["mapping"] = d.mapping;
}

using D = DeviceConfig;

// In reading order: a later field may refine an earlier one (version "3.22" sets device22, which an
// explicit device22 then overrides). Checks run in the same order.
constexpr DeviceField FIELDS[] = {
    {"id", "", read_id, check_id, as_json<&D::id>, write_id},
    {"local_key", "key", read_string<&D::local_key>, check_keying, as_json<&D::local_key>, nullptr},
    {"address", "ip", read_address, check_address, as_json<&D::address>, nullptr},
    {"port", "", read_port, nullptr, as_json<&D::port>, nullptr},
    {"version", "", read_version, check_version, as_json<&D::version>, nullptr},
    {"device22", "", read_bool<&D::device22>, nullptr, as_json<&D::device22>, nullptr},
    {"name", "", read_string<&D::name>, check_name, as_json<&D::name>, nullptr},
    {"enabled", "", read_bool<&D::enabled>, nullptr, as_json<&D::enabled>, nullptr},
    {"poll_interval", "", read_seconds<&D::poll_interval>, check_poll_interval,
     seconds_json<&D::poll_interval>, nullptr},
    {"heartbeat_interval", "", read_seconds<&D::heartbeat_interval>, check_heartbeat_interval,
     seconds_json<&D::heartbeat_interval>, nullptr},
    {"update_dps_interval", "", read_seconds<&D::update_dps_interval>, check_update_dps_interval,
     seconds_json<&D::update_dps_interval>, nullptr},
    {"write_pacing", "", read_millis<&D::write_pacing>, check_write_pacing, millis_json<&D::write_pacing>,
     nullptr},
    {"max_dps_per_write", "", read_max_dps_per_write, nullptr, as_json<&D::max_dps_per_write>, nullptr},
    {"max_dps", "", read_max_dps, nullptr, as_json<&D::max_dps>, nullptr},
    {"update_dps", "", read_update_dps, check_update_dps, as_json<&D::update_dps>, nullptr},
    {"cid", "node_id", read_string<&D::cid>, nullptr, as_json<&D::cid>, nullptr},
    {"parent", "", read_string<&D::parent>, nullptr, as_json<&D::parent>, nullptr},
    {"category", "", read_string<&D::category>, nullptr, as_json<&D::category>, nullptr},
    {"product_id", "", read_string<&D::product_id>, nullptr, as_json<&D::product_id>, nullptr},
    {"product_name", "", read_string<&D::product_name>, nullptr, as_json<&D::product_name>, nullptr},
    {"plain_topics", "", read_optional_bool<&D::plain_topics>, nullptr, optional_json<&D::plain_topics>,
     nullptr},
    {"retain", "", read_optional_bool<&D::retain>, nullptr, optional_json<&D::retain>, nullptr},
    {"passive", "", read_bool<&D::passive>, nullptr, as_json<&D::passive>, nullptr},
    {"invert_position", "", read_bool<&D::invert_position>, nullptr, as_json<&D::invert_position>, nullptr},
    {"kelvin_min", "", read_kelvin<&D::kelvin_min>, check_kelvin, as_json<&D::kelvin_min>, nullptr},
    {"kelvin_max", "", read_kelvin<&D::kelvin_max>, nullptr, as_json<&D::kelvin_max>, nullptr},
    {"dps", "", read_dps, nullptr, dps_json, write_dps},
    {"mapping", "", read_mapping, nullptr, as_json<&D::mapping>, write_mapping},
};

// The name the entry uses for the field: its own, else tinytuya's when only that is there.
std::string_view name_in(const json& entry, const DeviceField& f) {
  if (!f.alias.empty() && !entry.contains(f.key) && entry.contains(f.alias)) return f.alias;
  return f.key;
}

// Written when it differs from base or the user wrote it; an unset optional is not written at all.
void write_field(json& j, const DeviceField& f, const DeviceConfig& d, const DeviceConfig& base) {
  if (f.write) {
    f.write(j, d, base);
    return;
  }
  json v = f.value(d);
  if (v == f.value(base) && !j.contains(f.key)) return;
  if (v.is_null())
    j.erase(std::string(f.key));
  else
    j[std::string(f.key)] = std::move(v);
}

}  // namespace

std::span<const DeviceField> device_fields() {
  return FIELDS;
}

const DeviceField* find_device_field(std::string_view name) {
  for (const auto& f : FIELDS) {
    if (f.key == name || (!f.alias.empty() && f.alias == name)) return &f;
  }
  return nullptr;
}

bool entry_sets(const json& entry, std::string_view key) {
  if (!entry.is_object()) return false;
  if (entry.contains(key)) return true;
  const DeviceField* f = find_device_field(key);
  return f && !f->alias.empty() && entry.contains(f->alias);
}

// Field names differ between the config ("local_key", "address", "cid") and tinytuya's devices.json
// ("key", "ip", "node_id"); issues name the field where the user actually wrote it.
std::string field_path(const DeviceConfig& d, std::string_view key) {
  const DeviceField* f = find_device_field(key);
  const std::string_view alias = f ? f->alias : std::string_view();
  const bool in_config = entry_sets(d.extra, key);
  if (!d.list_path.empty() && !in_config) return join(d.list_path, alias.empty() ? key : alias);
  const std::string base = d.source_path.empty() ? std::string("device") : d.source_path;
  if (in_config && !alias.empty() && !d.extra.contains(key)) return join(base, alias);
  return join(base, key);
}

void parse_device_into(Ctx& ctx, const json& j, const std::string& path, DeviceConfig& d) {
  d.source_path = path;
  if (!j.is_object()) {
    ctx.err(path, "must be an object");
    return;
  }
  d.extra = j;
  for (const auto& [k, v] : j.items()) {
    if (!find_device_field(k)) ctx.warn(join(path, k), "unknown key, ignored");
  }
  for (const auto& f : FIELDS) f.read(ctx, j, name_in(j, f), path, d);
}

void validate_device(Ctx& ctx, const DeviceConfig& d) {
  for (const auto& f : FIELDS) {
    if (f.check) f.check(ctx, d);
  }
}

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

json device_json(const DeviceConfig& d, const DeviceConfig& base) {
  json j = d.extra.is_object() ? d.extra : json::object();
  // Aliases become canonical names so that nothing is written twice.
  for (const auto& f : FIELDS) {
    if (f.alias.empty() || !j.contains(f.alias)) continue;
    j[std::string(f.key)] = j[f.alias];
    j.erase(std::string(f.alias));
  }
  for (const auto& f : FIELDS) write_field(j, f, d, base);
  return j;
}

json listed_device_json(const DeviceConfig& d, const DeviceConfig& listed) {
  json j = d.extra.is_object() ? d.extra : json::object();
  for (const auto& f : FIELDS) {
    if (!f.alias.empty()) j.erase(std::string(f.alias));
    json mine = f.value(d);
    if (mine != f.value(listed) && !mine.is_null()) {
      j[std::string(f.key)] = std::move(mine);
    } else {
      j.erase(std::string(f.key));
    }
  }
  j["id"] = d.id;
  return j;
}

void drop_replaced_by_alias(json& entry, const json& options) {
  for (const auto& f : FIELDS) {
    if (!f.alias.empty() && options.contains(f.alias)) entry.erase(std::string(f.key));
  }
}

}  // namespace t2m::config::detail

// What the parts of config/ share and nothing else sees: the issue collector, the typed readers of JSON
// values, the device field table and the checks that both the whole-config validation and the device
// fields use. config.h is the module's API; this header is private to config/*.cpp.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace t2m::config::detail {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline constexpr int64_t MS_PER_SECOND = 1000;
inline constexpr int64_t SECONDS_PER_MINUTE = 60;
inline constexpr int64_t SECONDS_PER_HOUR = 3600;
// Group and other permission bits: a config file that holds keys must not have any.
inline constexpr mode_t GROUP_OTHER_BITS = 0077;

// Collects issues and warnings while parsing.
struct Ctx {
  ConfigIssues issues;
  ConfigWarnings* warnings = nullptr;
  void err(const std::string& path, std::string msg) { issues.push_back({path, std::move(msg)}); }
  void warn(const std::string& path, const std::string& msg) {
    if (warnings) warnings->push_back(path.empty() ? msg : path + ": " + msg);
  }
};

std::string join(const std::string& path, std::string_view key);
std::string index(const std::string& path, size_t i);
// nlohmann's name of the value's JSON type ("number", "string", ...) for "(got ...)" in issue texts.
std::string type_name(const json& v);

// ---- Typed readers (config.cpp) ----
// Each reads obj[key] into `out` and returns true; absent or null leaves `out` alone and returns false; a
// value of the wrong type is an issue at `path.key` (and false).
void check_unknown(Ctx& ctx, const json& obj, const std::string& path,
                   std::initializer_list<std::string_view> known);
bool get_string(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, std::string& out);
bool get_bool(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, bool& out);
bool get_int(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, int64_t& out);
bool get_seconds(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, seconds& out);
bool get_millis(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, milliseconds& out);
std::optional<int> parse_dp_id(std::string_view key);

// ---- Writing back (config.cpp) ----
// Whole seconds as a number, anything else as "<n>ms": what parse_duration reads back unchanged.
json duration_json(milliseconds ms);
// Keeps a key that was written; writes a value that is not the default.
template <class T>
void put(json& obj, std::string_view key, const T& value, bool is_default) {
  if (!is_default || obj.contains(key)) obj[std::string(key)] = value;
}

// ---- Value checks shared by the sections and the device fields (config_validate.cpp) ----
bool is_ipv4(const std::string& s);
bool is_hostname(const std::string& s);
// Why `t` cannot be an MQTT topic (level), or empty when it can.
std::string topic_problem(const std::string& t);
// Every check of a whole Config: its sections, each device, unique ids and names, sub-devices' parents.
void validate_config(Ctx& ctx, const Config& c);

// ---- Devices (device_fields.cpp) ----
// One field of a "devices" entry: the one place that says how it is read, checked and written back.
// Adding a device field is adding its row to the table in device_fields.cpp.
struct DeviceField {
  std::string_view key;    // the config's name
  std::string_view alias;  // tinytuya's devices.json name for it (key, ip, node_id), or empty
  // Reads entry[name] (the key or the alias, whichever the entry uses); type and syntax problems are
  // issues at once.
  void (*read)(Ctx& ctx, const json& entry, std::string_view name, const std::string& path, DeviceConfig& d);
  // Checks the value once the device is read (null: nothing to check). Issue paths come from field_path().
  void (*check)(Ctx& ctx, const DeviceConfig& d);
  // The value as written; null for an unset optional (it is then not written at all).
  json (*value)(const DeviceConfig& d);
  // Writes the field into `entry` (what the user wrote) given `base`, the device it is written against
  // (defaults, or the device list's entry). Null: written when it differs from base or was written before.
  void (*write)(json& entry, const DeviceConfig& d, const DeviceConfig& base);
};
std::span<const DeviceField> device_fields();
// The field called `name` in a devices entry (its key or its alias), or null.
const DeviceField* find_device_field(std::string_view name);
// Whether `entry` sets the field `key` under its own name or its alias.
bool entry_sets(const json& entry, std::string_view key);
// Where an issue about d's field `key` points: the config entry when it sets the field (under the name
// the user wrote), else the device list's entry.
std::string field_path(const DeviceConfig& d, std::string_view key);

void parse_device_into(Ctx& ctx, const json& j, const std::string& path, DeviceConfig& d);
void validate_device(Ctx& ctx, const DeviceConfig& d);
// Merges a config "devices" entry over the JSON of a device list entry: explicit keys win; "dps" is merged
// DP by DP.
json merge_entry(const json& base, const json& over);
// The device as a "devices" entry: what the user wrote, with every field that differs from `base`.
json device_json(const DeviceConfig& d, const DeviceConfig& base);
// A device that is also in the device list, written as the fields that differ from the list's entry (plus
// its unknown keys): the list stays the source of keys, addresses and mappings.
json listed_device_json(const DeviceConfig& d, const DeviceConfig& listed);
// An entry of bridge/request/device/options with the canonical name of every field given under its alias
// dropped from `entry`, so that the alias the options use wins.
void drop_replaced_by_alias(json& entry, const json& options);

// ---- DP overrides (dp_override.cpp) ----
void parse_dp_override(Ctx& ctx, const json& j, const std::string& path, DpOverride& o);
// `o` written over `out` (the override as the user wrote it: its unknown keys are kept).
json override_to_json(const DpOverride& o, json out);

}  // namespace t2m::config::detail

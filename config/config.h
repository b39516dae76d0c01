// The gateway's configuration: data model, JSON parsing with validation, loading from a file (with an
// optional tinytuya devices.json device list), and serialisation back to JSON for persisting changes made
// through bridge/request/device/{add,remove,options,rename}.
//
// A config file is one JSON object (every section optional except what a device needs):
//   {
//     "mqtt": {"server": "mqtt://broker:1883", "client_id": "tuya2mqtt", "username": "u", "password": "p",
//              "tls": {"ca": "/etc/ssl/ca.pem", "cert": "...", "key": "...", "key_password": "...",
//                      "verify_hostname": true},
//              "base_topic": "tuya2mqtt", "keepalive": 60, "plain_topics": false, "retain": true},
//     "homeassistant": {"enabled": true, "discovery_prefix": "homeassistant",
//                       "status_topic": "homeassistant/status"},
//     "cloud": {"access_id": "...", "access_secret": "...", "region": "eu", "base_url": "",
//               "user_id": "", "device_id": "", "allow_cloud_commands": false, "push": "off",
//               "openhub_ca": "", "ota_poll_interval": 5},
//     "log_level": "info",
//     "discovery": {"enabled": true, "bind_address": "0.0.0.0", "ports": [6666, 6667, 7000],
//                   "broadcast_target": "", "request_interval": 6},
//     "session": {"connect_timeout": "5s", "response_timeout": "3s", "reconnect_min": "1s",
//                 "reconnect_max": "60s", "offline_command_timeout": "10s"},
//     "device_list": "devices.json",
//     "devices": [ {"id": "...", "local_key": "...", "address": "192.168.1.20", ...}, ... ]
//   }
// "session" holds the timings every device's LAN session shares (the values above are the defaults;
// bounds are in config/defaults.h): connect_timeout 0.5-60 s; response_timeout 0.5-30 s, how long a
// query, command or heartbeat waits for its answer; reconnect_min/reconnect_max 0.1 s-1 h, the back-off
// between reconnect attempts, doubling from min to max; offline_command_timeout 1 s-5 min, how long a
// command for an offline device waits for the link. Per-device intervals (heartbeat_interval,
// poll_interval, ...) stay in the device entries.
// Durations are seconds (a number, may be fractional) or a string with a unit: "500ms", "10s", "5m", "1h".
// Keys are 16 raw characters (any printable ASCII), never hex-checked.
//
// Validation reports every problem at once, each with its JSON path ("devices[2].local_key: must be 16
// characters (got 15)"). No key, secret or password ever appears in an issue or warning text.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "config/defaults.h"
#include "protocol/dps.h"

namespace t2m::config {

// One validation problem. `path` is a JSON path into the file ("devices[2].local_key", "mqtt.tls.key");
// for a device that came from the device list it reads "device_list[4].key".
struct ConfigIssue {
  std::string path;
  std::string message;
  std::string to_string() const { return path.empty() ? message : path + ": " + message; }
  bool operator==(const ConfigIssue&) const = default;
};
using ConfigIssues = std::vector<ConfigIssue>;
// Warnings are returned, never logged here: the caller decides (they never contain secrets either).
using ConfigWarnings = std::vector<std::string>;

struct TlsConfig {
  std::string ca;            // CA bundle path; empty = system default
  std::string cert;          // client certificate path
  std::string key;           // client private key path
  std::string key_password;  // secret
  bool verify_hostname = true;
  bool operator==(const TlsConfig&) const = default;
};

struct MqttConfig {
  std::string server{DEFAULT_MQTT_SERVER};  // mqtt://, mqtts://, tcp://, ssl://, ws://, wss://
  std::string client_id{DEFAULT_CLIENT_ID};
  std::string username;
  std::string password;          // secret
  std::optional<TlsConfig> tls;  // present = TLS configured (mqtts:// and ssl:// imply it)
  std::string base_topic{DEFAULT_BASE_TOPIC};
  std::chrono::seconds keepalive = DEFAULT_MQTT_KEEPALIVE;
  bool plain_topics = false;  // also publish <base>/<device>/<property> plain-value topics
  bool retain = true;         // retain device state topics (docs/conventions.md §6)
  bool operator==(const MqttConfig&) const = default;
};

struct HomeAssistantConfig {
  bool enabled = true;
  std::string discovery_prefix{DEFAULT_DISCOVERY_PREFIX};
  std::string status_topic{DEFAULT_HA_STATUS_TOPIC};
  bool operator==(const HomeAssistantConfig&) const = default;
};

// Regions of the Tuya OpenAPI (docs/cloud.md §3).
inline constexpr std::string_view CLOUD_REGIONS[] = {"cn", "us", "us-e", "eu", "eu-w", "in", "sg"};

// Which cloud push channel the gateway consumes (docs/cloud.md §6): none, the Pulsar WebSocket service
// (§6.a), or the MQTT open-hub (§6.b). In the file: "off" | "pulsar" | "openhub"; the older booleans
// still work (true = "pulsar", false = "off").
enum class PushTransport { OFF, PULSAR, OPENHUB };
std::string_view to_string(PushTransport transport);
// How often an upgrade in flight asks the cloud for its progress (each poll is one OpenAPI call).
inline constexpr std::chrono::milliseconds DEFAULT_OTA_POLL_INTERVAL{5000};
inline constexpr std::chrono::milliseconds MIN_OTA_POLL_INTERVAL{1000};
inline constexpr std::chrono::milliseconds MAX_OTA_POLL_INTERVAL{10 * 60 * 1000};

struct CloudConfig {
  std::string access_id;
  std::string access_secret;  // secret
  std::string region{DEFAULT_CLOUD_REGION};
  std::string base_url;                     // overrides the region's URL (tests: http://127.0.0.1:port)
  std::string user_id;                      // app account uid for device listing (docs/cloud.md §10.1)
  std::string device_id;                    // or one known device id to derive the uid from
  bool allow_cloud_commands = false;        // send commands through the cloud when the LAN session is down
  PushTransport push = PushTransport::OFF;  // cloud push (sleepy battery devices, renames, ...)
  std::string openhub_ca;                   // CA file for an ssl:// open-hub broker; empty: the system's CAs
  std::chrono::milliseconds ota_poll_interval{DEFAULT_OTA_POLL_INTERVAL};
  bool operator==(const CloudConfig&) const = default;
};

struct DiscoveryConfig {
  bool enabled = true;
  std::string bind_address{DEFAULT_DISCOVERY_BIND};
  std::vector<uint16_t> ports{DISCOVERY_PORT_V31, DISCOVERY_PORT_V33, DISCOVERY_PORT_APP};
  // Where the 3.5 solicitation (cmd 0x25 to UDP 7000) goes. Empty = never send it (listen only).
  // Set e.g. "192.168.1.255"; tests use a loopback address only.
  std::string broadcast_target;
  std::chrono::seconds request_interval = DEFAULT_DISCOVERY_REQUEST_INTERVAL;
  bool operator==(const DiscoveryConfig&) const = default;
};

// Timings shared by every device's LAN session (gw::SessionTimings is built from these).
struct SessionConfig {
  std::chrono::milliseconds connect_timeout{DEFAULT_CONNECT_TIMEOUT};
  std::chrono::milliseconds response_timeout{DEFAULT_RESPONSE_TIMEOUT};
  std::chrono::milliseconds reconnect_min{DEFAULT_RECONNECT_MIN};
  std::chrono::milliseconds reconnect_max{DEFAULT_RECONNECT_MAX};
  std::chrono::milliseconds offline_command_timeout{DEFAULT_OFFLINE_COMMAND_TIMEOUT};
  bool operator==(const SessionConfig&) const = default;
};

// Per-DP override: every field optional; set fields win over the cloud mapping and the templates.
struct DpOverride {
  std::optional<std::string> code;  // property name in MQTT state/commands
  std::optional<proto::DpType> type;
  std::optional<int> scale;
  std::optional<std::string> unit;
  std::optional<int64_t> min;  // raw (wire) units, like the cloud spec
  std::optional<int64_t> max;
  std::optional<int64_t> step;
  std::optional<std::vector<std::string>> values;  // enum values
  std::optional<size_t> max_len;
  std::optional<bool> read_only;
  std::optional<std::string> device_class;  // HA device_class for the derived entity
  std::optional<std::string> state_class;   // HA state_class (measurement, total_increasing, ...)
  std::optional<std::string> component;     // force an HA component (sensor, switch, number, ...) or "none"
  std::optional<std::string> name;          // entity display name
  bool operator==(const DpOverride&) const = default;
};

enum class DeviceOrigin {
  CONFIG,       // written in the config's "devices" (possibly overriding a device list entry)
  DEVICE_LIST,  // only in the device list file; not written back by to_json()
};

struct DeviceConfig {
  std::string id;               // Tuya device id (devId / gwId)
  std::string local_key;        // secret; empty for sub-devices (they use the parent's key)
  std::string address{"auto"};  // IPv4 / host name, or "auto" = learn from UDP discovery
  uint16_t port = DEFAULT_DEVICE_PORT;
  std::string version{"auto"};  // "3.1".."3.5" or "auto"
  bool device22 = false;
  std::string name;  // friendly name = MQTT topic level; defaults to the id
  bool enabled = true;
  std::chrono::seconds poll_interval = DEFAULT_POLL_INTERVAL;  // 0 = no polling
  std::chrono::seconds heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL;
  std::vector<int> update_dps;  // UPDATEDPS ids (e.g. 18,19,20); empty = never sent
  std::chrono::seconds update_dps_interval = DEFAULT_UPDATEDPS_INTERVAL;
  uint32_t max_dps_per_write = DEFAULT_MAX_DPS_PER_WRITE;  // 0 = unlimited, 1 = one by one
  uint32_t max_dps = DEFAULT_MAX_DPS;  // distinct DP ids kept; reports over it are refused
  std::chrono::milliseconds write_pacing = DEFAULT_WRITE_PACING;
  // Sub-device behind a Zigbee/BLE gateway: cid = node_id, parent = the gateway's device id.
  std::string cid;
  std::string parent;
  std::string category;    // Tuya category code (cz, dj, cl, ...): selects the built-in template
  std::string product_id;  // Tuya product id / productKey
  std::string product_name;
  std::optional<bool> plain_topics;  // overrides mqtt.plain_topics
  std::optional<bool> retain;        // overrides mqtt.retain
  bool passive = false;              // battery/cloud-only device: long availability timeout, no pings
  bool invert_position = false;      // covers that report 0 = open
  int kelvin_min = DEFAULT_KELVIN_MIN;
  int kelvin_max = DEFAULT_KELVIN_MAX;
  std::map<int, DpOverride> dps;                      // per-DP overrides keyed by DP id
  nlohmann::json mapping = nlohmann::json::object();  // cloud spec by DP id (tinytuya "mapping")
  DeviceOrigin origin = DeviceOrigin::CONFIG;
  // Where the device was read from, for issue paths: "devices[2]" or "device_list[4]" (tinytuya field
  // names are then used: key, ip, node_id). Empty for devices built in code.
  std::string source_path;
  // "device_list[4]" when the device (also) comes from the device list: issues about fields the config
  // entry does not set point there.
  std::string list_path;
  // The "devices" entry as written (unknown keys included), so that to_json() keeps what it doesn't know.
  nlohmann::json extra = nlohmann::json::object();

  bool is_sub_device() const { return !cid.empty(); }
  const std::string& display_name() const { return name.empty() ? id : name; }
  bool operator==(const DeviceConfig&) const = default;
};

struct Config {
  MqttConfig mqtt;
  HomeAssistantConfig homeassistant;
  std::optional<CloudConfig> cloud;
  std::string log_level{DEFAULT_LOG_LEVEL};
  DiscoveryConfig discovery;
  SessionConfig session;
  std::string device_list;            // path as written (relative paths are relative to the config file)
  std::vector<DeviceConfig> devices;  // the merged list: device list entries, then config-only devices
  // The device list's own version of every listed device (before config overrides), by id. to_json()
  // writes a listed device only as the fields that differ from this.
  std::map<std::string, DeviceConfig> device_list_entries;
  nlohmann::json extra = nlohmann::json::object();  // the whole original document (unknown keys kept)

  const DeviceConfig* find_device(std::string_view id_or_name) const;
  DeviceConfig* find_device(std::string_view id_or_name);
};

struct LoadedConfig {
  Config config;
  ConfigWarnings warnings;
  std::string path;              // absolute path of the config file
  std::string device_list_path;  // resolved path of the device list, if any
};

// Parses and validates a config document. `device_list` is the already-parsed device list (or null):
// its entries are imported first, then "devices" entries with the same id override/extend them.
// Every issue is returned at once; on success warnings (unknown keys, odd values) go to `warnings`.
Result<Config, ConfigIssues> parse_config(const nlohmann::json& doc,
                                          const nlohmann::json& device_list = nullptr,
                                          ConfigWarnings* warnings = nullptr);

// Reads the file, parses it, reads the device list it names (relative to the config's directory),
// validates everything and checks file permissions: a file holding keys or secrets that is readable by
// group/others gives a warning. A missing/unreadable file or JSON syntax error is an issue too.
Result<LoadedConfig, ConfigIssues> load_config(const std::string& path);

// Validates an already-built Config (e.g. after bridge/request/device/options changed it).
ConfigIssues validate(const Config& config);

// Serialises back to JSON for persisting: the original document with its unknown keys, with known
// sections replaced by the current values (defaults omitted). Devices only present in the device list are
// not written. Secrets ARE written (this is the file that holds them): never log the result.
nlohmann::json to_json(const Config& config);
// Writes to_json() atomically (temp file + rename) with mode 0600.
Status save_config(const Config& config, const std::string& path);

// One device as JSON (the "devices" entry form); used by to_json and bridge/request/device/add.
nlohmann::json device_to_json(const DeviceConfig& device);
// Parses one "devices" entry (bridge/request/device/add|options). Issues are relative to `path`.
Result<DeviceConfig, ConfigIssues> parse_device(const nlohmann::json& entry,
                                                const std::string& path = "device");

// bridge/request/device/options: applies `options` (a partial "devices" entry, e.g. {"name": "x",
// "local_key": "..."}; "id" cannot change) to the device `id_or_name`, validates the whole config and only
// then stores the change in `config`. The stored entry keeps just what was written explicitly (the old
// entry plus the options), so a device from the device list does not get the list's keys copied into the
// config file. Issue paths start with "options.".
Result<DeviceConfig, ConfigIssues> update_device(Config& config, std::string_view id_or_name,
                                                 const nlohmann::json& options);
// bridge/request/device/add: parses one entry, validates it against the whole config (duplicate ids and
// names, parent of a sub-device) and appends it. Issue paths start with "device.".
Result<DeviceConfig, ConfigIssues> add_device(Config& config, const nlohmann::json& entry);

// Removes a device for good: a config-only device is erased; a device that comes from the device list is
// kept as {"id":..., "enabled": false} so that it stays removed when the list is read again.
// Returns false if there is no such device.
bool remove_device(Config& config, std::string_view id);

// Parses "10", 10, 2.5, "500ms", "10s", "5m", "1h" into milliseconds.
std::optional<std::chrono::milliseconds> parse_duration(const nlohmann::json& value);

}  // namespace t2m::config

// The simulator's device set: the JSON file format, its validation, and the --generate option that builds
// thousands of devices for benchmarks.
//
// File format (every key but "devices" optional; device keys other than id/key/version/profile optional):
// {
//   "defaults": {"idle_timeout_ms": 30000, "push_interval_ms": 0, "travel_ms": 10000, "host": "127.0.0.1"},
//   "discovery": {"broadcast_to": "127.0.0.1:6667", "interval_ms": 5000, "listen": "127.0.0.1:7000"},
//   "devices": [
//     {"id": "bf...", "key": "16 raw chars....", "version": "3.3" | "3.1".."3.5" | "device22",
//      "device22": false, "profile": "plug|bulb|curtain|sensor|switch|gateway", "name": "...",
//      "host": "127.0.1.1", "port": 6668, "product_key": "...", "idle_timeout_ms": 30000,
//      "push_interval_ms": 5000, "travel_ms": 10000, "dps": {"1": true},
//      "sub_devices": [{"cid": "a4c1...", "profile": "switch", "name": "...", "dps": {...}}]}
//   ]
// }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "protocol/constants.h"
#include "tests/sim/src/model.h"

namespace t2m::sim {

constexpr uint32_t DEFAULT_IDLE_TIMEOUT_MS = 30000;  // real devices drop a silent client after ~30 s (§6.3)
constexpr uint32_t DEFAULT_TRAVEL_MS = 10000;        // curtain: full travel 0 -> 100 %
constexpr uint32_t DEFAULT_BROADCAST_INTERVAL_MS = 5000;
constexpr size_t DEFAULT_WRITES_CAPACITY = 10000;
constexpr size_t LOCAL_KEY_SIZE = 16;

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};
// "127.0.0.1:6667". Only loopback (127.0.0.0/8) addresses are accepted: the simulator never sends or
// listens anywhere else.
Result<Endpoint> parse_loopback_endpoint(std::string_view text);
bool is_loopback_ipv4(std::string_view host);

struct SubDeviceSpec {
  std::string cid;
  std::string name;
  Profile profile = Profile::SWITCH;
  nlohmann::json dps = nlohmann::json::object();
};

struct DeviceSpec {
  std::string id;
  std::string key;  // 16 raw bytes
  std::string name;
  std::string product_key;
  proto::Version version = proto::Version::V3_3;
  bool device22 = false;
  Profile profile = Profile::PLUG;
  std::string host = "127.0.0.1";
  uint16_t port = proto::PORT_TCP;                     // 0 = any free port (tests)
  uint32_t idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;  // 0 = never
  uint32_t push_interval_ms = 0;                       // spontaneous drift + push; 0 = never
  uint32_t travel_ms = DEFAULT_TRAVEL_MS;
  nlohmann::json dps = nlohmann::json::object();  // initial value overrides
  std::vector<SubDeviceSpec> sub_devices;
};

struct SimConfig {
  std::vector<DeviceSpec> devices;
  std::optional<Endpoint> broadcast_to;  // UDP discovery broadcasts go here (loopback only); none by default
  uint32_t broadcast_interval_ms = DEFAULT_BROADCAST_INTERVAL_MS;
  std::optional<Endpoint> discovery_listen;  // 3.5 discovery requests (0x25) are answered here
  size_t writes_capacity = DEFAULT_WRITES_CAPACITY;
};

Result<SimConfig> parse_config(const nlohmann::json& doc);
Result<SimConfig> load_config(const std::string& path);
// Checks one device (id, key length, loopback host, unique cids).
Status validate_device(const DeviceSpec& d);
// Also checks that ids and host:port pairs are unique across the set.
Status validate_config(const SimConfig& c);

// --generate: `count` devices cycling through `versions` ("3.1".."3.5", "device22") and `profiles`.
// Addresses: with `same_host` false, one address per device counting up from `base_host` (skipping .0 and
// .255) on `base_port`; with `same_host` true, every device on `base_host` with ports counting up from
// `base_port`. Ids and keys are derived from the index (stable across runs).
struct GenerateOptions {
  size_t count = 0;
  std::vector<std::string> versions = {"3.3"};
  std::vector<Profile> profiles = {Profile::PLUG};
  std::string base_host = "127.0.2.1";
  uint16_t base_port = proto::PORT_TCP;
  bool same_host = false;
  uint32_t push_interval_ms = 0;
  uint32_t idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
};
Result<std::vector<DeviceSpec>> generate_devices(const GenerateOptions& o);

// The device list as JSON (the same format as the file), e.g. for the gateway's test configuration.
nlohmann::json devices_to_json(const std::vector<DeviceSpec>& devices);
// "3.1".."3.5" and "device22" (3.3 + device22 mode).
Status parse_version_name(std::string_view name, proto::Version& v, bool& device22);

}  // namespace t2m::sim

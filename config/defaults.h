// Every default and limit of the gateway's configuration, with where it comes from (CONTRIBUTING.md rule 5).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace t2m::config {

using namespace std::chrono_literals;

// ---- MQTT ----
inline constexpr std::string_view DEFAULT_MQTT_SERVER = "mqtt://localhost:1883";
inline constexpr std::string_view DEFAULT_CLIENT_ID = "tuya2mqtt";
// zigbee2mqtt's default base topic is its own name; ours follows (docs/conventions.md §1.1).
inline constexpr std::string_view DEFAULT_BASE_TOPIC = "tuya2mqtt";
// zigbee2mqtt uses a 60 s keepalive (docs/conventions.md §1.1); MQTT allows at most 65535 s.
inline constexpr std::chrono::seconds DEFAULT_MQTT_KEEPALIVE = 60s;
inline constexpr std::chrono::seconds MAX_MQTT_KEEPALIVE = 65535s;

// ---- Home Assistant ----
inline constexpr std::string_view DEFAULT_DISCOVERY_PREFIX =
    "homeassistant";  // HA default (docs/conventions.md §2.1)
inline constexpr std::string_view DEFAULT_HA_STATUS_TOPIC = "homeassistant/status";  // HA birth/LWT (§2.2)

// ---- Cloud ----
inline constexpr std::string_view DEFAULT_CLOUD_REGION = "eu";

// ---- LAN discovery (docs/protocol.md §1, §7) ----
inline constexpr uint16_t DISCOVERY_PORT_V31 = 6666;  // plaintext 3.1 broadcasts
inline constexpr uint16_t DISCOVERY_PORT_V33 = 6667;  // encrypted 3.2-3.5 broadcasts
inline constexpr uint16_t DISCOVERY_PORT_APP = 7000;  // 3.5 solicitation replies
inline constexpr std::string_view DEFAULT_DISCOVERY_BIND = "0.0.0.0";
// tinytuya repeats its 3.5 solicitation every 6 s while scanning (docs/protocol.md §7).
inline constexpr std::chrono::seconds DEFAULT_DISCOVERY_REQUEST_INTERVAL = 6s;

// ---- Device sessions (the "session" section: one set of timings for every LAN session) ----
// A LAN connect takes milliseconds; 5 s also covers a device still bringing its Wi-Fi up. Below 0.5 s a
// busy access point makes healthy devices look dead; beyond a minute a dead address blocks for nothing.
inline constexpr std::chrono::milliseconds DEFAULT_CONNECT_TIMEOUT = 5s;
inline constexpr std::chrono::milliseconds MIN_CONNECT_TIMEOUT = 500ms;
inline constexpr std::chrono::milliseconds MAX_CONNECT_TIMEOUT = 60s;
// Replies come in < 0.5 s at p99; 3 s leaves room for busy devices. Waiting longer than the ~30 s after
// which devices drop an idle socket (docs/protocol.md §6.3) means waiting on a link that is gone.
inline constexpr std::chrono::milliseconds DEFAULT_RESPONSE_TIMEOUT = 3s;
inline constexpr std::chrono::milliseconds MIN_RESPONSE_TIMEOUT = 500ms;
inline constexpr std::chrono::milliseconds MAX_RESPONSE_TIMEOUT = 30s;
// Reconnect back-off doubles from reconnect_min to reconnect_max after each failed attempt. Faster than
// 10 attempts a second only hammers a device that is rebooting; an hour-long gap hides a device that
// came back.
inline constexpr std::chrono::milliseconds DEFAULT_RECONNECT_MIN = 1s;
inline constexpr std::chrono::milliseconds DEFAULT_RECONNECT_MAX = 60s;
inline constexpr std::chrono::milliseconds MIN_RECONNECT_DELAY = 100ms;
inline constexpr std::chrono::milliseconds MAX_RECONNECT_DELAY = 1h;
// How long a command for an offline device waits for the link before it fails. A command carried out
// minutes after it was sent surprises more than one that fails.
inline constexpr std::chrono::milliseconds DEFAULT_OFFLINE_COMMAND_TIMEOUT = 10s;
inline constexpr std::chrono::milliseconds MIN_OFFLINE_COMMAND_TIMEOUT = 1s;
inline constexpr std::chrono::milliseconds MAX_OFFLINE_COMMAND_TIMEOUT = 5min;

// ---- Devices ----
inline constexpr uint16_t DEFAULT_DEVICE_PORT = 6668;  // TCP command channel (docs/protocol.md §1)
// Heartbeat after 10 s of send-idle: tuyapi and localtuya use 10 s, devices drop idle sockets after ~30 s
// (docs/protocol.md §6.3, §10 item 2).
inline constexpr std::chrono::seconds DEFAULT_HEARTBEAT_INTERVAL = 10s;
inline constexpr std::chrono::seconds MIN_HEARTBEAT_INTERVAL = 1s;
// Above this the device has usually closed the socket already (~30 s idle, docs/protocol.md §6.3).
inline constexpr std::chrono::seconds MAX_HEARTBEAT_INTERVAL = 25s;
// Full DP_QUERY resync. Devices push every change, so polling is a safety net; "poll >= 5-10 s, prefer
// pushes" (docs/protocol.md §6.3, §10 last line). 0 in the config disables polling.
inline constexpr std::chrono::seconds DEFAULT_POLL_INTERVAL = 60s;
// "Don't poll faster than ~1/s" (docs/protocol.md §6.3).
inline constexpr std::chrono::seconds MIN_POLL_INTERVAL = 1s;
// Metering plugs: refresh energy DPs every 30 s when an UPDATEDPS list is set (docs/protocol.md §8, §10 item
// 8; 5-10 s is the fastest seen in the field, slower is kinder to the device).
inline constexpr std::chrono::seconds DEFAULT_UPDATEDPS_INTERVAL = 30s;
inline constexpr std::chrono::seconds MIN_UPDATEDPS_INTERVAL = 5s;
// Large dpId lists crashed plugs (localtuya#549): warn above this many ids.
inline constexpr size_t UPDATEDPS_WARN_SIZE = 8;
// 0 = no limit: all DPs of a command in one CONTROL. Set 1 for devices that ignore multi-DP writes
// (docs/protocol.md §10 item 9).
inline constexpr uint32_t DEFAULT_MAX_DPS_PER_WRITE = 0;
// Spacing between two writes to one device: rapid commands reboot some devices (docs/conventions.md §3.6).
inline constexpr std::chrono::milliseconds DEFAULT_WRITE_PACING = 100ms;
inline constexpr std::chrono::milliseconds MAX_WRITE_PACING = 10000ms;
// Tuya local keys are 16 characters used as raw AES-128 key bytes (docs/protocol.md §1).
inline constexpr size_t LOCAL_KEY_LENGTH = 16;
// DP ids seen in the wild reach the 200s (IR/vendor DPs, docs/protocol.md §8); they are one byte in the SDK.
inline constexpr int MIN_DP_ID = 1;
inline constexpr int MAX_DP_ID = 255;
// A device keeps at most this many DPs (the per-device "max_dps"): every id the protocol can name. A
// device that reports more (new ids in every frame) is refused what is over, so it cannot grow the
// gateway's memory and its state messages without bound; a lower limit can be configured.
inline constexpr uint32_t DEFAULT_MAX_DPS = MAX_DP_ID;
// The longest DP value kept, in bytes of its JSON text: raw DPs (IR codes, schedules) stay well below it.
inline constexpr size_t MAX_DP_VALUE_BYTES = 8192;
// All of a device's DP values together, so that its state message stays bounded (the message carries the
// values twice, as properties and as "dps"): far above any real device's few hundred bytes.
inline constexpr size_t MAX_DEVICE_DPS_BYTES = 65536;

// ---- Lights ----
// Tuya colour temperature is a 0-255 (v1) or 0-1000 (v2) position between the warmest and coolest white
// the bulb makes; the Kelvin ends are not reported. 2700-6500 K is the range of typical RGBCW bulbs
// (docs/conventions.md §2.6(b) discovery example) and is overridable per device.
inline constexpr int DEFAULT_KELVIN_MIN = 2700;
inline constexpr int DEFAULT_KELVIN_MAX = 6500;
inline constexpr int MIN_KELVIN = 1000;
inline constexpr int MAX_KELVIN = 20000;

// ---- Misc ----
inline constexpr std::string_view DEFAULT_LOG_LEVEL = "info";
// Device names become MQTT topic levels and HA object ids: keep them reasonable.
inline constexpr size_t MAX_NAME_LENGTH = 128;
inline constexpr size_t MAX_DEVICE_ID_LENGTH = 64;

}  // namespace t2m::config

// Wire values of the Tuya LAN protocol (docs/protocol.md §1-§3, §7). One place for every number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace t2m::proto {

enum class Version : uint8_t { V3_1 = 31, V3_2 = 32, V3_3 = 33, V3_4 = 34, V3_5 = 35 };

// "3.1".."3.5"; nullopt otherwise.
std::optional<Version> parse_version(std::string_view text);
std::string_view to_string(Version v);
// 3.4 and 3.5 negotiate a session key; 3.5 uses 6699 frames.
constexpr bool needs_session_key(Version v) {
  return v == Version::V3_4 || v == Version::V3_5;
}
constexpr bool uses_6699(Version v) {
  return v == Version::V3_5;
}

enum class Command : uint32_t {
  UDP = 0x00,
  AP_CONFIG = 0x01,
  ACTIVE = 0x02,
  SESS_KEY_NEG_START = 0x03,
  SESS_KEY_NEG_RESP = 0x04,
  SESS_KEY_NEG_FINISH = 0x05,
  UNBIND = 0x06,
  CONTROL = 0x07,
  STATUS = 0x08,
  HEART_BEAT = 0x09,
  DP_QUERY = 0x0A,
  QUERY_WIFI = 0x0B,
  TOKEN_BIND = 0x0C,
  CONTROL_NEW = 0x0D,
  ENABLE_WIFI = 0x0E,
  WIFI_INFO = 0x0F,
  DP_QUERY_NEW = 0x10,
  SCENE_EXECUTE = 0x11,
  UPDATEDPS = 0x12,
  UDP_NEW = 0x13,
  AP_CONFIG_NEW = 0x14,
  BOARDCAST_LPV34 = 0x23,
  REQ_DEVINFO = 0x25,
  LAN_EXT_STREAM = 0x40,
};

constexpr uint32_t PREFIX_55AA = 0x000055AA;
constexpr uint32_t SUFFIX_55AA = 0x0000AA55;
constexpr uint32_t PREFIX_6699 = 0x00006699;
constexpr uint32_t SUFFIX_6699 = 0x00009966;

constexpr size_t HEADER_SIZE_55AA = 16;  // prefix, seqno, cmd, length
constexpr size_t HEADER_SIZE_6699 = 18;  // prefix, reserved u16, seqno, cmd, length
constexpr size_t SUFFIX_SIZE = 4;
constexpr size_t RETCODE_SIZE = 4;
constexpr size_t CRC_SIZE = 4;
constexpr size_t HMAC_SIZE = 32;
constexpr size_t VERSION_HEADER_SIZE = 15;  // "3.x" + 12 bytes (zeros, or crc/seq/source from devices)
constexpr size_t V31_SIGNATURE_SIZE = 16;   // md5 hex slice in 3.1 CONTROL
constexpr size_t NONCE_SIZE = 16;

// Largest `length` field accepted before a frame is rejected without allocating. Real frames stay under
// ~1.5 KB (IR codes reach ~1 KB); Zigbee gateways with many sub-devices can send more, hence the margin.
constexpr uint32_t MAX_FRAME_LENGTH = 16 * 1024;

constexpr uint16_t PORT_TCP = 6668;
constexpr uint16_t PORT_UDP_PLAIN = 6666;      // 3.1 plaintext broadcasts
constexpr uint16_t PORT_UDP_ENCRYPTED = 6667;  // 3.2-3.5 encrypted broadcasts
constexpr uint16_t PORT_UDP_APP = 7000;        // 3.5 discovery requests and unicast replies

// MD5("yGAdlopoPVldABfn"): the key of every UDP discovery packet.
constexpr uint8_t UDP_KEY[16] = {0x6c, 0x1e, 0xc8, 0xe2, 0xbb, 0x9b, 0xb5, 0x9a,
                                 0xb5, 0x0b, 0x0d, 0xaf, 0x64, 0x9b, 0x41, 0x0a};

}  // namespace t2m::proto

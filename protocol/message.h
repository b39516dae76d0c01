// Per-version payload rules on top of frames (docs/protocol.md §4, §6.1): version headers,
// AES-ECB / GCM, 3.1's MD5-signed base64 CONTROL, device22 quirks. Used by both roles: the gateway
// (CLIENT) and the simulator (DEVICE).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "protocol/constants.h"
#include "protocol/errors.h"
#include "protocol/frame.h"

namespace t2m::proto {

enum class Role { CLIENT, DEVICE };

// A decoded application message.
struct Message {
  uint32_t seqno = 0;
  uint32_t cmd = 0;
  std::optional<uint32_t> retcode;  // device->client only
  std::string payload;              // plaintext JSON (or a device error string); empty for an ACK
  bool is_ack() const { return payload.empty(); }
};

// Encodes what `role` sends and decodes what the other side sends, for one connection. Holds the local
// key and, for 3.4/3.5, the session key once negotiated. Not thread-safe; no I/O.
class MessageCodec {
 public:
  // `local_key` must be 16 bytes (BAD_ARGUMENT from encode/decode otherwise).
  MessageCodec(Role role, Version version, Bytes local_key, bool device22 = false);

  Version version() const { return version_; }
  Role role() const { return role_; }
  bool device22() const { return device22_; }
  void set_device22(bool on) { device22_ = on; }

  // 3.4/3.5: frames after the handshake use this key. Cleared on reconnect.
  void set_session_key(Bytes key) { session_key_ = std::move(key); }
  void clear_session_key() { session_key_.clear(); }
  bool has_session_key() const { return !session_key_.empty(); }
  // 3.1-3.3 always; 3.4/3.5 once a session key is set.
  bool ready() const { return !needs_session_key(version_) || has_session_key(); }

  // Encodes `json` (compact, no spaces) as command `cmd`. An empty `json` gives an empty payload (an ACK
  // when the DEVICE role sends it). `iv` (12 random bytes) is required for 3.5 and ignored otherwise.
  // `retcode` is written only by the DEVICE role.
  PResult<Bytes> encode(uint32_t cmd, std::string_view json, uint32_t seqno, ByteView iv = {},
                        uint32_t retcode = 0) const;
  // Decodes one complete frame (as cut by FrameSplitter) written by the other role: verifies the check,
  // decrypts, strips version/source headers. A device error string (retcode != 0 or non-JSON text such as
  // "json obj data unvalid") is returned in Message::payload; interpret it with classify_payload().
  PResult<Message> decode(ByteView frame) const;

  // The same two operations on raw bytes, without the JSON/text expectations: `seal` frames any payload
  // (the handshake uses it for nonces and HMACs); `open` returns the verified, decrypted payload with
  // version/source headers stripped (never for the session-key commands 0x03-0x05) and no text check.
  PResult<Bytes> seal(uint32_t cmd, ByteView payload, uint32_t seqno, ByteView iv = {},
                      uint32_t retcode = 0) const;
  PResult<Frame> open(ByteView frame) const;

  // The key frames are currently protected with (local key, or session key when negotiated).
  ByteView active_key() const;

 private:
  Role role_;
  Version version_;
  Bytes local_key_;
  Bytes session_key_;
  bool device22_;
};

// True if `cmd` gets the 15-byte version header in front of its JSON (all but DP_QUERY, DP_QUERY_NEW,
// UPDATEDPS, HEART_BEAT, the session-key commands and LAN_EXT_STREAM; §4.2).
bool takes_version_header(uint32_t cmd);

enum class PayloadKind { EMPTY, JSON, DEVICE_ERROR };
// "json obj data unvalid" (device22), "data format error", "devid not found", ... are DEVICE_ERROR.
PayloadKind classify_payload(std::string_view payload);
// True when a reply says the device wants device22-style queries (§4.5).
bool is_device22_error(std::string_view payload);

}  // namespace t2m::proto

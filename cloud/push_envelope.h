// Tuya push messages, both channels (Pulsar WebSocket and MQTT open-hub), docs/cloud.md §6: the Pulsar
// frame, the outer envelope {protocol, pv, t, data}, decryption of `data` (cipher chosen by the Pulsar
// `em` property or by the open-hub msg_encrypted_version, never by `pv`), and the business payload turned
// into typed events. Pure: no I/O, no clock, no logging; every failure is a value with a stable code.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace t2m::cloud::push {

// Stable error codes (Error::code), one per counted failure reason (docs/cloud.md §8.11).
inline constexpr std::string_view ERR_BAD_FRAME = "push.bad_frame";        // Pulsar frame not JSON / no id
inline constexpr std::string_view ERR_BAD_ENVELOPE = "push.bad_envelope";  // outer JSON malformed
inline constexpr std::string_view ERR_BAD_BASE64 = "push.bad_base64";      // payload or data not base64
inline constexpr std::string_view ERR_DECRYPT = "push.decrypt_failed";     // padding / GCM tag / sizes
inline constexpr std::string_view ERR_BAD_PAYLOAD = "push.bad_payload";    // decrypted text not usable
inline constexpr std::string_view ERR_UNKNOWN_CIPHER = "push.unknown_cipher";  // em / version unknown
inline constexpr std::string_view ERR_TOO_LARGE = "push.too_large";

// Pulsar `properties.em` values (Tuya Java SDK MqConstants).
inline constexpr std::string_view EM_AES_ECB = "aes_ecb";
inline constexpr std::string_view EM_AES_GCM = "aes_gcm";
// Open-hub msg_encrypted_version values.
inline constexpr std::string_view OPENHUB_V1 = "1.0";
inline constexpr std::string_view OPENHUB_V2 = "2.0";

// Business protocol numbers (§6.0).
inline constexpr int PROTOCOL_STATUS = 4;
inline constexpr int PROTOCOL_DEVICE_EVENT = 20;
inline constexpr int PROTOCOL_SCENE = 25;

// ---- Credentials -> keys (§6.a, §6.b) ----

// WS `password` header: md5hex(accessId + md5hex(accessSecret))[8:24], 16 lower-case hex chars.
std::string pulsar_password(std::string_view access_id, std::string_view access_secret);
// AES-128 key: ASCII accessSecret[8..24). nullopt if the secret is shorter than 24 characters.
std::optional<Bytes> pulsar_key(std::string_view access_secret);
// AES-128 key: ASCII password[8..24) of the open-hub config. nullopt if too short.
std::optional<Bytes> openhub_key(std::string_view password);

// ---- Pulsar WebSocket consumer frame ----

struct PulsarFrame {
  std::string message_id;  // opaque; echoed verbatim in the ack
  std::string payload;     // base64 of the outer envelope JSON
  std::string em;          // properties.em, empty when absent (means ECB)
  int redelivery_count = 0;
  std::string publish_time;
};
Result<PulsarFrame> parse_pulsar_frame(std::string_view text);
// The ack the consumer sends back: {"messageId":"<same>"}.
std::string pulsar_ack(std::string_view message_id);

// ---- Outer envelope (§6.0) ----

struct Envelope {
  int protocol = 0;
  std::string pv;
  int64_t t_ms = 0;    // normalised to Unix ms; 0 when absent
  std::string t_text;  // `t` exactly as its decimal digits were sent (open-hub 2.0 AAD), empty if absent
  std::optional<uint64_t> t_integer;  // `t` as an integer when it was one (6-byte AAD variant)
  std::string data;                   // base64 ciphertext
};
Result<Envelope> parse_envelope(std::string_view json_text);

// Tuya sends times in seconds, milliseconds or as decimal strings (§6.0): returns Unix ms, or nullopt
// if `v` is not a usable time. Values below 1e11 are seconds, above 1e14 microseconds.
std::optional<int64_t> normalise_time_ms(const nlohmann::json& v);

// ---- Decryption ----

// Pulsar: em absent/"aes_ecb" -> AES-128-ECB + PKCS#7; "aes_gcm" -> nonce(12) || ct || tag(16), no AAD.
Result<std::string> decrypt_pulsar_data(std::string_view data_b64, std::string_view em, ByteView key);

// Which GCM AAD form verified an open-hub 2.0 message (§9.1: the two SDKs disagree).
enum class AadForm { NONE, DECIMAL_TEXT, BE48 };
std::string_view to_string(AadForm form);
struct OpenhubPlain {
  std::string text;
  AadForm aad = AadForm::NONE;
};
// Open-hub: "1.0" -> ECB + PKCS#7; "2.0" -> ivLen(4, BE) || iv || ct || tag(16), AAD = `t` as ASCII
// decimal (tried first) or as a 6-byte big-endian integer.
Result<OpenhubPlain> decrypt_openhub_data(const Envelope& env, std::string_view version, ByteView key);

// ---- Typed events ----

struct StatusItem {
  std::string code;          // empty on the dpId-keyed variant
  std::optional<int> dp_id;  // from the "<dpId>":"<text>" pair or a "dpId" field
  nlohmann::json value;
  int64_t t_ms = 0;  // item time, else the envelope's
};
struct StatusReport {
  std::string dev_id;
  std::string data_id;
  std::string product_key;
  std::vector<StatusItem> items;
};
struct Online {
  std::string dev_id;
};
struct Offline {
  std::string dev_id;
};
struct NameUpdate {
  std::string dev_id;
  std::string name;
};
struct DpNameUpdate {
  std::string dev_id;
  std::optional<int> dp_id;
  std::string name;
};
// bizData.token is deliberately not kept: it is a pairing credential.
struct BindUser {
  std::string dev_id;
  std::string uid;
  std::string owner_id;
};
struct Delete {
  std::string dev_id;
  std::string uid;
  std::string owner_id;
};
// Values as sent; semantics assumed equal to the OpenAPI upgrade_status (§5.3/§5.4).
struct UpgradeStatus {
  std::string dev_id;
  int status = -1;
  std::optional<int> progress;
  std::optional<int> module_type;
  std::string version;
  std::string description;
};
struct SceneAction {
  std::string id;
  std::string entity_id;
  std::optional<int> exec_status;
  int64_t execute_time_ms = 0;
};
struct SceneRun {
  std::string scene_id;
  std::string name;
  std::string gid;
  std::string uid;
  std::vector<SceneAction> actions;
};
// Unknown protocol or bizCode: passed on (and counted), never fatal.
struct Unknown {
  int protocol = 0;
  std::string biz_code;
  std::string dev_id;
};

using PushEvent = std::variant<StatusReport, Online, Offline, NameUpdate, DpNameUpdate, BindUser, Delete,
                               UpgradeStatus, SceneRun, Unknown>;

// One decoded message: the event plus what is known about where it came from.
struct PushMessage {
  int protocol = 0;
  int64_t t_ms = 0;     // envelope time (ordering for non-status events, §10.5)
  std::string data_id;  // protocol 4 dataId (a per-report id, used for de-duplication), else empty
  PushEvent event;
};

// Device id an event concerns, empty for scenes.
std::string_view event_dev_id(const PushEvent& ev);
std::string_view event_name(const PushEvent& ev);

// Decrypted business JSON -> message. Unknown protocols/bizCodes give an Unknown event; structurally
// wrong payloads (not an object, protocol 4 without devId or status array) give ERR_BAD_PAYLOAD.
Result<PushMessage> decode_business(int protocol, int64_t envelope_t_ms, std::string_view plain_json);

// ---- Test/fake helpers: the inverse operations (used by the fake servers and tests) ----

std::string encrypt_ecb_data(std::string_view plain, ByteView key);  // base64(ECB+PKCS#7)
// base64(nonce || ct || tag); `nonce` must be 12 bytes.
std::string encrypt_pulsar_gcm_data(std::string_view plain, ByteView key, ByteView nonce);
// base64(ivLen || iv || ct || tag) with the AAD form given.
std::string encrypt_openhub_gcm_data(std::string_view plain, ByteView key, ByteView iv, AadForm aad,
                                     uint64_t t);
// {"data":..,"protocol":..,"pv":"2.0","sign":"..","t":t} with keys in that order (as §6.c).
std::string make_envelope(int protocol, std::string_view data_b64, uint64_t t);

}  // namespace t2m::cloud::push

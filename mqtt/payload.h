// Payloads of incoming MQTT commands and of bridge responses (docs/conventions.md §1.1, §1.3).
// Pure: no I/O. nlohmann exceptions stop here and become Errors.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace t2m::mqtt {

// Commands are small (a few DPs); anything bigger is a mistake or an attack. bridge/request payloads
// (device/options with overrides, device/add) get a larger allowance.
inline constexpr size_t MAX_COMMAND_PAYLOAD_BYTES = 16 * 1024;
inline constexpr size_t MAX_REQUEST_PAYLOAD_BYTES = 256 * 1024;

// <name>/set. A JSON object is returned as is. A bare, non-JSON word ON/OFF/TOGGLE/OPEN/CLOSE/STOP
// (any case, surrounding whitespace ignored) becomes {"state":"<WORD>"} in upper case, as in
// zigbee2mqtt. Errors: mqtt_payload_too_large, mqtt_payload_empty, mqtt_payload_invalid_json (with
// the byte offset; payload text is never echoed, it may hold a key), mqtt_payload_not_object.
Result<nlohmann::json> parse_set_payload(std::string_view payload);

// <name>/set/<attr>: a bare value.
//   true / false / null            -> JSON boolean / null
//   JSON numbers (-3, 2.5, 1e3)    -> number (integer when integral in the text)
//   ON / OFF / TOGGLE (any case)   -> "ON" / "OFF" / "TOGGLE" (the DP layer maps them by DP type)
//   "quoted"                       -> the JSON string (escapes decoded)
//   {...} or [...]                 -> parsed JSON (error with byte offset if invalid)
//   anything else                  -> the trimmed text as a string
// Errors: mqtt_payload_too_large, mqtt_payload_empty, mqtt_payload_invalid_json.
Result<nlohmann::json> parse_bare_value(std::string_view payload);

// <name>/get: which attributes to refresh. Empty payload -> {} (everything); a JSON object -> its keys
// ({"power":"","voltage":""}); a JSON array of strings; a bare word -> that one attribute.
Result<std::vector<std::string>> parse_get_payload(std::string_view payload);

struct BridgeRequest {
  // A JSON object without "transaction", a JSON scalar, or a bare string (legacy simple requests
  // such as permit_join "true"); an empty payload gives {}.
  nlohmann::json data = nlohmann::json::object();
  // Echoed in the response; null when absent (a JSON null "transaction" counts as absent). Not a
  // std::optional<json>: GCC 12 reports a false maybe-uninitialized on it under -fsanitize=address.
  nlohmann::json transaction;
  bool has_transaction() const { return !transaction.is_null(); }
};
Result<BridgeRequest> parse_bridge_request(std::string_view payload);

// bridge/response payloads: {"data":{...},"status":"ok"[,"transaction":...]} and
// {"data":{},"error":"...","status":"error"[,"transaction":...]}. Invalid UTF-8 in strings is
// replaced rather than thrown.
// A null `transaction` is left out.
std::string make_response(const nlohmann::json& data, const nlohmann::json& transaction = nullptr);
std::string make_error_response(std::string_view message, const nlohmann::json& transaction = nullptr);

// Serialises any JSON for MQTT without throwing (invalid UTF-8 replaced by U+FFFD).
std::string dump_json(const nlohmann::json& j);

}  // namespace t2m::mqtt

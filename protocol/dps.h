// The Tuya data-point (DP) value model: types, specifications and value conversion (pure).
//
// Tuya defines DP types bool, value (integer), enum, string, raw, fault (bitmap), plus JSON-typed DPs
// (docs/protocol.md §8). The LAN carries no metadata: scale, range, step, unit and enum values come
// from the cloud "specification" (docs/cloud.md §4.3) or tinytuya's devices.json "mapping", both of which
// are parsed here into a DpSpec.
//
// Two directions of conversion:
//  - wire -> real: what a device reports (JSON in `dps`) to the value users see, e.g. cur_voltage 2301 with
//    scale 1 -> 230.1. Lenient: a device's report is never refused for being out of range, only for a type
//    that cannot be read at all.
//  - user -> wire: what a user asks for to what the device accepts. Strict: wrong types, out-of-range
//    numbers, unknown enum values, too-long strings and invalid base64 are refused with an Error naming
//    the DP, the value and what is allowed. Friendly spellings are accepted where unambiguous
//    ("ON"/"off"/"true"/1 for bool, "42" for an integer, a case-insensitive enum match).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace t2m::proto {

enum class DpType { BOOL, INTEGER, ENUM, STRING, RAW, BITMAP, JSON };

// Lower-case canonical names: "bool", "integer", "enum", "string", "raw", "bitmap", "json".
std::string_view to_string(DpType type);

// JSON text of a value that may hold strings that are not UTF-8 (an MQTT bare value is taken as it is):
// such bytes become U+FFFD instead of nlohmann throwing type_error 316.
std::string dump_lossy(const nlohmann::json& value);
// dump_lossy() cut to a length fit for an error message.
std::string quote_value(const nlohmann::json& value);
// Case-insensitive. Accepts Tuya's spellings: Boolean/Bool, Integer/Value, Enum, String/Char, Raw,
// Bitmap/Fault, Json.
std::optional<DpType> parse_dp_type(std::string_view name);

// Stable error codes (Error::code) produced by this file.
inline constexpr std::string_view DP_ERR_TYPE = "dp_type";      // value of the wrong type
inline constexpr std::string_view DP_ERR_RANGE = "dp_range";    // number outside min..max
inline constexpr std::string_view DP_ERR_STEP = "dp_step";      // not on the step grid (strict policy)
inline constexpr std::string_view DP_ERR_ENUM = "dp_enum";      // not one of the enum values
inline constexpr std::string_view DP_ERR_LENGTH = "dp_length";  // string/raw longer than max length
inline constexpr std::string_view DP_ERR_BASE64 = "dp_base64";  // raw value is not valid base64
inline constexpr std::string_view DP_ERR_JSON = "dp_json";      // JSON DP value is not JSON
inline constexpr std::string_view DP_ERR_SPEC = "dp_spec";      // a specification could not be read

// Largest scale accepted: 10^9 still fits the integer range Tuya uses (i32) comfortably.
inline constexpr int DP_MAX_SCALE = 9;

struct DpSpec {
  DpType type = DpType::RAW;
  // INTEGER: raw (unscaled, wire) bounds and step. has_range is false when the source gave none.
  bool has_range = false;
  int64_t min = 0;
  int64_t max = 0;
  int64_t step = 1;
  int scale = 0;  // real = raw / 10^scale
  std::string unit;
  // ENUM: allowed values (exact wire spelling). BITMAP: bit labels, bit 0 first.
  std::vector<std::string> range;
  // STRING/RAW/BITMAP: maximum length (characters for STRING, decoded bytes for RAW, bits for BITMAP);
  // 0 = unlimited.
  size_t max_len = 0;

  bool operator==(const DpSpec&) const = default;
};

// Parses a specification entry. `values` may be a JSON object, a JSON-encoded string (cloud v1.x),
// an empty string or null. Integer keys: min, max, step, scale, unit; enum: range; string: maxlen;
// bitmap: label, maxlen. Unknown keys are ignored.
Result<DpSpec> parse_dp_spec(std::string_view type_name, const nlohmann::json& values);
// Parses {"type": ..., "values": ...} (a tinytuya mapping entry or a cloud functions/status entry).
Result<DpSpec> parse_dp_spec(const nlohmann::json& entry);
// The "values" object for a spec (inverse of parse_dp_spec), used when saving a device list.
nlohmann::json spec_values_to_json(const DpSpec& spec);

// 10^scale as a double (scale clamped to 0..DP_MAX_SCALE).
double scale_factor(int scale);

// Wire -> real. INTEGER: raw / 10^scale (an integer JSON number when scale is 0, else a double);
// BOOL: true/false (0/1 tolerated); ENUM/STRING/RAW: the string; BITMAP: the integer; JSON: the parsed
// value when the device sends JSON text, else the value as is. `dp` names the DP in error messages.
Result<nlohmann::json> wire_to_value(const DpSpec& spec, std::string_view dp, const nlohmann::json& wire);

// What to do with an integer that is within range but not on the min + k*step grid.
enum class StepPolicy {
  SNAP,    // move it to the nearest grid point inside the range (default: HA sliders, rounding)
  STRICT,  // refuse it with DP_ERR_STEP
};

// User -> wire. The result is exactly what goes into a CONTROL `dps` object.
// INTEGER: real value (number or numeric string) * 10^scale, which must be a whole number, within
// min..max (refused, never clamped), on the step grid (see StepPolicy). BOOL: true/false, 1/0,
// "ON"/"OFF", "true"/"false", "1"/"0", "yes"/"no" (case-insensitive). ENUM: one of the values (an exact
// match first, then a unique case-insensitive match). STRING: a string (numbers/bools are written as
// text) no longer than max_len. RAW: a valid base64 string. BITMAP: an integer in 0..2^bits-1 or an
// array of label names. JSON: an object/array (sent as compact JSON text) or a string holding JSON.
Result<nlohmann::json> value_to_wire(const DpSpec& spec, std::string_view dp, const nlohmann::json& value,
                                     StepPolicy policy = StepPolicy::SNAP);

// Parses a friendly boolean ("ON", "off", "true", "1", "yes", true, 1 ...). nullopt if not a boolean.
std::optional<bool> parse_bool(const nlohmann::json& value);

// True if `text` is canonical base64 (RFC 4648 alphabet, '=' padding, length a multiple of 4).
bool is_base64(std::string_view text);

// A short human description of what a spec allows, e.g. "integer 0..5000 (step 1, scale 1, V)",
// "one of [open, stop, close]", "boolean". Used in error messages.
std::string describe(const DpSpec& spec);

}  // namespace t2m::proto

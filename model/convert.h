// The two conversions the gateway runs on every message (pure): device DPs -> MQTT state JSON, and MQTT
// set commands -> DPs to write. See derived_model.h for the layout of the state JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/derived_model.h"

namespace t2m::model {

// Error codes (Error::code) of command conversion, besides proto::DP_ERR_* from value checks.
inline constexpr std::string_view CMD_ERR_UNKNOWN = "unknown_property";  // no such property on the device
inline constexpr std::string_view CMD_ERR_READ_ONLY = "read_only";       // the DP cannot be written
inline constexpr std::string_view CMD_ERR_PAYLOAD = "bad_payload";       // not an object / bad value shape
inline constexpr std::string_view CMD_ERR_STATE = "state_unknown";  // TOGGLE etc. before the state is known

// Device `dps` (wire values; pass the merged cache of everything reported so far, since STATUS pushes
// carry only what changed) -> the MQTT state object: every DP by its property name in real units, the
// entity keys (light/cover/main switch), and "dps": the raw object. Values that cannot be read are kept
// raw and described in `problems` (if given) for counting/logging; state is never refused.
nlohmann::json state_from_dps(const DerivedModel& model, const nlohmann::json& dps,
                              std::vector<Error>* problems = nullptr);

// An MQTT set object -> the wire `dps` object to write ({"1": true, "22": 500}).
// Keys: property names (codes or DP ids), entity keys ("state", "brightness", "color", "color_temp",
// "position", and their "_<entity>" suffixed forms), and "dps" (raw escape hatch: {"dps":{"1":true}} is
// written as is, after a type check against the DP's spec). Several keys at once are merged into one
// write. Values are validated (proto::value_to_wire); every problem is reported in one Error whose
// message names each DP and what it allows. `current_dps` (the cached wire state, may be null) is used for
// TOGGLE, for the colour wire format and for brightness in colour mode.
// Light commands follow HA's JSON schema: {"state":"ON","brightness":0-255,"color":{"h":..,"s":..} or
// {"r","g","b"},"color_temp":kelvin (a value < 1000 is taken as mireds)}; "transition", "effect" and
// "color_mode" are ignored. Cover: {"state":"OPEN"|"CLOSE"|"STOP"} or {"position":0-100}.
Result<nlohmann::json> command_to_dps(const DerivedModel& model, const nlohmann::json& command,
                                      const nlohmann::json& current_dps = nullptr);

// One property with a bare value (the <base>/<device>/set/<property> topic). `value` is what the MQTT
// payload parsed to (a JSON scalar; a payload that is not JSON should be passed as a string).
Result<nlohmann::json> command_to_dps(const DerivedModel& model, std::string_view property,
                                      const nlohmann::json& value, const nlohmann::json& current_dps);

}  // namespace t2m::model

// Colour conversions between Tuya's light DPs and Home Assistant's JSON-schema light (pure).
//
// Tuya colour data comes in three wire forms:
//  - HEX14 (v1 lights, DP 5 "colour_data"): "rrggbb0hhhssvv": RGB as 6 hex chars, then the hue as 4 hex
//    chars (0-360), saturation and value as 2 hex chars each (0-255).
//  - HEX12 (v2 lights, DP 24 "colour_data_v2" on the LAN): "hhhhssssvvvv": hue 0-360, saturation and
//    value 0-1000, 4 hex chars each.
//  - JSON (v2 through the cloud, some LAN firmwares): {"h":0-360,"s":0-1000,"v":0-1000}.
// Home Assistant uses hs colour (h 0-360, s 0-100) plus brightness 0-255, and colour temperature in
// Kelvin. Tuya's colour temperature is a position 0..max (255 on v1, 1000 on v2) from the warmest to the
// coolest white; the Kelvin ends are assumed (config::DEFAULT_KELVIN_MIN..MAX, 2700-6500 K) and configurable
// per device (kelvin_min / kelvin_max), since bulbs do not report them.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

namespace t2m::model {

// The scales Home Assistant uses for colour: hue in degrees, brightness 0-255, saturation in percent.
inline constexpr int HUE_MAX = 360;
inline constexpr int HA_BRIGHTNESS_MAX = 255;
inline constexpr double HA_SATURATION_MAX = 100.0;

enum class ColourFormat { HEX12, HEX14, JSON };

// Tuya HSV in the DP's own units: h 0-360; s and v 0..sv_max (1000 for HEX12/JSON, 255 for HEX14).
struct TuyaHsv {
  int h = 0;
  int s = 0;
  int v = 0;
  bool operator==(const TuyaHsv&) const = default;
};

struct Rgb {
  uint8_t r = 0;
  uint8_t g = 0;
  uint8_t b = 0;
  bool operator==(const Rgb&) const = default;
};

// The s/v scale of a format: 255 for HEX14, 1000 otherwise.
int sv_max(ColourFormat format);

// Reads any of the three wire forms (a JSON object or a string holding JSON is JSON; 14 hex chars HEX14;
// 12 hex chars HEX12). `format` receives the detected form. nullopt if unreadable or out of range.
std::optional<TuyaHsv> parse_colour(const nlohmann::json& wire, ColourFormat* format = nullptr);
// Writes a colour in the given form (HEX14 includes the RGB equivalent; JSON is sent as JSON text, as
// JSON-typed DPs are on the LAN).
nlohmann::json format_colour(const TuyaHsv& hsv, ColourFormat format);

// HSV -> RGB with h 0-360, s and v 0..1 (standard hexcone model, rounded to the nearest 8-bit value).
Rgb hsv_to_rgb(double h, double s, double v);
// RGB -> HSV: h 0-360 (0 for greys), s and v 0..1.
void rgb_to_hsv(Rgb rgb, double& h, double& s, double& v);

// Brightness between a Tuya range 0..raw_max and HA's 0-255: round(raw * 255 / raw_max). Tuya -> HA.
int ha_brightness(int raw, int raw_max);
// HA -> Tuya: round(ha * raw_max / 255), raised to raw_min (bulbs refuse values under their minimum,
// e.g. 10 on v2, 25 on v1; HA brightness 1 must still mean "dimmest", not an error).
int tuya_brightness(int ha, int raw_min, int raw_max);
// HA saturation 0-100 (one decimal) <-> Tuya 0..sv_max.
double ha_saturation(int s, int s_max);
int tuya_saturation(double ha_s, int s_max);

// Colour temperature: linear between kelvin_min (raw 0) and kelvin_max (raw raw_max), rounded.
int kelvin_from_tuya(int raw, int raw_max, int kelvin_min, int kelvin_max);
// Kelvin outside kelvin_min..kelvin_max is clamped by the caller's range check, not here.
int tuya_from_kelvin(int kelvin, int raw_max, int kelvin_min, int kelvin_max);

}  // namespace t2m::model

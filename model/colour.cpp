#include "model/colour.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

namespace t2m::model {
namespace {

constexpr int SV_MAX_V1 = 255;
constexpr int SV_MAX_V2 = 1000;
constexpr size_t HEX12_LEN = 12;
constexpr size_t HEX14_LEN = 14;
constexpr double HUE_SECTOR = 60.0;
constexpr double CHANNEL_MAX = 255.0;
// HA shows saturation with one decimal.
constexpr double SATURATION_DECIMALS = 10.0;

std::optional<int> hex_field(const std::string& s, size_t pos, size_t len) {
  int out = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    const char c = s[i];
    int d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    out = out * 16 + d;
  }
  return out;
}

bool in_range(const TuyaHsv& c, int max_sv) {
  return c.h >= 0 && c.h <= HUE_MAX && c.s >= 0 && c.s <= max_sv && c.v >= 0 && c.v <= max_sv;
}

std::optional<TuyaHsv> from_json_object(const nlohmann::json& o) {
  if (!o.is_object() || !o.contains("h") || !o.contains("s") || !o.contains("v")) return std::nullopt;
  if (!o["h"].is_number() || !o["s"].is_number() || !o["v"].is_number()) return std::nullopt;
  TuyaHsv c{static_cast<int>(std::lround(o["h"].get<double>())),
            static_cast<int>(std::lround(o["s"].get<double>())),
            static_cast<int>(std::lround(o["v"].get<double>()))};
  if (!in_range(c, SV_MAX_V2)) return std::nullopt;
  return c;
}

}  // namespace

int sv_max(ColourFormat format) {
  return format == ColourFormat::HEX14 ? SV_MAX_V1 : SV_MAX_V2;
}

std::optional<TuyaHsv> parse_colour(const nlohmann::json& wire, ColourFormat* format) {
  if (wire.is_object()) {
    if (format) *format = ColourFormat::JSON;
    return from_json_object(wire);
  }
  if (!wire.is_string()) return std::nullopt;
  const std::string s = wire.get<std::string>();
  if (!s.empty() && s.front() == '{') {
    const auto parsed = nlohmann::json::parse(s, nullptr, false);
    if (parsed.is_discarded()) return std::nullopt;
    if (format) *format = ColourFormat::JSON;
    return from_json_object(parsed);
  }
  if (s.size() == HEX12_LEN) {
    auto h = hex_field(s, 0, 4), sat = hex_field(s, 4, 4), v = hex_field(s, 8, 4);
    if (!h || !sat || !v) return std::nullopt;
    TuyaHsv c{*h, *sat, *v};
    if (!in_range(c, SV_MAX_V2)) return std::nullopt;
    if (format) *format = ColourFormat::HEX12;
    return c;
  }
  if (s.size() == HEX14_LEN) {
    // rrggbb is redundant with hhhssvv; hsv is what the bulb uses.
    if (!hex_field(s, 0, 6)) return std::nullopt;
    auto h = hex_field(s, 6, 4), sat = hex_field(s, 10, 2), v = hex_field(s, 12, 2);
    if (!h || !sat || !v) return std::nullopt;
    TuyaHsv c{*h, *sat, *v};
    if (!in_range(c, SV_MAX_V1)) return std::nullopt;
    if (format) *format = ColourFormat::HEX14;
    return c;
  }
  return std::nullopt;
}

nlohmann::json format_colour(const TuyaHsv& c, ColourFormat format) {
  char buf[32];
  switch (format) {
    case ColourFormat::HEX12:
      std::snprintf(buf, sizeof buf, "%04x%04x%04x", static_cast<unsigned>(c.h), static_cast<unsigned>(c.s),
                    static_cast<unsigned>(c.v));
      return std::string(buf);
    case ColourFormat::HEX14: {
      const Rgb rgb = hsv_to_rgb(c.h, c.s / CHANNEL_MAX, c.v / CHANNEL_MAX);
      std::snprintf(buf, sizeof buf, "%02x%02x%02x%04x%02x%02x", rgb.r, rgb.g, rgb.b,
                    static_cast<unsigned>(c.h), static_cast<unsigned>(c.s), static_cast<unsigned>(c.v));
      return std::string(buf);
    }
    case ColourFormat::JSON:
      return nlohmann::json{{"h", c.h}, {"s", c.s}, {"v", c.v}}.dump();
  }
  return nullptr;
}

Rgb hsv_to_rgb(double h, double s, double v) {
  h = std::fmod(std::max(h, 0.0), static_cast<double>(HUE_MAX));
  s = std::clamp(s, 0.0, 1.0);
  v = std::clamp(v, 0.0, 1.0);
  const double c = v * s;
  const double hp = h / HUE_SECTOR;
  const double x = c * (1 - std::fabs(std::fmod(hp, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(hp)) {
    case 0:
      r = c, g = x;
      break;
    case 1:
      r = x, g = c;
      break;
    case 2:
      g = c, b = x;
      break;
    case 3:
      g = x, b = c;
      break;
    case 4:
      r = x, b = c;
      break;
    default:
      r = c, b = x;
      break;
  }
  const double m = v - c;
  auto to8 = [](double f) {
    return static_cast<uint8_t>(std::lround(std::clamp(f, 0.0, 1.0) * CHANNEL_MAX));
  };
  return Rgb{to8(r + m), to8(g + m), to8(b + m)};
}

void rgb_to_hsv(Rgb rgb, double& h, double& s, double& v) {
  const double r = rgb.r / CHANNEL_MAX, g = rgb.g / CHANNEL_MAX, b = rgb.b / CHANNEL_MAX;
  const double mx = std::max({r, g, b});
  const double mn = std::min({r, g, b});
  const double d = mx - mn;
  v = mx;
  s = mx == 0 ? 0 : d / mx;
  if (d == 0) {
    h = 0;
  } else if (mx == r) {
    h = HUE_SECTOR * std::fmod((g - b) / d + 6.0, 6.0);
  } else if (mx == g) {
    h = HUE_SECTOR * ((b - r) / d + 2.0);
  } else {
    h = HUE_SECTOR * ((r - g) / d + 4.0);
  }
}

int ha_brightness(int raw, int raw_max) {
  if (raw_max <= 0) return 0;
  return static_cast<int>(
      std::lround(std::clamp(raw, 0, raw_max) * static_cast<double>(HA_BRIGHTNESS_MAX) / raw_max));
}

int tuya_brightness(int ha, int raw_min, int raw_max) {
  const int raw = static_cast<int>(
      std::lround(std::clamp(ha, 0, HA_BRIGHTNESS_MAX) * static_cast<double>(raw_max) / HA_BRIGHTNESS_MAX));
  return std::clamp(raw, raw_min, raw_max);
}

double ha_saturation(int s, int s_max) {
  if (s_max <= 0) return 0;
  return std::round(std::clamp(s, 0, s_max) * HA_SATURATION_MAX * SATURATION_DECIMALS / s_max) /
         SATURATION_DECIMALS;
}

int tuya_saturation(double ha_s, int s_max) {
  return static_cast<int>(std::lround(std::clamp(ha_s, 0.0, HA_SATURATION_MAX) * s_max / HA_SATURATION_MAX));
}

int kelvin_from_tuya(int raw, int raw_max, int kelvin_min, int kelvin_max) {
  if (raw_max <= 0) return kelvin_min;
  const double f = std::clamp(raw, 0, raw_max) / static_cast<double>(raw_max);
  return static_cast<int>(std::lround(kelvin_min + f * (kelvin_max - kelvin_min)));
}

int tuya_from_kelvin(int kelvin, int raw_max, int kelvin_min, int kelvin_max) {
  if (kelvin_max <= kelvin_min) return 0;
  const double f = (std::clamp(kelvin, kelvin_min, kelvin_max) - kelvin_min) /
                   static_cast<double>(kelvin_max - kelvin_min);
  return static_cast<int>(std::lround(f * raw_max));
}

}  // namespace t2m::model

// MQTT set commands -> the DPs to write (command_to_dps, CommandBuilder). The state direction is in
// convert.cpp.
#include "model/convert.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "model/colour.h"
#include "model/model_util.h"

namespace t2m::model {
namespace {

using detail::dp_id;
using detail::number;
using detail::POSITION_MAX;
using detail::role_dp;
using detail::state_key;
using detail::wire;
using nlohmann::json;
using proto::DpType;

// HA may send colour temperature in mireds; no bulb is below 1000 K, no mired value above 1000.
constexpr double MIREDS_LIMIT = 1000.0;
constexpr double MIREDS_PER_KELVIN = 1e6;
// Lowest colour value (V of HSV) sent: v2 bulbs treat 0-9 as off/invalid (bright_value_v2 starts at 10).
constexpr int V2_COLOUR_V_MIN = 10;
constexpr int V1_COLOUR_V_MIN = 1;
constexpr int V2_SV_MAX = 1000;
// How many property names an "unknown property" error lists.
constexpr size_t MAX_LISTED_PROPERTIES = 12;

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string dp_label(const DpDescription& d) {
  return d.code.empty() ? "DP " + std::to_string(d.id) : "DP " + d.code + " (" + std::to_string(d.id) + ")";
}

// Collects every problem of one command; the result names them all.
struct Errors {
  std::vector<Error> list;
  void add(std::string_view code, std::string message) {
    list.push_back(Error{std::string(code), std::move(message)});
  }
  void add(const Error& e) { list.push_back(e); }
  Result<json> finish(json out) const {
    if (list.empty()) return out;
    std::string msg;
    for (const auto& e : list) msg += (msg.empty() ? "" : "; ") + e.message;
    return fail(list.front().code, msg);
  }
};

class CommandBuilder {
 public:
  CommandBuilder(const DerivedModel& m, const json& current) : m_(m), current_(current) {}

  Result<json> run(const json& command) {
    if (!command.is_object()) {
      return fail(std::string(CMD_ERR_PAYLOAD),
                  "a set command must be a JSON object such as {\"state\":\"ON\"}");
    }
    for (const auto& e : m_.entities) {
      switch (e.component) {
        case Component::LIGHT:
          light(e, command);
          break;
        case Component::COVER:
          cover(e, command);
          break;
        case Component::FAN:
        case Component::CLIMATE:
        case Component::SWITCH:
          if (auto k = state_key(e, e.component == Component::SWITCH ? role::VALUE : role::STATE);
              !k.empty() && command.contains(k)) {
            consumed_.insert(k);
            const auto id = role_dp(e, e.component == Component::SWITCH ? role::VALUE : role::STATE);
            if (const DpDescription* d = id ? m_.find_dp(*id) : nullptr) write_bool(*d, command[k]);
          }
          break;
        default:
          break;
      }
    }
    for (const auto& [k, v] : command.items()) {
      if (consumed_.count(k)) continue;
      if (k == "dps") {
        raw_dps(v);
      } else if (k == "transition" || k == "color_mode" || k == "effect") {
        // HA light extras the device has no DP for: ignored, as zigbee2mqtt does for unsupported ones.
      } else {
        property(k, v);
      }
    }
    return errors_.finish(out_);
  }

 private:
  const json* cur(int id) const { return wire(current_, id); }

  void write_bool(const DpDescription& d, const json& value) {
    if (!d.writable) {
      errors_.add(CMD_ERR_READ_ONLY, dp_label(d) + " is read-only");
      return;
    }
    if (value.is_string() && upper(value.get<std::string>()) == "TOGGLE") {
      const json* c = cur(d.id);
      const auto now = c ? proto::parse_bool(*c) : std::nullopt;
      if (!now) {
        errors_.add(CMD_ERR_STATE, dp_label(d) + ": cannot TOGGLE before the device reported its state");
        return;
      }
      out_[std::to_string(d.id)] = !*now;
      return;
    }
    proto::DpSpec spec = d.spec;
    spec.type = DpType::BOOL;  // the power role of an entity is boolean whatever the source said
    auto r = proto::value_to_wire(spec, d.property(), value);
    if (!r) {
      errors_.add(r.error());
      return;
    }
    out_[std::to_string(d.id)] = *r;
  }

  std::optional<int> ha_brightness_value(const json& v, const std::string& key) {
    const auto n = number(v);
    if (!n || *n < 0 || *n > HA_BRIGHTNESS_MAX) {
      errors_.add(n ? proto::DP_ERR_RANGE : proto::DP_ERR_TYPE,
                  key + ": " + proto::quote_value(v) + " is not allowed; expected a number in 0..255");
      return std::nullopt;
    }
    return static_cast<int>(std::lround(*n));
  }

  void set_mode(const Entity& e, std::string_view wanted) {
    auto id = role_dp(e, role::MODE);
    const DpDescription* dp = id ? m_.find_dp(*id) : nullptr;
    if (!dp) return;
    const DpDescription& d = *dp;
    const auto& range = d.spec.range;
    std::string value(wanted);
    if (!range.empty() && std::find(range.begin(), range.end(), value) == range.end()) {
      // "colour" vs "color": some firmwares spell it the US way.
      if (wanted == "colour" && std::find(range.begin(), range.end(), "color") != range.end()) {
        value = "color";
      } else {
        return;
      }
    }
    out_[std::to_string(*id)] = value;
  }

  void light(const Entity& e, const json& command) {
    const LightInfo& li = e.light;
    auto get = [&](std::string_view r) -> const json* {
      const std::string k = state_key(e, r);
      if (k.empty() || !command.contains(k)) return nullptr;
      consumed_.insert(k);
      return &command[k];
    };
    const json* st = get(role::STATE);
    const json* br = get(role::BRIGHTNESS);
    const json* col = get(role::COLOR);
    const json* ct = get(role::COLOR_TEMP);
    if (const std::string k = state_key(e, role::COLOR_TEMP) + "_kelvin"; !ct && command.contains(k)) {
      consumed_.insert(k);
      ct = &command[k];
    }
    if (const auto state_dp = role_dp(e, role::STATE); st && state_dp) {
      if (const DpDescription* d = m_.find_dp(*state_dp)) write_bool(*d, *st);
    }
    if (!br && !col && !ct) return;

    const auto colour_dp = role_dp(e, role::COLOR);
    const auto bright_dp = role_dp(e, role::BRIGHTNESS);
    const auto temp_dp = role_dp(e, role::COLOR_TEMP);
    ColourFormat fmt = li.colour_format;
    std::optional<TuyaHsv> cur_hsv;
    if (colour_dp && cur(*colour_dp)) cur_hsv = parse_colour(*cur(*colour_dp), &fmt);
    const int svm = sv_max(fmt);
    const int v_min = svm == V2_SV_MAX ? V2_COLOUR_V_MIN : V1_COLOUR_V_MIN;
    std::string mode;
    if (auto id = role_dp(e, role::MODE); id && cur(*id) && cur(*id)->is_string())
      mode = cur(*id)->get<std::string>();

    std::optional<int> ha_b;
    if (br) {
      ha_b = ha_brightness_value(*br, state_key(e, role::BRIGHTNESS));
      if (!ha_b) return;
    }
    if (col) {
      if (!colour_dp) {
        errors_.add(CMD_ERR_UNKNOWN, state_key(e, role::COLOR) + ": this light has no colour");
        return;
      }
      double h = 0;
      double s = 0;
      if (!read_hs(*col, h, s)) {
        errors_.add(CMD_ERR_PAYLOAD,
                    state_key(e, role::COLOR) + ": " + proto::quote_value(*col) +
                        " is not a colour; expected {\"h\":0-360,\"s\":0-100} or {\"r\",\"g\",\"b\"}");
        return;
      }
      int v = cur_hsv && cur_hsv->v > 0 ? cur_hsv->v : svm;
      if (ha_b) v = tuya_brightness(*ha_b, v_min, svm);
      const TuyaHsv hsv{static_cast<int>(std::lround(h)) % static_cast<int>(HUE_MAX), tuya_saturation(s, svm),
                        v};
      out_[std::to_string(*colour_dp)] = format_colour(hsv, fmt);
      set_mode(e, "colour");
      return;
    }
    if (ct) {
      if (!temp_dp) {
        errors_.add(CMD_ERR_UNKNOWN,
                    state_key(e, role::COLOR_TEMP) + ": this light has no colour temperature");
        return;
      }
      const auto n = number(*ct);
      if (!n || *n <= 0) {
        errors_.add(proto::DP_ERR_TYPE,
                    state_key(e, role::COLOR_TEMP) + ": " + proto::quote_value(*ct) + " is not a number");
        return;
      }
      const double kelvin = *n < MIREDS_LIMIT ? MIREDS_PER_KELVIN / *n : *n;
      const int k = static_cast<int>(std::lround(kelvin));
      if (k < li.kelvin_min || k > li.kelvin_max) {
        errors_.add(proto::DP_ERR_RANGE, state_key(e, role::COLOR_TEMP) + ": " + std::to_string(k) +
                                             " K is out of range; expected " + std::to_string(li.kelvin_min) +
                                             ".." + std::to_string(li.kelvin_max) + " K");
        return;
      }
      out_[std::to_string(*temp_dp)] = tuya_from_kelvin(k, li.temp_max, li.kelvin_min, li.kelvin_max);
      if (ha_b && bright_dp)
        out_[std::to_string(*bright_dp)] = tuya_brightness(*ha_b, li.brightness_min, li.brightness_max);
      set_mode(e, "white");
      return;
    }
    // Brightness alone: in colour mode it is the V of the colour, otherwise the white brightness.
    if (colour_dp && ((mode == "colour" || mode == "color") || !bright_dp)) {
      TuyaHsv hsv = cur_hsv.value_or(TuyaHsv{0, 0, svm});
      hsv.v = tuya_brightness(*ha_b, v_min, svm);
      out_[std::to_string(*colour_dp)] = format_colour(hsv, fmt);
    } else if (bright_dp) {
      out_[std::to_string(*bright_dp)] = tuya_brightness(*ha_b, li.brightness_min, li.brightness_max);
    } else {
      errors_.add(CMD_ERR_UNKNOWN, state_key(e, role::BRIGHTNESS) + ": this light cannot be dimmed");
    }
  }

  // HA hs ({"h","s"} / {"hue","saturation"}) or rgb ({"r","g","b"}).
  static bool read_hs(const json& c, double& h, double& s) {
    if (!c.is_object()) return false;
    auto num = [&](const char* a, const char* b) -> std::optional<double> {
      if (c.contains(a)) return number(c[a]);
      if (b && c.contains(b)) return number(c[b]);
      return std::nullopt;
    };
    if (auto hh = num("h", "hue"), ss = num("s", "saturation"); hh && ss) {
      if (*hh < 0 || *hh > HUE_MAX || *ss < 0 || *ss > HA_SATURATION_MAX) return false;
      h = *hh;
      s = *ss;
      return true;
    }
    if (auto r = num("r", nullptr), g = num("g", nullptr), b = num("b", nullptr); r && g && b) {
      auto ch = [](double x) { return static_cast<uint8_t>(std::clamp(std::lround(x), 0L, 255L)); };
      double v = 0;
      rgb_to_hsv(Rgb{ch(*r), ch(*g), ch(*b)}, h, s, v);
      s *= HA_SATURATION_MAX;
      return true;
    }
    return false;
  }

  void cover(const Entity& e, const json& command) {
    const auto control = role_dp(e, role::CONTROL);
    const auto position = role_dp(e, role::POSITION);
    if (const std::string k = state_key(e, role::STATE); !k.empty() && command.contains(k)) {
      consumed_.insert(k);
      const json& v = command[k];
      const std::string word = v.is_string() ? upper(v.get<std::string>()) : "";
      static const std::map<std::string, std::vector<std::string>> candidates = {
          {"OPEN", {"open", "on", "fz", "1"}},
          {"CLOSE", {"close", "off", "zz", "3"}},
          {"STOP", {"stop", "2"}}};
      auto it = candidates.find(word);
      if (it == candidates.end()) {
        errors_.add(CMD_ERR_PAYLOAD,
                    k + ": " + proto::quote_value(v) + " is not allowed; expected OPEN, CLOSE or STOP");
      } else if (control) {
        const auto& range = m_.find_dp(*control)->spec.range;
        std::string value;
        for (const auto& c : it->second) {
          if (value.empty() &&
              (range.empty() ? c == it->second.front() : std::count(range.begin(), range.end(), c) > 0)) {
            value = c;
          }
        }
        if (value.empty()) {
          errors_.add(proto::DP_ERR_ENUM, k + ": the device's control DP has no value for " + word);
        } else {
          out_[std::to_string(*control)] = value;
        }
      } else if (position && word != "STOP") {
        write_position(e, *position, json(word == "OPEN" ? POSITION_MAX : 0), k);
      } else {
        errors_.add(CMD_ERR_UNKNOWN, k + ": this cover cannot " + word);
      }
    }
    if (const std::string k = state_key(e, role::POSITION); !k.empty() && command.contains(k)) {
      consumed_.insert(k);
      if (!position) {
        errors_.add(CMD_ERR_UNKNOWN, k + ": this cover has no position control");
      } else {
        write_position(e, *position, command[k], k);
      }
    }
  }

  void write_position(const Entity& e, int id, const json& v, const std::string& key) {
    const auto n = number(v);
    if (!n || *n < 0 || *n > POSITION_MAX) {
      errors_.add(n ? proto::DP_ERR_RANGE : proto::DP_ERR_TYPE,
                  key + ": " + proto::quote_value(v) + " is not allowed; expected a number in 0..100");
      return;
    }
    const double p = e.invert ? POSITION_MAX - *n : *n;
    const DpDescription* dp = m_.find_dp(id);
    if (!dp) return;
    const DpDescription& d = *dp;
    auto r = proto::value_to_wire(d.spec, d.property(), json(std::lround(p)));
    if (!r) {
      errors_.add(r.error());
      return;
    }
    out_[std::to_string(id)] = *r;
  }

  void raw_dps(const json& v) {
    if (!v.is_object()) {
      errors_.add(CMD_ERR_PAYLOAD, "dps: must be an object of DP id -> raw value");
      return;
    }
    for (const auto& [k, raw] : v.items()) {
      const auto id = dp_id(k);
      if (!id) {
        errors_.add(CMD_ERR_UNKNOWN, "dps." + k + ": not a DP id (1..255)");
        continue;
      }
      if (raw.is_object() || raw.is_array()) {
        errors_.add(proto::DP_ERR_TYPE, "dps." + k + ": raw values are booleans, numbers or strings");
        continue;
      }
      const DpDescription* d = m_.find_dp(*id);
      if (d && d->known) {
        bool ok = true;
        switch (d->spec.type) {
          case DpType::BOOL:
            ok = raw.is_boolean();
            break;
          case DpType::INTEGER:
          case DpType::BITMAP:
            ok = raw.is_number_integer();
            break;
          default:
            ok = raw.is_string();
            break;
        }
        if (!ok) {
          errors_.add(proto::DP_ERR_TYPE, "dps." + k + ": " + proto::quote_value(raw) + " is not a raw " +
                                              std::string(proto::to_string(d->spec.type)) + " value");
          continue;
        }
        if (!d->writable) {
          errors_.add(CMD_ERR_READ_ONLY, dp_label(*d) + " is read-only");
          continue;
        }
      }
      out_[k] = raw;
    }
  }

  bool is_colour_dp(int id) const {
    for (const auto& e : m_.entities) {
      if (e.component == Component::LIGHT && role_dp(e, role::COLOR) == id) return true;
    }
    return false;
  }

  void property(const std::string& key, const json& value) {
    const DpDescription* d = m_.find_property(key);
    if (!d) {
      std::string known;
      size_t n = 0;
      std::set<std::string> names;
      for (const auto& e : m_.entities) {
        for (const auto& [r, k] : e.state_keys) {
          if (e.writable && (r == role::STATE || r == role::BRIGHTNESS || r == role::COLOR ||
                             r == role::COLOR_TEMP || r == role::POSITION || r == role::VALUE)) {
            names.insert(k);
          }
        }
      }
      for (const auto& [id, dd] : m_.dps) {
        if (dd.writable) names.insert(dd.property());
      }
      for (const auto& nm : names) {
        if (n++ < MAX_LISTED_PROPERTIES) known += (known.empty() ? "" : ", ") + nm;
      }
      if (names.size() > MAX_LISTED_PROPERTIES) known += ", ...";
      errors_.add(CMD_ERR_UNKNOWN, "no property \"" + key + "\" on this device" +
                                       (known.empty() ? std::string() : "; writable: " + known));
      return;
    }
    if (!d->writable) {
      errors_.add(CMD_ERR_READ_ONLY, dp_label(*d) + " is read-only");
      return;
    }
    const std::string id = std::to_string(d->id);
    if (!d->known) {
      if (value.is_object() || value.is_array()) {
        errors_.add(proto::DP_ERR_TYPE,
                    "DP " + id + ": unknown DP, only booleans, numbers and strings are sent raw");
        return;
      }
      out_[id] = value;
      return;
    }
    if (d->spec.type == DpType::BOOL) {
      write_bool(*d, value);
      return;
    }
    if (is_colour_dp(d->id)) {
      ColourFormat now = ColourFormat::HEX12;
      ColourFormat given = ColourFormat::HEX12;
      const bool have_now = cur(d->id) && parse_colour(*cur(d->id), &now);
      const auto hsv = parse_colour(value, &given);
      if (!hsv) {
        errors_.add(proto::DP_ERR_TYPE,
                    dp_label(*d) + ": " + proto::quote_value(value) +
                        " is not a Tuya colour (12/14 hex characters or {\"h\",\"s\",\"v\"})");
        return;
      }
      out_[id] = format_colour(*hsv, have_now ? now : given);
      return;
    }
    auto r = proto::value_to_wire(d->spec, d->property(), value);
    if (!r) {
      errors_.add(r.error());
      return;
    }
    out_[id] = *r;
  }

  const DerivedModel& m_;
  const json& current_;
  json out_ = json::object();
  Errors errors_;
  std::set<std::string> consumed_;
};

}  // namespace

Result<json> command_to_dps(const DerivedModel& model, const json& command, const json& current_dps) {
  return CommandBuilder(model, current_dps).run(command);
}

Result<json> command_to_dps(const DerivedModel& model, std::string_view property, const json& value,
                            const json& current_dps) {
  json command = json::object();
  command[std::string(property)] = value;
  return CommandBuilder(model, current_dps).run(command);
}

}  // namespace t2m::model

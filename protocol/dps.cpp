#include "protocol/dps.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "protocol/crypto.h"

namespace t2m::proto {
namespace {

using nlohmann::json;

// Relative tolerance when deciding whether value * 10^scale is a whole number: absorbs binary
// floating-point error (230.1 * 10 = 2301.0000000000005) without accepting real extra digits.
constexpr double WHOLE_TOLERANCE = 1e-6;
// Bitmaps are carried as JSON integers; 63 bits is the most an int64 holds without sign trouble.
constexpr size_t MAX_BITMAP_BITS = 63;
// Error messages quote user values; a pasted IR code must not turn into a kilobyte of log text.
constexpr size_t MAX_QUOTED_VALUE = 64;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Unexpected<Error> dp_fail(std::string_view code, std::string_view dp, const json& value,
                          const std::string& why) {
  return fail(std::string(code), "DP " + std::string(dp) + ": " + quote_value(value) + " " + why);
}

// Formats a raw integer as a real number with exactly `scale` decimals: 2301, 1 -> "230.1".
std::string format_real(int64_t raw, int scale) {
  if (scale <= 0) return std::to_string(raw);
  const bool negative = raw < 0;
  const uint64_t magnitude = negative ? uint64_t{0} - static_cast<uint64_t>(raw) : static_cast<uint64_t>(raw);
  const std::string digits = std::to_string(magnitude);
  const size_t frac = static_cast<size_t>(scale);
  // Built by appending (not insert()): GCC 12 at -O3 reports a false -Wrestrict on string::insert here.
  std::string out;
  out.reserve(digits.size() + frac + 3);
  if (negative) out.push_back('-');
  if (digits.size() <= frac) {
    out.append("0.");
    out.append(frac - digits.size(), '0');
    out.append(digits);
  } else {
    out.append(digits, 0, digits.size() - frac);
    out.push_back('.');
    out.append(digits, digits.size() - frac, frac);
  }
  return out;
}

std::optional<int64_t> json_int(const json& v, const char* key) {
  if (!v.is_object() || !v.contains(key)) return std::nullopt;
  const json& x = v.at(key);
  if (x.is_number_integer()) return x.get<int64_t>();
  if (x.is_number_float()) {
    const double d = x.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
    return std::nullopt;
  }
  if (x.is_string()) {
    const std::string s(trim(x.get<std::string>()));
    int64_t out = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && p == s.data() + s.size()) return out;
  }
  return std::nullopt;
}

std::optional<double> parse_number(const json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const std::string s(trim(value.get<std::string>()));
    if (s.empty()) return std::nullopt;
    double d = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc() && p == s.data() + s.size() && std::isfinite(d)) return d;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(DpType type) {
  switch (type) {
    case DpType::BOOL:
      return "bool";
    case DpType::INTEGER:
      return "integer";
    case DpType::ENUM:
      return "enum";
    case DpType::STRING:
      return "string";
    case DpType::RAW:
      return "raw";
    case DpType::BITMAP:
      return "bitmap";
    case DpType::JSON:
      return "json";
  }
  return "raw";
}

std::optional<DpType> parse_dp_type(std::string_view name) {
  const std::string n = lower(trim(name));
  if (n == "bool" || n == "boolean") return DpType::BOOL;
  if (n == "integer" || n == "value" || n == "int") return DpType::INTEGER;
  if (n == "enum") return DpType::ENUM;
  if (n == "string" || n == "char") return DpType::STRING;
  if (n == "raw") return DpType::RAW;
  if (n == "bitmap" || n == "fault") return DpType::BITMAP;
  if (n == "json") return DpType::JSON;
  return std::nullopt;
}

double scale_factor(int scale) {
  return std::pow(10.0, std::clamp(scale, 0, DP_MAX_SCALE));
}

Result<DpSpec> parse_dp_spec(std::string_view type_name, const json& values_in) {
  const auto type = parse_dp_type(type_name);
  if (!type) {
    return fail(std::string(DP_ERR_SPEC),
                "unknown DP type \"" + std::string(type_name) +
                    "\" (expected Boolean, Integer, Enum, String, Raw, Bitmap or Json)");
  }
  json values = json::object();
  if (values_in.is_string()) {
    const std::string text(trim(values_in.get<std::string>()));
    if (!text.empty()) {
      values = json::parse(text, nullptr, false);
      if (values.is_discarded()) return fail(std::string(DP_ERR_SPEC), "spec values are not valid JSON");
    }
  } else if (values_in.is_object()) {
    values = values_in;
  } else if (!values_in.is_null()) {
    return fail(std::string(DP_ERR_SPEC), "spec values must be an object or a JSON string");
  }
  if (!values.is_object()) values = json::object();

  DpSpec spec;
  spec.type = *type;
  if (values.contains("unit") && values["unit"].is_string()) spec.unit = values["unit"].get<std::string>();
  switch (spec.type) {
    case DpType::INTEGER: {
      const auto mn = json_int(values, "min");
      const auto mx = json_int(values, "max");
      if (mn && mx) {
        if (*mn > *mx) return fail(std::string(DP_ERR_SPEC), "spec min is greater than max");
        spec.has_range = true;
        spec.min = *mn;
        spec.max = *mx;
      }
      if (const auto st = json_int(values, "step"); st && *st > 0) spec.step = *st;
      if (const auto sc = json_int(values, "scale")) {
        if (*sc < 0 || *sc > DP_MAX_SCALE) return fail(std::string(DP_ERR_SPEC), "spec scale out of 0..9");
        spec.scale = static_cast<int>(*sc);
      }
      break;
    }
    case DpType::ENUM:
    case DpType::BITMAP: {
      const char* key = spec.type == DpType::ENUM ? "range" : "label";
      if (values.contains(key) && values[key].is_array()) {
        for (const auto& item : values[key]) {
          if (item.is_string()) spec.range.push_back(item.get<std::string>());
        }
      }
      if (const auto ml = json_int(values, "maxlen"); ml && *ml > 0) spec.max_len = static_cast<size_t>(*ml);
      break;
    }
    case DpType::STRING:
    case DpType::RAW:
      if (const auto ml = json_int(values, "maxlen"); ml && *ml > 0) spec.max_len = static_cast<size_t>(*ml);
      break;
    case DpType::BOOL:
    case DpType::JSON:
      break;
  }
  return spec;
}

Result<DpSpec> parse_dp_spec(const json& entry) {
  if (!entry.is_object() || !entry.contains("type") || !entry["type"].is_string()) {
    return fail(std::string(DP_ERR_SPEC), "spec entry has no \"type\"");
  }
  return parse_dp_spec(entry["type"].get<std::string>(), entry.contains("values") ? entry["values"] : json());
}

json spec_values_to_json(const DpSpec& spec) {
  json v = json::object();
  if (!spec.unit.empty()) v["unit"] = spec.unit;
  switch (spec.type) {
    case DpType::INTEGER:
      if (spec.has_range) {
        v["min"] = spec.min;
        v["max"] = spec.max;
      }
      v["scale"] = spec.scale;
      v["step"] = spec.step;
      break;
    case DpType::ENUM:
      v["range"] = spec.range;
      break;
    case DpType::BITMAP:
      v["label"] = spec.range;
      if (spec.max_len) v["maxlen"] = spec.max_len;
      break;
    case DpType::STRING:
    case DpType::RAW:
      if (spec.max_len) v["maxlen"] = spec.max_len;
      break;
    case DpType::BOOL:
    case DpType::JSON:
      break;
  }
  return v;
}

std::string describe(const DpSpec& spec) {
  switch (spec.type) {
    case DpType::BOOL:
      return "a boolean (true/false, ON/OFF)";
    case DpType::INTEGER: {
      std::string s = "a number";
      if (spec.has_range)
        s += " in " + format_real(spec.min, spec.scale) + ".." + format_real(spec.max, spec.scale);
      if (spec.step != 1 || spec.scale != 0) s += " in steps of " + format_real(spec.step, spec.scale);
      if (!spec.unit.empty()) s += " (" + spec.unit + ")";
      return s;
    }
    case DpType::ENUM: {
      std::string s = "one of [";
      for (size_t i = 0; i < spec.range.size(); ++i) s += (i ? ", " : "") + spec.range[i];
      return s + "]";
    }
    case DpType::STRING:
      return spec.max_len ? "a string of at most " + std::to_string(spec.max_len) + " bytes" : "a string";
    case DpType::RAW:
      return spec.max_len ? "base64 data of at most " + std::to_string(spec.max_len) + " bytes"
                          : "base64 data";
    case DpType::BITMAP:
      return spec.max_len ? "a bitmap of " + std::to_string(spec.max_len) + " bits" : "a bitmap (integer)";
    case DpType::JSON:
      return "a JSON object or JSON text";
  }
  return "a value";
}

std::optional<bool> parse_bool(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number_integer()) {
    const int64_t i = value.get<int64_t>();
    if (i == 0 || i == 1) return i == 1;
    return std::nullopt;
  }
  if (value.is_string()) {
    const std::string s = lower(trim(value.get<std::string>()));
    if (s == "on" || s == "true" || s == "1" || s == "yes") return true;
    if (s == "off" || s == "false" || s == "0" || s == "no") return false;
  }
  return std::nullopt;
}

bool is_base64(std::string_view text) {
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alpha =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=') {
      ++pad;
      continue;
    }
    if (!alpha || pad > 0) return false;  // characters after padding are not base64
  }
  return pad <= 2;
}

Result<json> wire_to_value(const DpSpec& spec, std::string_view dp, const json& wire) {
  switch (spec.type) {
    case DpType::BOOL: {
      if (wire.is_boolean()) return wire;
      if (const auto b = parse_bool(wire)) return json(*b);
      return dp_fail(DP_ERR_TYPE, dp, wire, "from the device is not a boolean");
    }
    case DpType::INTEGER: {
      int64_t raw = 0;
      if (wire.is_number_integer()) {
        raw = wire.get<int64_t>();
      } else if (const auto d = parse_number(wire); d && std::fabs(*d) < 9e15) {
        raw = std::llround(*d);
      } else {
        return dp_fail(DP_ERR_TYPE, dp, wire, "from the device is not a number");
      }
      if (spec.scale == 0) return json(raw);
      return json(static_cast<double>(raw) / scale_factor(spec.scale));
    }
    case DpType::BITMAP: {
      if (wire.is_number_integer()) return wire;
      return dp_fail(DP_ERR_TYPE, dp, wire, "from the device is not a bitmap integer");
    }
    case DpType::ENUM:
    case DpType::STRING:
    case DpType::RAW: {
      if (wire.is_string()) return wire;
      if (wire.is_number() || wire.is_boolean()) return json(wire.dump());
      return dp_fail(DP_ERR_TYPE, dp, wire, "from the device is not a string");
    }
    case DpType::JSON: {
      if (wire.is_string()) {
        json parsed = json::parse(wire.get<std::string>(), nullptr, false);
        if (!parsed.is_discarded()) return parsed;
      }
      return wire;
    }
  }
  return wire;
}

namespace {

Result<json> integer_to_wire(const DpSpec& spec, std::string_view dp, const json& value, StepPolicy policy) {
  if (value.is_boolean())
    return dp_fail(DP_ERR_TYPE, dp, value, "is not a number; expected " + describe(spec));
  int64_t raw = 0;
  if (value.is_number_integer() && spec.scale == 0) {
    raw = value.get<int64_t>();
  } else {
    const auto d = parse_number(value);
    if (!d) return dp_fail(DP_ERR_TYPE, dp, value, "is not a number; expected " + describe(spec));
    const double scaled = *d * scale_factor(spec.scale);
    if (std::fabs(scaled) > 9e15)
      return dp_fail(DP_ERR_RANGE, dp, value, "is out of range; expected " + describe(spec));
    raw = std::llround(scaled);
    const double off = std::fabs(scaled - static_cast<double>(raw));
    if (off > WHOLE_TOLERANCE * std::max(1.0, std::fabs(scaled)) && policy == StepPolicy::STRICT) {
      return dp_fail(DP_ERR_STEP, dp, value,
                     "has more decimals than the DP supports; expected " + describe(spec));
    }
  }
  if (spec.has_range && (raw < spec.min || raw > spec.max)) {
    return dp_fail(DP_ERR_RANGE, dp, value, "is out of range; expected " + describe(spec));
  }
  if (spec.step > 1) {
    const int64_t base = spec.has_range ? spec.min : 0;
    const int64_t rem = ((raw - base) % spec.step + spec.step) % spec.step;
    if (rem != 0) {
      if (policy == StepPolicy::STRICT) {
        return dp_fail(DP_ERR_STEP, dp, value, "is not on the step grid; expected " + describe(spec));
      }
      int64_t snapped = rem * 2 >= spec.step ? raw - rem + spec.step : raw - rem;
      if (spec.has_range && snapped > spec.max) snapped -= spec.step;
      if (spec.has_range && snapped < spec.min) snapped += spec.step;
      raw = snapped;
    }
  }
  return json(raw);
}

Result<json> bitmap_to_wire(const DpSpec& spec, std::string_view dp, const json& value) {
  const size_t bits = std::min(spec.max_len ? spec.max_len : MAX_BITMAP_BITS, MAX_BITMAP_BITS);
  const int64_t limit = static_cast<int64_t>((uint64_t{1} << bits) - 1);
  if (value.is_array()) {
    int64_t out = 0;
    for (const auto& item : value) {
      if (!item.is_string()) return dp_fail(DP_ERR_TYPE, dp, value, "must list bit labels as strings");
      const auto it = std::find(spec.range.begin(), spec.range.end(), item.get<std::string>());
      if (it == spec.range.end() || static_cast<size_t>(it - spec.range.begin()) >= bits) {
        return dp_fail(DP_ERR_ENUM, dp, item, "is not a bit label of this DP");
      }
      out |= int64_t{1} << (it - spec.range.begin());
    }
    return json(out);
  }
  json as_int = value;
  if (value.is_string()) {
    int64_t i = 0;
    const std::string s(trim(value.get<std::string>()));
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (ec != std::errc() || p != s.data() + s.size())
      return dp_fail(DP_ERR_TYPE, dp, value, "is not a bitmap integer");
    as_int = i;
  }
  if (!as_int.is_number_integer()) return dp_fail(DP_ERR_TYPE, dp, value, "is not a bitmap integer");
  const int64_t i = as_int.get<int64_t>();
  if (i < 0 || i > limit)
    return dp_fail(DP_ERR_RANGE, dp, value, "is out of range; expected " + describe(spec));
  return json(i);
}

}  // namespace

Result<json> value_to_wire(const DpSpec& spec, std::string_view dp, const json& value, StepPolicy policy) {
  switch (spec.type) {
    case DpType::BOOL: {
      if (const auto b = parse_bool(value)) return json(*b);
      return dp_fail(DP_ERR_TYPE, dp, value, "is not a boolean; expected " + describe(spec));
    }
    case DpType::INTEGER:
      return integer_to_wire(spec, dp, value, policy);
    case DpType::ENUM: {
      if (!value.is_string() && !value.is_number_integer()) {
        return dp_fail(DP_ERR_TYPE, dp, value, "is not a string; expected " + describe(spec));
      }
      const std::string s = value.is_string() ? value.get<std::string>() : dump_lossy(value);
      if (spec.range.empty()) return json(s);  // no list known: pass through
      if (std::find(spec.range.begin(), spec.range.end(), s) != spec.range.end()) return json(s);
      const std::string want = lower(trim(s));
      const std::string* match = nullptr;
      for (const auto& r : spec.range) {
        if (lower(r) == want) {
          if (match) return dp_fail(DP_ERR_ENUM, dp, value, "is ambiguous; expected " + describe(spec));
          match = &r;
        }
      }
      if (match) return json(*match);
      return dp_fail(DP_ERR_ENUM, dp, value, "is not allowed; expected " + describe(spec));
    }
    case DpType::STRING: {
      std::string s;
      if (value.is_string()) {
        s = value.get<std::string>();
      } else if (value.is_number() || value.is_boolean()) {
        s = dump_lossy(value);
      } else {
        return dp_fail(DP_ERR_TYPE, dp, value, "is not a string; expected " + describe(spec));
      }
      if (spec.max_len && s.size() > spec.max_len) {
        return dp_fail(DP_ERR_LENGTH, dp, value, "is too long; expected " + describe(spec));
      }
      return json(s);
    }
    case DpType::RAW: {
      if (!value.is_string())
        return dp_fail(DP_ERR_TYPE, dp, value, "is not a string; expected " + describe(spec));
      const std::string s = value.get<std::string>();
      if (!is_base64(s)) return dp_fail(DP_ERR_BASE64, dp, value, "is not valid base64");
      if (spec.max_len) {
        const auto decoded = crypto::base64_decode(s);
        if (!decoded) return dp_fail(DP_ERR_BASE64, dp, value, "is not valid base64");
        if (decoded->size() > spec.max_len) {
          return dp_fail(DP_ERR_LENGTH, dp, value, "is too long; expected " + describe(spec));
        }
      }
      return json(s);
    }
    case DpType::BITMAP:
      return bitmap_to_wire(spec, dp, value);
    case DpType::JSON: {
      if (value.is_object() || value.is_array()) return json(dump_lossy(value));
      if (value.is_string()) {
        const json parsed = json::parse(value.get<std::string>(), nullptr, false);
        if (parsed.is_discarded()) return dp_fail(DP_ERR_JSON, dp, value, "is not valid JSON text");
        return json(dump_lossy(parsed));
      }
      return dp_fail(DP_ERR_TYPE, dp, value, "is not JSON; expected " + describe(spec));
    }
  }
  return dp_fail(DP_ERR_TYPE, dp, value, "has an unsupported type");
}

std::string dump_lossy(const json& value) {
  // A value from an MQTT command may hold bytes that are not UTF-8 (a bare value is taken as it is):
  // replace them rather than throw.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string quote_value(const json& value) {
  std::string text = dump_lossy(value);
  if (text.size() > MAX_QUOTED_VALUE) text = text.substr(0, MAX_QUOTED_VALUE) + "...";
  return text;
}

}  // namespace t2m::proto

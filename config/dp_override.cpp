// Per-DP overrides (a device's "dps" entries): reading one from its JSON object and writing it back.
#include "config/config_internal.h"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace t2m::config::detail {
namespace {

constexpr std::string_view COMPONENTS[] = {"none", "sensor", "binary_sensor", "switch", "number",  "select",
                                           "text", "light",  "cover",         "fan",    "climate", "button"};

}  // namespace

void parse_dp_override(Ctx& ctx, const json& j, const std::string& path, DpOverride& o) {
  if (!j.is_object()) {
    ctx.err(path, "must be an object");
    return;
  }
  check_unknown(ctx, j, path,
                {"code", "type", "scale", "unit", "min", "max", "step", "values", "max_len", "read_only",
                 "device_class", "state_class", "component", "name"});
  std::string s;
  if (get_string(ctx, j, "code", path, s)) {
    const bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!ok) {
      ctx.err(join(path, "code"), "must be letters, digits and '_' (got \"" + s + "\")");
    } else if (s == "dps" || s == "state") {
      ctx.err(join(path, "code"), "\"" + s + "\" is reserved");
    }
    o.code = s;
  }
  if (get_string(ctx, j, "type", path, s)) {
    o.type = proto::parse_dp_type(s);
    if (!o.type) {
      ctx.err(join(path, "type"),
              "must be one of bool, integer, enum, string, raw, bitmap, json (got \"" + s + "\")");
    }
  }
  int64_t i = 0;
  if (get_int(ctx, j, "scale", path, i)) {
    if (i < 0 || i > proto::DP_MAX_SCALE)
      ctx.err(join(path, "scale"), "must be 0..9 (got " + std::to_string(i) + ")");
    o.scale = static_cast<int>(i);
  }
  if (get_string(ctx, j, "unit", path, s)) o.unit = s;
  if (get_int(ctx, j, "min", path, i)) o.min = i;
  if (get_int(ctx, j, "max", path, i)) o.max = i;
  if (o.min && o.max && *o.min > *o.max) ctx.err(join(path, "min"), "must not be greater than max");
  if (get_int(ctx, j, "step", path, i)) {
    if (i <= 0) ctx.err(join(path, "step"), "must be positive (got " + std::to_string(i) + ")");
    o.step = i;
  }
  if (get_int(ctx, j, "max_len", path, i)) {
    if (i < 0) ctx.err(join(path, "max_len"), "must not be negative");
    o.max_len = static_cast<size_t>(std::max<int64_t>(i, 0));
  }
  if (j.contains("values") && !j["values"].is_null()) {
    const json& v = j["values"];
    std::vector<std::string> values;
    if (!v.is_array() || v.empty()) {
      ctx.err(join(path, "values"), "must be a non-empty array of strings");
    } else {
      for (size_t k = 0; k < v.size(); ++k) {
        if (!v[k].is_string()) {
          ctx.err(index(join(path, "values"), k), "must be a string");
        } else {
          values.push_back(v[k].get<std::string>());
        }
      }
    }
    o.values = values;
  }
  bool b = false;
  if (get_bool(ctx, j, "read_only", path, b)) o.read_only = b;
  if (get_string(ctx, j, "device_class", path, s)) o.device_class = s;
  if (get_string(ctx, j, "state_class", path, s)) o.state_class = s;
  if (get_string(ctx, j, "component", path, s)) {
    if (std::find(std::begin(COMPONENTS), std::end(COMPONENTS), s) == std::end(COMPONENTS)) {
      ctx.err(join(path, "component"),
              "must be one of none, sensor, binary_sensor, switch, number, select, text, light, cover, fan, "
              "climate, button (got \"" +
                  s + "\")");
    }
    o.component = s;
  }
  if (get_string(ctx, j, "name", path, s)) o.name = s;
}

json override_to_json(const DpOverride& o, json out) {
  if (!out.is_object()) out = json::object();
  if (o.code) out["code"] = *o.code;
  if (o.type) out["type"] = std::string(proto::to_string(*o.type));
  if (o.scale) out["scale"] = *o.scale;
  if (o.unit) out["unit"] = *o.unit;
  if (o.min) out["min"] = *o.min;
  if (o.max) out["max"] = *o.max;
  if (o.step) out["step"] = *o.step;
  if (o.values) out["values"] = *o.values;
  if (o.max_len) out["max_len"] = *o.max_len;
  if (o.read_only) out["read_only"] = *o.read_only;
  if (o.device_class) out["device_class"] = *o.device_class;
  if (o.state_class) out["state_class"] = *o.state_class;
  if (o.component) out["component"] = *o.component;
  if (o.name) out["name"] = *o.name;
  return out;
}

}  // namespace t2m::config::detail

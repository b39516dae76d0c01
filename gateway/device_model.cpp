#include "gateway/device_model.h"

namespace t2m::gw {

DeviceModel DeviceModel::build(const config::DeviceConfig& cfg) {
  DeviceModel m;
  if (cfg.mapping.is_object()) {
    for (auto it = cfg.mapping.begin(); it != cfg.mapping.end(); ++it) {
      DpInfo info;
      info.id = it.key();
      if (it->is_object()) {
        if (it->contains("code") && (*it)["code"].is_string()) info.code = (*it)["code"].get<std::string>();
        auto spec = proto::parse_dp_spec(*it);
        if (spec) info.spec = spec.value();
      }
      m.by_id_[info.id] = info;
    }
  }
  for (const auto& [dp, o] : cfg.dps) {
    DpInfo& info = m.by_id_[std::to_string(dp)];
    info.id = std::to_string(dp);
    if (o.code) info.code = *o.code;
    if (o.read_only) info.read_only = *o.read_only;
    if (o.type || o.scale || o.min || o.max || o.step || o.values || o.unit || o.max_len) {
      proto::DpSpec s = info.spec.value_or(proto::DpSpec{});
      if (o.type) s.type = *o.type;
      if (o.scale) s.scale = *o.scale;
      if (o.unit) s.unit = *o.unit;
      if (o.min || o.max) s.has_range = true;
      if (o.min) s.min = *o.min;
      if (o.max) s.max = *o.max;
      if (o.step) s.step = *o.step;
      if (o.values) s.range = *o.values;
      if (o.max_len) s.max_len = *o.max_len;
      info.spec = s;
    }
  }
  for (const auto& [id, info] : m.by_id_)
    if (!info.code.empty()) m.id_by_code_[info.code] = id;
  return m;
}

std::optional<std::string> DeviceModel::dp_id(std::string_view code_or_id) const {
  if (auto it = id_by_code_.find(code_or_id); it != id_by_code_.end()) return it->second;
  if (code_or_id.empty()) return std::nullopt;
  for (char c : code_or_id)
    if (c < '0' || c > '9') return std::nullopt;
  return std::string(code_or_id);
}

nlohmann::json DeviceModel::to_state(const nlohmann::json& dps) const {
  nlohmann::json out = nlohmann::json::object();
  if (!dps.is_object()) return out;
  for (auto it = dps.begin(); it != dps.end(); ++it) {
    auto info = by_id_.find(it.key());
    if (info == by_id_.end() || info->second.code.empty()) {
      out[it.key()] = it.value();
      continue;
    }
    nlohmann::json value = it.value();
    if (info->second.spec) {
      auto real = proto::wire_to_value(*info->second.spec, info->second.code, it.value());
      if (real) value = real.value();
    }
    out[info->second.code] = value;
  }
  out["dps"] = dps;
  return out;
}

Result<nlohmann::json> DeviceModel::to_dps(const nlohmann::json& command) const {
  if (!command.is_object()) return fail("bad_command", "a command must be a JSON object of DP codes or ids");
  nlohmann::json out = nlohmann::json::object();
  for (auto it = command.begin(); it != command.end(); ++it) {
    if (it.key() == "dps" && it->is_object()) {  // raw escape hatch: {"dps":{"1":true}}
      for (auto d = it->begin(); d != it->end(); ++d) out[d.key()] = d.value();
      continue;
    }
    auto id = dp_id(it.key());
    if (!id) return fail("unknown_dp", "unknown DP '" + it.key() + "': use a DP code of this device or a DP id");
    auto info = by_id_.find(*id);
    if (info != by_id_.end() && info->second.read_only)
      return fail("read_only", "DP '" + it.key() + "' is read-only");
    if (info != by_id_.end() && info->second.spec) {
      auto wire = proto::value_to_wire(*info->second.spec, it.key(), it.value());
      if (!wire) return Unexpected<Error>{wire.error()};
      out[*id] = wire.value();
    } else {
      out[*id] = it.value();
    }
  }
  if (out.empty()) return fail("bad_command", "the command names no DP");
  return out;
}

nlohmann::json DeviceModel::describe() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, info] : by_id_) {
    nlohmann::json d{{"dp", id}};
    if (!info.code.empty()) d["code"] = info.code;
    if (info.spec) {
      d["type"] = std::string(proto::to_string(info.spec->type));
      d["values"] = proto::spec_values_to_json(*info.spec);
    }
    d["access"] = info.read_only ? "ro" : "rw";
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> DeviceModel::dp_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, info] : by_id_) out.push_back(id);
  return out;
}

}  // namespace t2m::gw

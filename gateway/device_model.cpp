#include "gateway/device_model.h"

#include "config/convert.h"

namespace t2m::gw {

DeviceModel DeviceModel::build(const config::DeviceConfig& cfg, const nlohmann::json& reported_dps) {
  DeviceModel m;
  m.model_ = config::derive_model(cfg, reported_dps);
  return m;
}

bool DeviceModel::refine(const config::DeviceConfig& cfg, const nlohmann::json& merged_dps) {
  if (!merged_dps.is_object()) return false;
  bool unknown = false;
  for (auto it = merged_dps.begin(); it != merged_dps.end() && !unknown; ++it) {
    int id = std::atoi(it.key().c_str());
    const auto* d = model_.find_dp(id);
    unknown = d == nullptr || !d->known;
  }
  if (!unknown) return false;
  config::DeviceModel next = config::derive_model(cfg, merged_dps);
  const bool changed = next.template_name != model_.template_name || next.dps.size() != model_.dps.size() ||
                       next.entities.size() != model_.entities.size();
  model_ = std::move(next);
  return changed;
}

nlohmann::json DeviceModel::to_state(const nlohmann::json& dps, std::vector<Error>* problems) const {
  return config::state_from_dps(model_, dps, problems);
}

Result<nlohmann::json> DeviceModel::to_dps(const nlohmann::json& command,
                                           const nlohmann::json& current_dps) const {
  return config::command_to_dps(model_, command, current_dps);
}

nlohmann::json DeviceModel::describe() const {
  nlohmann::json dps = nlohmann::json::array();
  for (const auto& [id, d] : model_.dps) {
    nlohmann::json j{{"dp", id},
                     {"property", d.property()},
                     {"access", d.writable ? "rw" : "ro"},
                     {"source", std::string(config::to_string(d.source))}};
    if (d.known) {
      j["type"] = std::string(proto::to_string(d.spec.type));
      j["values"] = proto::spec_values_to_json(d.spec);
    }
    dps.push_back(std::move(j));
  }
  nlohmann::json entities = nlohmann::json::array();
  for (const auto& e : model_.entities) {
    nlohmann::json j{{"component", std::string(config::to_string(e.component))}, {"key", e.key}};
    if (!e.device_class.empty()) j["device_class"] = e.device_class;
    if (!e.unit.empty()) j["unit"] = e.unit;
    entities.push_back(std::move(j));
  }
  return nlohmann::json{{"category", model_.category},
                        {"template", model_.template_name},
                        {"dps", dps},
                        {"entities", entities}};
}

std::vector<std::string> DeviceModel::dp_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, d] : model_.dps)
    if (d.known) out.push_back(std::to_string(id));
  return out;
}

}  // namespace t2m::gw

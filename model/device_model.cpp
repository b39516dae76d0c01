#include "model/device_model.h"

#include "model/convert.h"

namespace t2m::model {

namespace {

// Expired weak entries are swept after this many interns, so the cache stays proportional to the live
// models without a sweep on every call.
constexpr size_t SWEEP_EVERY = 1024;

size_t mix(size_t h, size_t v) {
  // boost::hash_combine's constant: spreads consecutive values over the table.
  return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

size_t shape_hash(const DerivedModel& m) {
  std::hash<std::string> hs;
  size_t h = mix(hs(m.category), hs(m.template_name));
  h = mix(h, m.dps.size());
  h = mix(h, m.entities.size());
  for (const auto& [id, d] : m.dps) {
    h = mix(h, static_cast<size_t>(id));
    h = mix(h, hs(d.code));
    h = mix(h, static_cast<size_t>(d.spec.type));
  }
  for (const auto& e : m.entities) h = mix(h, hs(e.key));
  return h;
}

}  // namespace

std::shared_ptr<const DerivedModel> ModelCache::intern(DerivedModel model) {
  if (++interned_since_sweep_ >= SWEEP_EVERY) {
    interned_since_sweep_ = 0;
    for (auto it = by_hash_.begin(); it != by_hash_.end();)
      it = it->second.expired() ? by_hash_.erase(it) : ++it;
  }
  const size_t h = shape_hash(model);
  auto [first, last] = by_hash_.equal_range(h);
  for (auto it = first; it != last; ++it) {
    if (auto live = it->second.lock(); live && *live == model) return live;
  }
  auto shared = std::make_shared<const DerivedModel>(std::move(model));
  by_hash_.emplace(h, shared);
  return shared;
}

size_t ModelCache::size() const {
  size_t n = 0;
  for (const auto& [h, w] : by_hash_) n += w.expired() ? 0 : 1;
  return n;
}

const std::shared_ptr<const DerivedModel>& DeviceModel::empty_() {
  static const auto empty = std::make_shared<const DerivedModel>();
  return empty;
}

std::shared_ptr<const DerivedModel> DeviceModel::keep_(DerivedModel m, ModelCache* cache) {
  if (cache) return cache->intern(std::move(m));
  return std::make_shared<const DerivedModel>(std::move(m));
}

DeviceModel DeviceModel::build(const config::DeviceConfig& cfg, const nlohmann::json& reported_dps,
                               ModelCache* cache) {
  DeviceModel m;
  m.model_ = keep_(derive_model(cfg, reported_dps), cache);
  return m;
}

bool DeviceModel::refine(const config::DeviceConfig& cfg, const nlohmann::json& merged_dps,
                         ModelCache* cache) {
  if (!merged_dps.is_object()) return false;
  bool unknown = false;
  for (auto it = merged_dps.begin(); it != merged_dps.end() && !unknown; ++it) {
    int id = std::atoi(it.key().c_str());
    const auto* d = model_->find_dp(id);
    unknown = d == nullptr || !d->known;
  }
  if (!unknown) return false;
  DerivedModel next = derive_model(cfg, merged_dps);
  const bool changed = next.template_name != model_->template_name || next.dps.size() != model_->dps.size() ||
                       next.entities.size() != model_->entities.size();
  model_ = keep_(std::move(next), cache);
  return changed;
}

nlohmann::json DeviceModel::to_state(const nlohmann::json& dps, std::vector<Error>* problems) const {
  return state_from_dps(*model_, dps, problems);
}

Result<nlohmann::json> DeviceModel::to_dps(const nlohmann::json& command,
                                           const nlohmann::json& current_dps) const {
  return command_to_dps(*model_, command, current_dps);
}

nlohmann::json DeviceModel::describe() const {
  nlohmann::json dps = nlohmann::json::array();
  for (const auto& [id, d] : model_->dps) {
    nlohmann::json j{{"dp", id},
                     {"property", d.property()},
                     {"access", d.writable ? "rw" : "ro"},
                     {"source", std::string(to_string(d.source))}};
    if (d.known) {
      j["type"] = std::string(proto::to_string(d.spec.type));
      j["values"] = proto::spec_values_to_json(d.spec);
    }
    dps.push_back(std::move(j));
  }
  nlohmann::json entities = nlohmann::json::array();
  for (const auto& e : model_->entities) {
    nlohmann::json j{{"component", std::string(to_string(e.component))}, {"key", e.key}};
    if (!e.device_class.empty()) j["device_class"] = e.device_class;
    if (!e.unit.empty()) j["unit"] = e.unit;
    entities.push_back(std::move(j));
  }
  return nlohmann::json{{"category", model_->category},
                        {"template", model_->template_name},
                        {"dps", dps},
                        {"entities", entities}};
}

std::vector<std::string> DeviceModel::dp_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, d] : model_->dps)
    if (d.known) out.push_back(std::to_string(id));
  return out;
}

}  // namespace t2m::model

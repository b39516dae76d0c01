#include "gateway/device_registry.h"

#include <charconv>

#include "common/log.h"

namespace t2m::gw {
namespace {

constexpr std::string_view DEVICE_REGISTRY_TAG = "gateway.registry";

std::string join_issues(const config::ConfigIssues& issues) {
  std::string out;
  for (const auto& i : issues) out += (out.empty() ? "" : "; ") + i.to_string();
  return out;
}

Unexpected<Error> unknown_device(std::string_view ref) {
  return fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + std::string(ref) + "'");
}

// A DP value's share of a state message: its JSON text for strings and structures, a small constant for
// numbers and booleans (whose text is short and not worth printing to measure).
size_t value_bytes(const nlohmann::json& v) {
  constexpr size_t SCALAR_BYTES = 8;
  constexpr size_t QUOTES = 2;
  if (v.is_string()) return v.get_ref<const std::string&>().size() + QUOTES;
  if (v.is_structured()) return v.dump().size();
  return SCALAR_BYTES;
}

bool valid_dp_id(const std::string& id) {
  int n = 0;
  const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  return ec == std::errc() && end == id.data() + id.size() && id[0] != '0' && n >= config::MIN_DP_ID &&
         n <= config::MAX_DP_ID;
}

}  // namespace

DpMerge merge_dps(Device& d, const nlohmann::json& dps) {
  DpMerge out;
  if (!dps.is_object()) return out;
  size_t total = 0;
  for (const auto& v : d.dps) total += value_bytes(v);
  for (auto it = dps.begin(); it != dps.end(); ++it) {
    const std::string& id = it.key();
    const nlohmann::json& v = it.value();
    const bool valid = valid_dp_id(id);
    const auto old = valid ? d.dps.find(id) : d.dps.end();
    const bool known = old != d.dps.end();
    const size_t bytes = value_bytes(v);
    const size_t next = total - (known ? value_bytes(*old) : 0) + bytes;
    if (!valid || bytes > config::MAX_DP_VALUE_BYTES || next > config::MAX_DEVICE_DPS_BYTES ||
        (!known && d.dps.size() >= d.cfg.max_dps)) {
      out.refused.push_back(id);
      continue;
    }
    total = next;
    d.dps[id] = v;
    out.taken[id] = v;
  }
  return out;
}

bool Device::effective_online() const {
  return online || (cloud_online.value_or(false) && (cfg.passive || (!session && !parent)));
}

DeviceRegistry::DeviceRegistry(Deps deps, config::Config config, nlohmann::json learned)
    : deps_(std::move(deps)),
      config_(std::move(config)),
      learned_(learned.is_object() ? std::move(learned) : nlohmann::json::object()) {
  for (const auto& d : config_.devices) {
    if (!d.local_key.empty()) log_register_secret(d.local_key);
    if (d.enabled) insert_(d);
  }
  link_children_();
}

DeviceRegistry::~DeviceRegistry() {
  events_ = nullptr;
  for (auto& [id, d] : devices_)
    if (d->session) d->session->stop();
}

Device* DeviceRegistry::find(std::string_view id_or_name) const {
  if (auto it = devices_.find(std::string(id_or_name)); it != devices_.end()) return it->second.get();
  if (names_dirty_) {
    by_name_.clear();
    for (const auto& [id, d] : devices_) by_name_.emplace(d->name(), d.get());
    names_dirty_ = false;
  }
  auto it = by_name_.find(std::string(id_or_name));
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> DeviceRegistry::ids() const {
  std::vector<std::string> out;
  out.reserve(devices_.size());
  for (const auto& [id, d] : devices_) out.push_back(id);
  return out;
}

DeviceSession* DeviceRegistry::session_for(Device& d) {
  if (d.session) return d.session.get();
  if (d.parent && d.parent->session) return d.parent->session.get();
  return nullptr;
}

Device& DeviceRegistry::insert_(const config::DeviceConfig& cfg) {
  names_dirty_ = true;
  auto d = std::make_unique<Device>();
  d->cfg = cfg;
  // The entry as written is only needed to save the configuration, and config_ keeps it: about 1 kB a
  // device that would otherwise be held twice.
  d->cfg.extra = nlohmann::json();
  d->model = model::DeviceModel::build(cfg, nullptr, &models_);
  if (cfg.version != "auto") d->version = proto::parse_version(cfg.version);
  Device& ref = *d;
  devices_[cfg.id] = std::move(d);
  return ref;
}

void DeviceRegistry::link_children_() {
  for (auto& [id, d] : devices_) d->children.clear();
  for (auto& [id, d] : devices_) {
    d->parent = nullptr;
    if (!d->cfg.is_sub_device()) continue;
    auto p = devices_.find(d->cfg.parent);
    if (p == devices_.end()) {
      T2M_LOGW(DEVICE_REGISTRY_TAG, "%s: parent gateway %s is not configured; the sub-device stays offline",
               d->name().c_str(), d->cfg.parent.c_str());
      continue;
    }
    d->parent = p->second.get();
    p->second->children.push_back(d.get());
  }
}

SessionTimings session_timings(const config::SessionConfig& session) {
  auto ms = [](std::chrono::milliseconds d) { return static_cast<uint32_t>(d.count()); };
  SessionTimings t;
  t.connect_timeout_ms = ms(session.connect_timeout);
  t.response_timeout_ms = ms(session.response_timeout);
  t.backoff_min_ms = ms(session.reconnect_min);
  t.backoff_max_ms = ms(session.reconnect_max);
  t.offline_command_timeout_ms = ms(session.offline_command_timeout);
  return t;
}

SessionOptions DeviceRegistry::session_options_(const config::DeviceConfig& cfg) const {
  SessionOptions o;
  o.device_id = cfg.id;
  o.local_key = to_bytes(cfg.local_key);
  o.host = cfg.address;
  o.port = cfg.port;
  o.version = cfg.version == "auto" ? std::nullopt : proto::parse_version(cfg.version);
  o.device22 = cfg.device22;
  if (auto it = learned_.find(cfg.id); it != learned_.end() && it->is_object()) {
    if (auto v = it->find("version"); v != it->end() && v->is_string())
      o.preferred_version = proto::parse_version(v->get<std::string>());
    if (auto d = it->find("device22"); d != it->end() && d->is_boolean() && d->get<bool>()) o.device22 = true;
  }
  if (auto* d = find(cfg.id)) o.known_dp_ids = d->model.dp_ids();
  o.heartbeat_idle_ms = static_cast<uint32_t>(cfg.heartbeat_interval.count() * MS_PER_S);
  o.poll_interval_ms = static_cast<uint32_t>(cfg.poll_interval.count() * MS_PER_S);
  o.updatedps_ids = cfg.update_dps;
  o.updatedps_interval_ms =
      cfg.update_dps.empty() ? 0 : static_cast<uint32_t>(cfg.update_dps_interval.count() * MS_PER_S);
  o.max_dps_per_write = cfg.max_dps_per_write;
  o.write_pacing_ms = static_cast<uint32_t>(cfg.write_pacing.count());
  const SessionTimings& t = deps_.timings;
  o.connect_timeout_ms = t.connect_timeout_ms;
  o.response_timeout_ms = t.response_timeout_ms;
  o.backoff_min_ms = t.backoff_min_ms;
  o.backoff_max_ms = t.backoff_max_ms;
  o.offline_command_timeout_ms = t.offline_command_timeout_ms;
  return o;
}

void DeviceRegistry::start(SessionEvents& events) {
  events_ = &events;
  for (auto& [id, d] : devices_) start_session_(*d);
}

void DeviceRegistry::stop() {
  for (auto& [id, d] : devices_) {
    if (d->session) d->session->stop();
    d->online = false;
  }
  events_ = nullptr;
}

void DeviceRegistry::start_session_(Device& d) {
  if (!events_ || d.cfg.is_sub_device() || d.session) return;
  if (d.cfg.address == "auto") {
    T2M_LOGI(DEVICE_REGISTRY_TAG, "%s: waiting for a broadcast to learn its address", d.name().c_str());
    d.reason = "address unknown: waiting for its UDP broadcast";
    return;
  }
  // The callbacks hold the Device, which outlives its session (erase_ stops the session first).
  DeviceSession::Callbacks cb;
  Device* dev = &d;
  cb.on_report = [this, dev](const nlohmann::json& dps, const std::optional<std::string>& cid) {
    if (events_) events_->on_session_report(*dev, dps, cid);
  };
  cb.on_link = [this, dev](bool online, const std::string& reason) {
    dev->online = online;
    dev->reason = reason;
    if (events_) events_->on_session_link(*dev, online, reason);
  };
  cb.on_error = [this, dev](const Error& e) {
    ++dev->errors[e.code];
    count_error(e.code);
    if (is(e, ErrorCode::WRONG_KEY) && keys_) keys_->request_key(dev->cfg.id);
    if (events_) events_->on_session_error(*dev, e);
  };
  cb.on_mode_learned = [this, dev](proto::Version v, bool device22) { mode_learned_(*dev, v, device22); };
  d.session = std::make_unique<DeviceSession>(session_options_(d.cfg), deps_.timers, deps_.transports,
                                              deps_.random, std::move(cb));
  d.session->start();
}

void DeviceRegistry::mode_learned_(Device& d, proto::Version v, bool device22) {
  d.version = v;
  d.cfg.device22 = device22;
  learned_[d.cfg.id] = {{"version", std::string(proto::to_string(v))}, {"device22", device22}};
  if (deps_.store) deps_.store->save_learned(learned_);
  if (events_) events_->on_session_mode(d, v, device22);
}

void DeviceRegistry::persist_() {
  if (!deps_.store) return;
  auto st = deps_.store->save_config(config_);
  if (!st.ok())
    T2M_LOGW(DEVICE_REGISTRY_TAG, "the change is active but could not be saved: %s",
             st.error().message.c_str());
}

void DeviceRegistry::erase_(const std::string& id) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  if (it->second->session) it->second->session->stop();
  for (Device* c : it->second->children) c->parent = nullptr;
  devices_.erase(it);
  names_dirty_ = true;
  link_children_();
}

Result<Device*> DeviceRegistry::add(const nlohmann::json& entry) {
  if (entry.is_object() && entry.contains("id") && entry["id"].is_string() &&
      find(entry["id"].get<std::string>()))
    return fail(ErrorCode::EXISTS, "a device with id " + entry["id"].get<std::string>() + " already exists");
  auto added = config::add_device(config_, entry);
  if (!added) return fail(ErrorCode::INVALID_DEVICE, join_issues(added.error()));
  const config::DeviceConfig& cfg = added.value();
  if (!cfg.local_key.empty()) log_register_secret(cfg.local_key);
  Device& d = insert_(cfg);
  link_children_();
  start_session_(d);
  persist_();
  return &d;
}

Result<DeviceRegistry::Removed> DeviceRegistry::remove(std::string_view id_or_name) {
  Device* d = find(id_or_name);
  if (!d) return unknown_device(id_or_name);
  Removed r{d->cfg.id, d->name()};
  erase_(r.id);
  config::remove_device(config_, r.id);
  persist_();
  return r;
}

Result<DeviceRegistry::Renamed> DeviceRegistry::rename(std::string_view id_or_name, const std::string& to) {
  Device* d = find(id_or_name);
  if (!d) return unknown_device(id_or_name);
  if (Device* other = find(to); other && other != d)
    return fail(ErrorCode::NAME_TAKEN, "'" + to + "' is already used");
  Renamed r{d, d->name()};
  if (r.from == to) return r;
  d->cfg.name = to;
  names_dirty_ = true;
  if (auto* c = config_.find_device(d->cfg.id)) c->name = to;
  persist_();
  return r;
}

Result<DeviceRegistry::Renamed> DeviceRegistry::reconfigure(std::string_view id_or_name,
                                                            const nlohmann::json& options) {
  Device* d = find(id_or_name);
  if (!d) return unknown_device(id_or_name);
  if (options.contains("id")) return fail(ErrorCode::BAD_REQUEST, "the id of a device cannot change");
  const std::string id = d->cfg.id;
  const std::string old_name = d->name();
  // update_device keeps only what the user wrote (a listed device's key stays in the list) and
  // validates the whole configuration before changing anything.
  auto updated = config::update_device(config_, id, options);
  if (!updated) return fail(ErrorCode::INVALID_OPTIONS, join_issues(updated.error()));
  const config::DeviceConfig cfg = updated.value();
  nlohmann::json keep_dps = std::move(d->dps);
  nlohmann::json keep_update = std::move(d->update);
  erase_(id);
  Device& nd = insert_(cfg);
  link_children_();
  nd.dps = std::move(keep_dps);
  nd.update = std::move(keep_update);
  if (!cfg.local_key.empty()) log_register_secret(cfg.local_key);
  start_session_(nd);
  persist_();
  return Renamed{&nd, old_name};
}

bool DeviceRegistry::update_local_key(const std::string& id, const std::string& key) {
  Device* d = find(id);
  if (!d || key.empty() || key == d->cfg.local_key) return false;
  log_register_secret(key);
  d->cfg.local_key = key;
  if (auto* c = config_.find_device(d->cfg.id)) c->local_key = key;
  if (d->session) d->session->set_local_key(to_bytes(key));
  persist_();
  return true;
}

DeviceRegistry::Heard DeviceRegistry::on_announcement(const proto::Announcement& a,
                                                      const std::string& sender_ip) {
  const std::string ip = a.ip.empty() ? sender_ip : a.ip;
  Heard h{find(a.gw_id), heard_.find(a.gw_id) == heard_.end(),
          nlohmann::json{{"id", a.gw_id},
                         {"ip", ip},
                         {"version", a.version ? std::string(proto::to_string(*a.version)) : std::string("")},
                         {"product_key", a.product_key},
                         {"last_seen_ms", deps_.timers.now_ms()}}};
  heard_[a.gw_id] = h.seen;
  Device* d = h.device;
  if (!d || d->cfg.is_sub_device()) return h;
  if (!d->version && a.version && d->cfg.version == "auto") d->version = a.version;
  if (d->cfg.address == "auto" || d->cfg.address != ip) {
    const bool was_auto = d->cfg.address == "auto";
    d->cfg.address = ip;
    if (!d->session) {
      if (d->cfg.version == "auto" && a.version) d->cfg.version = std::string(proto::to_string(*a.version));
      start_session_(*d);
      if (was_auto) d->cfg.address = "auto";  // keep following broadcasts
    } else {
      d->session->set_address(ip, d->cfg.port);
    }
  }
  return h;
}

}  // namespace t2m::gw

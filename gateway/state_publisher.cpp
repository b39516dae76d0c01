#include "gateway/state_publisher.h"

#include <malloc.h>

#include <unordered_map>

#include "common/log.h"
#include "gateway/error_code.h"
#include "mqtt/payload.h"

namespace t2m::gw {
namespace {

constexpr std::string_view STATE_PUBLISHER_TAG = "gateway.state";
// bridge/devices describes every device (~3 KB each): rebuilt at most this often during bursts.
constexpr uint32_t BRIDGE_DEVICES_DEBOUNCE_MS = 250;
// Bursts (a cold start of thousands of handshakes, a reconnect storm) leave freed heap behind that glibc
// keeps resident. Looked at this often, handed back when it is worth a walk of the heap.
constexpr uint32_t MEMORY_TRIM_INTERVAL_MS = 10000;
constexpr size_t MEMORY_TRIM_MIN_FREE_BYTES = 1024 * 1024;
constexpr std::string_view BRIDGE_DEVICES_TIMER = "bridge-devices";
constexpr std::string_view HA_BIRTH_TIMER = "ha-birth";
const char* STATE_ONLINE = R"({"state":"online"})";
const char* STATE_OFFLINE = R"({"state":"offline"})";

std::string to_string(const nlohmann::json& j) {
  return mqtt::dump_json(j);
}

}  // namespace

StatePublisher::StatePublisher(Deps deps) : deps_(deps), sched_(deps.timers) {}

void StatePublisher::start() {
  started_ = true;
  deps_.publisher.set_retained("", deps_.topics.bridge_state(), STATE_ONLINE,
                               mqtt::Publisher::When::IF_CHANGED);
  publish_bridge_info();
  std::vector<HaPublisher::DeviceView> views;
  for (const auto& [id, d] : deps_.registry.devices()) {
    publish_availability_(*d);
    views.push_back(ha_view(*d));
  }
  if (deps_.ha) deps_.ha->start(views);
  publish_bridge_devices_now_();
  sched_.set_interval("memory-trim", MEMORY_TRIM_INTERVAL_MS, [] {
    if (mallinfo2().fordblks >= MEMORY_TRIM_MIN_FREE_BYTES) malloc_trim(0);
  });
}

void StatePublisher::stop() {
  if (!started_) return;
  started_ = false;
  sched_.cancel_all();
  for (const auto& [id, d] : deps_.registry.devices()) publish_availability_(*d);
  deps_.publisher.set_retained("", deps_.topics.bridge_state(), STATE_OFFLINE,
                               mqtt::Publisher::When::IF_CHANGED);
}

HaPublisher::DeviceView StatePublisher::ha_view(const Device& d) {
  HaPublisher::DeviceView v;
  v.config = &d.cfg;
  v.model = &d.model.model();
  if (d.update.is_object()) {
    v.firmware_update = true;
    if (auto it = d.update.find("installed_version"); it != d.update.end() && it->is_string())
      v.firmware_version = it->get<std::string>();
  }
  return v;
}

void StatePublisher::discovery_changed_(const Device& d) {
  if (deps_.ha) deps_.ha->publish_device(ha_view(d));
}

// ---- device sessions ---------------------------------------------------------------------------

void StatePublisher::on_session_report(Device& d, const nlohmann::json& dps,
                                       const std::optional<std::string>& cid) {
  // The adapter boundary for what a device reports: a converter that throws on odd input costs that
  // report an error count, never the process.
  try {
    Device* target = &d;
    if (cid && !cid->empty()) {
      target = nullptr;
      for (Device* c : d.children)
        if (c->cfg.cid == *cid) target = c;
      if (!target) {
        // Gateways push for sub-devices we were not told about: say so once per cid, then ignore. At
        // most MAX_UNKNOWN_CIDS are remembered: a gateway naming new cids in every frame must grow
        // neither memory nor bridge/event.
        ++deps_.registry.stats().unknown_sub_device_reports;
        if (unknown_cids_.size() < MAX_UNKNOWN_CIDS && unknown_cids_.insert(d.cfg.id + "/" + *cid).second) {
          T2M_LOGI(STATE_PUBLISHER_TAG, "%s: report for unknown sub-device cid %s", d.name().c_str(),
                   cid->c_str());
          event("unknown_sub_device", {{"gateway", d.name()}, {"cid", *cid}, {"dps", dps}});
        }
        return;
      }
    }
    ++deps_.registry.stats().reports;
    ++target->reports;
    target->last_seen_ms = deps_.timers.now_ms();
    const DpMerge merged = merge_dps(*target, dps);
    if (!merged.refused.empty()) {
      dps_refused_(*target, merged.refused);
      if (merged.taken.empty()) return;
    }
    if (deps_.ha) deps_.ha->publish_actions(ha_view(*target), merged.taken);
    if (deps_.registry.refine_model(*target)) {
      // The device showed DPs its model did not know: entities (and HA discovery) may change.
      publish_bridge_devices_();
      discovery_changed_(*target);
    }
    if (target != &d && !target->online) {
      // A sub-device that reports is reachable (gateways report cached state for offline ones too, but a
      // fresh push means the gateway heard from it).
      target->online = true;
      target->reason = "reported through " + d.name();
      publish_availability_(*target);
    }
    publish_state(*target);
  } catch (const std::exception& e) {
    ++d.errors[std::string(to_string(ErrorCode::INTERNAL_ERROR))];
    deps_.registry.count_error(ErrorCode::INTERNAL_ERROR);
    T2M_LOGE(STATE_PUBLISHER_TAG, "%s: report could not be handled: %s", d.name().c_str(), e.what());
  }
}

void StatePublisher::on_session_link(Device& d, bool online, const std::string& reason) {
  publish_availability_(d);
  for (Device* c : d.children) {
    c->online = online;
    c->reason = online ? "gateway " + d.name() + " connected" : "gateway " + d.name() + " offline";
    publish_availability_(*c);
  }
  event(online ? "device_online" : "device_offline",
        {{"id", d.cfg.id}, {"friendly_name", d.name()}, {"reason", reason}});
  if (online && d.session) {
    // Ask sub-devices for their state through the gateway's fresh link.
    for (Device* c : d.children) d.session->refresh(c->cfg.cid, nullptr);
  }
}

void StatePublisher::on_session_error(Device& d, const Error& e) {
  if (is(e, ErrorCode::WRONG_KEY) || is(e, ErrorCode::NO_ANSWER) || is(e, ErrorCode::WRONG_VERSION)) {
    event("device_error",
          {{"id", d.cfg.id}, {"friendly_name", d.name()}, {"error", e.code}, {"message", e.message}});
  }
}

void StatePublisher::on_session_mode(Device& d, proto::Version v, bool device22) {
  event("device_mode", {{"id", d.cfg.id},
                        {"friendly_name", d.name()},
                        {"protocol_version", std::string(proto::to_string(v))},
                        {"device22", device22}});
  publish_bridge_devices_();
}

void StatePublisher::publish_state(Device& d) {
  std::vector<Error> problems;
  nlohmann::json state = d.model.to_state(d.dps, &problems);
  if (!d.update.is_null()) state["update"] = d.update;
  for (const auto& p : problems) {
    ++d.errors[p.code];
    deps_.registry.count_error(p.code);
  }
  std::string payload = to_string(state);
  ++deps_.registry.stats().state_publishes;
  const config::Config& cfg = deps_.registry.config();
  const std::string topic = deps_.topics.state(d.name());
  if (d.cfg.retain.value_or(cfg.mqtt.retain)) {
    deps_.publisher.set_retained(d.cfg.id, topic, std::move(payload));
  } else {
    (void)deps_.publisher.publish(mqtt::Message{topic, std::move(payload), mqtt::Qos::AT_LEAST_ONCE, false});
  }
  if (d.cfg.plain_topics.value_or(cfg.mqtt.plain_topics)) {
    for (auto it = state.begin(); it != state.end(); ++it) {
      if (it.key() == "dps") continue;
      auto attr = deps_.topics.attribute(d.name(), it.key());
      if (!attr) continue;
      std::string v = it->is_string() ? it->get<std::string>() : to_string(*it);
      deps_.publisher.set_retained(d.cfg.id, *attr, std::move(v));
    }
  }
}

void StatePublisher::publish_availability_(const Device& d) {
  deps_.publisher.set_retained(d.cfg.id, deps_.topics.availability(d.name()),
                               d.effective_online() ? STATE_ONLINE : STATE_OFFLINE,
                               mqtt::Publisher::When::IF_CHANGED);
}

// ---- life cycle --------------------------------------------------------------------------------

void StatePublisher::device_added(Device& d) {
  publish_availability_(d);
  publish_bridge_devices_();
  publish_bridge_info();
  discovery_changed_(d);
}

void StatePublisher::device_removed(const DeviceRegistry::Removed& r, const std::string& reason) {
  deps_.publisher.clear_owner(r.id);
  if (deps_.ha) deps_.ha->remove_device(r.id, r.name);
  publish_bridge_devices_();
  publish_bridge_info();
  nlohmann::json data{{"id", r.id}, {"friendly_name", r.name}};
  if (!reason.empty()) data["reason"] = reason;
  event("device_removed", std::move(data));
}

void StatePublisher::device_renamed(const DeviceRegistry::Renamed& r) {
  Device& d = *r.device;
  if (r.from == d.name()) return;
  // Clear the old name's retained state, availability and plain topics; discovery (by id) stays.
  deps_.publisher.clear_owner(d.cfg.id, deps_.topics.state(r.from));
  publish_availability_(d);
  if (!d.dps.empty()) publish_state(d);
  publish_bridge_devices_();
  discovery_changed_(d);
  event("device_renamed", {{"id", d.cfg.id}, {"from", r.from}, {"to", d.name()}});
}

void StatePublisher::device_reconfigured(const DeviceRegistry::Renamed& r) {
  Device& d = *r.device;
  if (r.from != d.name()) deps_.publisher.clear_owner(d.cfg.id, deps_.topics.state(r.from));
  publish_availability_(d);
  if (!d.dps.empty()) publish_state(d);
  publish_bridge_devices_();
  discovery_changed_(d);
}

void StatePublisher::device_key_updated(const Device& d) {
  event("device_key_updated", {{"id", d.cfg.id}, {"friendly_name", d.name()}});
}

void StatePublisher::announcement(const DeviceRegistry::Heard& h) {
  if (h.device || !h.first) return;
  T2M_LOGI(STATE_PUBLISHER_TAG,
           "unknown device %s at %s (protocol %s): add it with bridge/request/device/add",
           h.seen["id"].get<std::string>().c_str(), h.seen["ip"].get<std::string>().c_str(),
           h.seen["version"].get<std::string>().c_str());
  event("device_announce", h.seen);
}

// ---- cloud -------------------------------------------------------------------------------------

void StatePublisher::cloud_report(const std::string& dev_id, const std::vector<CloudItem>& items) {
  Device* d = deps_.registry.find(dev_id);
  if (!d) return;
  nlohmann::json dps = nlohmann::json::object();
  for (const auto& item : items) {
    std::optional<int> id = item.dp_id;
    if (!id && !item.code.empty()) {
      if (const auto* desc = d->model.model().find_property(item.code)) id = desc->id;
    }
    if (!id) {
      deps_.registry.count_error(ErrorCode::CLOUD_UNKNOWN_CODE);
      continue;
    }
    dps[std::to_string(*id)] = item.value;
  }
  if (dps.empty()) return;
  ++deps_.registry.stats().reports;
  ++d->reports;
  d->last_seen_ms = deps_.timers.now_ms();
  const DpMerge merged = merge_dps(*d, dps);
  if (!merged.refused.empty()) {
    dps_refused_(*d, merged.refused);
    if (merged.taken.empty()) return;
  }
  publish_state(*d);
}

void StatePublisher::dps_refused_(Device& d, const std::vector<std::string>& ids) {
  d.errors[std::string(to_string(ErrorCode::DP_REFUSED))] += ids.size();
  deps_.registry.count_error(ErrorCode::DP_REFUSED);
  if (d.dp_refusal_reported) return;
  // Once per device: a device that floods new ids would otherwise flood bridge/event as well.
  d.dp_refusal_reported = true;
  constexpr size_t SHOWN_IDS = 8;
  nlohmann::json shown = nlohmann::json::array();
  for (size_t i = 0; i < ids.size() && i < SHOWN_IDS; ++i) shown.push_back(ids[i]);
  T2M_LOGW(STATE_PUBLISHER_TAG, "%s: refused %zu DP(s) (ids 1..255, values up to %zu bytes, at most %u ids)",
           d.name().c_str(), ids.size(), config::MAX_DP_VALUE_BYTES, d.cfg.max_dps);
  event("dp_refused", {{"device", d.name()},
                       {"ids", shown},
                       {"refused", ids.size()},
                       {"max_dps", d.cfg.max_dps},
                       {"max_value_bytes", config::MAX_DP_VALUE_BYTES}});
}

void StatePublisher::cloud_online(const std::string& dev_id, bool online) {
  Device* d = deps_.registry.find(dev_id);
  if (!d) return;
  d->cloud_online = online;
  publish_availability_(*d);
}

void StatePublisher::cloud_name(const std::string& dev_id, const std::string& name) {
  Device* d = deps_.registry.find(dev_id);
  if (!d) return;
  // The MQTT name is the user's; the app's name is shown alongside it (bridge/devices, HA device name).
  d->cloud_name = name;
  publish_bridge_devices_();
  event("device_cloud_name", {{"id", d->cfg.id}, {"friendly_name", d->name()}, {"cloud_name", name}});
  discovery_changed_(*d);
}

void StatePublisher::cloud_dp_name(const std::string& dev_id, std::optional<int> dp_id,
                                   const std::string& name) {
  Device* d = deps_.registry.find(dev_id);
  if (!d) return;
  nlohmann::json data{{"id", d->cfg.id}, {"friendly_name", d->name()}, {"name", name}};
  if (dp_id) data["dp"] = *dp_id;
  event("dp_cloud_name", std::move(data));
}

void StatePublisher::firmware(const std::string& dev_id, nlohmann::json update) {
  Device* d = deps_.registry.find(dev_id);
  if (!d || d->update == update) return;
  const bool first = d->update.is_null();
  d->update = std::move(update);
  publish_state(*d);
  // The first firmware report adds an update entity to the device's discovery.
  if (first) discovery_changed_(*d);
}

void StatePublisher::device_event(const std::string& dev_id, const std::string& type, nlohmann::json data) {
  Device* d = deps_.registry.find(dev_id);
  if (!d) return;
  nlohmann::json ev{{"event_type", type}, {"data", std::move(data)}};
  (void)deps_.publisher.publish(mqtt::Message{deps_.topics.state(d->name()) + "/event", to_string(ev),
                                              mqtt::Qos::AT_LEAST_ONCE, false});
}

void StatePublisher::event(const std::string& type, nlohmann::json data) {
  nlohmann::json ev{{"type", type}, {"data", std::move(data)}};
  (void)deps_.publisher.publish(
      mqtt::Message{deps_.topics.bridge_event(), to_string(ev), mqtt::Qos::AT_LEAST_ONCE, false});
}

void StatePublisher::ha_status(bool online) {
  if (!online) {
    sched_.cancel(std::string(HA_BIRTH_TIMER));
    return;
  }
  T2M_LOGI(STATE_PUBLISHER_TAG, "Home Assistant is online: states follow in %llu ms",
           static_cast<unsigned long long>(deps_.ha_birth_delay_ms));
  sched_.set_timeout(std::string(HA_BIRTH_TIMER), deps_.ha_birth_delay_ms, [this] {
    for (const auto& [id, d] : deps_.registry.devices())
      if (!d->dps.empty()) publish_state(*d);
  });
}

// ---- bridge/info and bridge/devices -------------------------------------------------------------

void StatePublisher::publish_bridge_info() {
  const config::Config& cfg = deps_.registry.config();
  nlohmann::json info{{"version", std::string(GATEWAY_VERSION)},
                      {"log_level", cfg.log_level},
                      {"config",
                       {{"base_topic", cfg.mqtt.base_topic},
                        {"homeassistant", cfg.homeassistant.enabled},
                        {"discovery_prefix", cfg.homeassistant.discovery_prefix},
                        {"cloud", cfg.cloud.has_value()},
                        {"devices", deps_.registry.devices().size()}}}};
  deps_.publisher.set_retained("", deps_.topics.bridge_info(), to_string(info),
                               mqtt::Publisher::When::IF_CHANGED);
}

nlohmann::json StatePublisher::device_entry_(const Device& d) const {
  nlohmann::json j{
      {"id", d.cfg.id},
      {"friendly_name", d.name()},
      {"cloud_name", d.cloud_name},
      {"type", d.cfg.is_sub_device() ? "sub_device" : (d.children.empty() ? "device" : "gateway")},
      {"online", d.online},
      {"status", d.reason},
      {"category", d.cfg.category},
      {"product_id", d.cfg.product_id},
      {"product_name", d.cfg.product_name}};
  if (d.cfg.is_sub_device()) {
    j["parent"] = d.cfg.parent;
    j["cid"] = d.cfg.cid;
  } else {
    j["address"] = d.cfg.address;
    j["port"] = d.cfg.port;
    j["protocol_version"] = d.version ? std::string(proto::to_string(*d.version)) : std::string("auto");
    j["device22"] = d.session ? d.session->device22() : d.cfg.device22;
  }
  return j;
}

nlohmann::json StatePublisher::devices_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, d] : deps_.registry.devices()) {
    nlohmann::json j = device_entry_(*d);
    j["dps"] = d->model.describe();
    out.push_back(std::move(j));
  }
  return out;
}

std::string StatePublisher::devices_payload() const {
  // The same document as devices_json(), written one device at a time: a DOM of the whole list is about
  // five times its text (10 MB at 1,000 devices), and that peak stayed in the heap as fragmentation. Devices
  // that share a model share its description's text too.
  std::string out = "[";
  std::unordered_map<const model::DerivedModel*, std::string> described;
  for (const auto& [id, d] : deps_.registry.devices()) {
    std::string entry = to_string(device_entry_(*d));
    auto [it, fresh] = described.try_emplace(&d->model.model());
    if (fresh) it->second = to_string(d->model.describe());
    entry.pop_back();  // the closing brace: the entry is a non-empty object
    entry += ",\"dps\":";
    entry += it->second;
    entry += '}';
    if (out.size() > 1) out += ',';
    out += entry;
  }
  out += ']';
  return out;
}

void StatePublisher::publish_bridge_devices_() {
  if (!started_) return;  // start() publishes it once everything is set up
  if (sched_.active(std::string(BRIDGE_DEVICES_TIMER))) return;
  sched_.set_timeout(std::string(BRIDGE_DEVICES_TIMER), BRIDGE_DEVICES_DEBOUNCE_MS,
                     [this] { publish_bridge_devices_now_(); });
}

void StatePublisher::publish_bridge_devices_now_() {
  deps_.publisher.set_retained_rendered(
      "", deps_.topics.bridge_devices(), devices_payload(), [this] { return devices_payload(); },
      mqtt::Publisher::When::IF_CHANGED);
  // Building the document for thousands of devices leaves megabytes of freed heap behind; hand it back.
  malloc_trim(0);
}

nlohmann::json StatePublisher::state_of(const std::string& id_or_name) const {
  Device* d = deps_.registry.find(id_or_name);
  if (!d) return nullptr;
  return d->model.to_state(d->dps);
}

}  // namespace t2m::gw

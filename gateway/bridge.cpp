#include "gateway/bridge.h"

#include <malloc.h>

#include "common/log.h"
#include "gateway/error_code.h"
#include "mqtt/payload.h"

namespace t2m::gw {
namespace {

constexpr std::string_view TAG = "gateway.bridge";
constexpr uint32_t MS_PER_S = 1000;
// bridge/devices describes every device (~3 KB each): rebuilt at most this often during bursts.
constexpr uint32_t BRIDGE_DEVICES_DEBOUNCE_MS = 250;
// Bursts (a cold start of thousands of handshakes, a reconnect storm) leave freed heap behind that glibc
// keeps resident. Looked at this often, handed back when it is worth a walk of the heap.
constexpr uint32_t MEMORY_TRIM_INTERVAL_MS = 10000;
constexpr size_t MEMORY_TRIM_MIN_FREE_BYTES = 1024 * 1024;
const char* STATE_ONLINE = R"({"state":"online"})";
const char* STATE_OFFLINE = R"({"state":"offline"})";

std::string to_string(const nlohmann::json& j) {
  return mqtt::dump_json(j);
}

}  // namespace

struct Bridge::Device {
  config::DeviceConfig cfg;
  DeviceModel model;
  std::unique_ptr<DeviceSession> session;  // gateways and plain devices; null for sub-devices
  Device* parent = nullptr;                // sub-devices: their gateway
  std::vector<Device*> children;
  nlohmann::json dps = nlohmann::json::object();  // merged wire state
  bool online = false;
  std::string reason = "not connected yet";
  std::optional<proto::Version> version;
  uint64_t last_seen_ms = 0;
  uint64_t reports = 0;
  std::map<std::string, uint64_t> errors;
  std::optional<bool> cloud_online;
  std::string cloud_name;
  nlohmann::json update;  // firmware state, null until the cloud says something
  bool effective_online() const {
    // A device without a LAN session (sleeping battery devices) is as online as the cloud says.
    return online || (cloud_online.value_or(false) && (cfg.passive || (!session && !parent)));
  }

  const std::string& name() const { return cfg.display_name(); }
};

Bridge::Bridge(Deps deps, config::Config config, Hooks hooks, nlohmann::json learned)
    : deps_(std::move(deps)),
      config_(std::move(config)),
      hooks_(std::move(hooks)),
      topics_(config_.mqtt.base_topic),
      sched_(deps_.timers),
      learned_(learned.is_object() ? std::move(learned) : nlohmann::json::object()),
      alive_(std::make_shared<bool>(true)) {
  for (const auto& d : config_.devices) {
    if (!d.local_key.empty()) log_register_secret(d.local_key);
    if (d.enabled) add_device_(d);
  }
  link_children_();
}

Bridge::~Bridge() {
  *alive_ = false;
  for (auto& [id, d] : devices_)
    if (d->session) d->session->stop();
}

Bridge::Device* Bridge::find_(std::string_view id_or_name) const {
  if (auto it = devices_.find(std::string(id_or_name)); it != devices_.end()) return it->second.get();
  if (names_dirty_) {
    by_name_.clear();
    for (const auto& [id, d] : devices_) by_name_.emplace(d->name(), d.get());
    names_dirty_ = false;
  }
  auto it = by_name_.find(std::string(id_or_name));
  return it == by_name_.end() ? nullptr : it->second;
}

void Bridge::add_device_(const config::DeviceConfig& cfg) {
  names_dirty_ = true;
  auto d = std::make_unique<Device>();
  d->cfg = cfg;
  // The entry as written is only needed to save the configuration, and config_ keeps it: about 1 kB a
  // device that would otherwise be held twice.
  d->cfg.extra = nlohmann::json();
  d->model = DeviceModel::build(cfg, nullptr, &models_);
  if (cfg.version != "auto") d->version = proto::parse_version(cfg.version);
  devices_[cfg.id] = std::move(d);
}

void Bridge::link_children_() {
  for (auto& [id, d] : devices_) d->children.clear();
  for (auto& [id, d] : devices_) {
    d->parent = nullptr;
    if (!d->cfg.is_sub_device()) continue;
    auto p = devices_.find(d->cfg.parent);
    if (p == devices_.end()) {
      T2M_LOGW(TAG, "%s: parent gateway %s is not configured; the sub-device stays offline",
               d->name().c_str(), d->cfg.parent.c_str());
      continue;
    }
    d->parent = p->second.get();
    p->second->children.push_back(d.get());
  }
}

SessionOptions Bridge::session_options_(const config::DeviceConfig& cfg) const {
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
  if (auto* d = find_(cfg.id)) o.known_dp_ids = d->model.dp_ids();
  o.heartbeat_idle_ms = static_cast<uint32_t>(cfg.heartbeat_interval.count() * MS_PER_S);
  o.poll_interval_ms = static_cast<uint32_t>(cfg.poll_interval.count() * MS_PER_S);
  o.updatedps_ids = cfg.update_dps;
  o.updatedps_interval_ms =
      cfg.update_dps.empty() ? 0 : static_cast<uint32_t>(cfg.update_dps_interval.count() * MS_PER_S);
  o.max_dps_per_write = cfg.max_dps_per_write;
  o.write_pacing_ms = static_cast<uint32_t>(cfg.write_pacing.count());
  return o;
}

void Bridge::start() {
  started_ = true;
  deps_.publisher.set_retained("", topics_.bridge_state(), R"({"state":"online"})",
                               mqtt::Publisher::When::IF_CHANGED);
  publish_bridge_info_();
  for (auto& [id, d] : devices_) {
    publish_availability_(*d);
    if (hooks_.on_device_changed) hooks_.on_device_changed(id);
  }
  for (auto& [id, d] : devices_) start_device_(*d);
  publish_bridge_devices_now_();
  sched_.set_interval("memory-trim", MEMORY_TRIM_INTERVAL_MS, [] {
    if (mallinfo2().fordblks >= MEMORY_TRIM_MIN_FREE_BYTES) malloc_trim(0);
  });
}

void Bridge::start_device_(Device& d) {
  if (d.cfg.is_sub_device() || d.session) return;
  if (d.cfg.address == "auto") {
    T2M_LOGI(TAG, "%s: waiting for a broadcast to learn its address", d.name().c_str());
    d.reason = "address unknown: waiting for its UDP broadcast";
    return;
  }
  DeviceSession::Callbacks cb;
  Device* dev = &d;
  cb.on_report = [this, dev](const nlohmann::json& dps, const std::optional<std::string>& cid) {
    on_report_(*dev, dps, cid);
  };
  cb.on_link = [this, dev](bool online, const std::string& reason) { on_link_(*dev, online, reason); };
  cb.on_error = [this, dev](const Error& e) { on_error_(*dev, e); };
  cb.on_mode_learned = [this, dev](proto::Version v, bool device22) {
    dev->version = v;
    dev->cfg.device22 = device22;
    learned_[dev->cfg.id] = {{"version", std::string(proto::to_string(v))}, {"device22", device22}};
    if (hooks_.save_learned) hooks_.save_learned(learned_);
    publish_event_("device_mode", {{"id", dev->cfg.id},
                                   {"friendly_name", dev->name()},
                                   {"protocol_version", std::string(proto::to_string(v))},
                                   {"device22", device22}});
    publish_bridge_devices_();
  };
  d.session = std::make_unique<DeviceSession>(session_options_(d.cfg), deps_.timers, deps_.transports,
                                              deps_.random, std::move(cb));
  d.session->start();
}

void Bridge::stop() {
  if (!started_) return;
  started_ = false;
  sched_.cancel_all();
  for (auto& [id, d] : devices_) {
    if (d->session) d->session->stop();
    d->online = false;
    publish_availability_(*d);
  }
  deps_.publisher.set_retained("", topics_.bridge_state(), R"({"state":"offline"})",
                               mqtt::Publisher::When::IF_CHANGED);
}

void Bridge::on_mqtt_connected() {
  for (const auto& filter : topics_.subscriptions()) {
    auto st = deps_.client.subscribe(filter, mqtt::Qos::AT_LEAST_ONCE);
    if (!st.ok()) T2M_LOGE(TAG, "cannot subscribe to %s: %s", filter.c_str(), st.error().message.c_str());
  }
  deps_.publisher.on_connected();
}

// ---- device side -------------------------------------------------------------------------------

DeviceSession* Bridge::session_for_(Device& d) {
  if (d.session) return d.session.get();
  if (d.parent && d.parent->session) return d.parent->session.get();
  return nullptr;
}

void Bridge::on_report_(Device& d, const nlohmann::json& dps, const std::optional<std::string>& cid) {
  try {
    handle_report_(d, dps, cid);
  } catch (const std::exception& e) {
    ++d.errors[std::string(to_string(ErrorCode::INTERNAL_ERROR))];
    count_error_(ErrorCode::INTERNAL_ERROR);
    T2M_LOGE(TAG, "%s: report could not be handled: %s", d.name().c_str(), e.what());
  }
}

void Bridge::handle_report_(Device& d, const nlohmann::json& dps, const std::optional<std::string>& cid) {
  Device* target = &d;
  if (cid && !cid->empty()) {
    target = nullptr;
    for (Device* c : d.children)
      if (c->cfg.cid == *cid) target = c;
    if (!target) {
      // Gateways push for sub-devices we were not told about: say so once, then ignore.
      if (heard_.emplace("cid:" + d.cfg.id + "/" + *cid, nlohmann::json::object()).second) {
        T2M_LOGI(TAG, "%s: report for unknown sub-device cid %s", d.name().c_str(), cid->c_str());
        publish_event_("unknown_sub_device", {{"gateway", d.name()}, {"cid", *cid}, {"dps", dps}});
      }
      return;
    }
  }
  ++stats_.reports;
  ++target->reports;
  target->last_seen_ms = deps_.timers.now_ms();
  for (auto it = dps.begin(); it != dps.end(); ++it) target->dps[it.key()] = it.value();
  if (hooks_.on_report) hooks_.on_report(target->cfg.id, dps);
  if (target->model.refine(target->cfg, target->dps, &models_)) {
    // The device showed DPs its model did not know: entities (and HA discovery) may change.
    publish_bridge_devices_();
    if (hooks_.on_device_changed) hooks_.on_device_changed(target->cfg.id);
  }
  if (target != &d && !target->online) {
    // A sub-device that reports is reachable (gateways report cached state for offline ones too, but a
    // fresh push means the gateway heard from it).
    target->online = true;
    target->reason = "reported through " + d.name();
    publish_availability_(*target);
  }
  publish_state_(*target);
}

void Bridge::on_link_(Device& d, bool online, const std::string& reason) {
  d.online = online;
  d.reason = reason;
  publish_availability_(d);
  for (Device* c : d.children) {
    c->online = online;
    c->reason = online ? "gateway " + d.name() + " connected" : "gateway " + d.name() + " offline";
    publish_availability_(*c);
  }
  publish_event_(online ? "device_online" : "device_offline",
                 {{"id", d.cfg.id}, {"friendly_name", d.name()}, {"reason", reason}});
  if (online) {
    // Ask sub-devices for their state through the gateway's fresh link.
    for (Device* c : d.children) {
      if (d.session) d.session->refresh(c->cfg.cid, nullptr);
    }
  }
}

void Bridge::on_error_(Device& d, const Error& e) {
  ++d.errors[e.code];
  count_error_(e.code);
  const bool wrong_key = is(e, ErrorCode::WRONG_KEY);
  if (wrong_key && hooks_.on_wrong_key) hooks_.on_wrong_key(d.cfg.id);
  if (wrong_key || is(e, ErrorCode::NO_ANSWER) || is(e, ErrorCode::WRONG_VERSION)) {
    publish_event_(
        "device_error",
        {{"id", d.cfg.id}, {"friendly_name", d.name()}, {"error", e.code}, {"message", e.message}});
  }
}

void Bridge::publish_state_(Device& d) {
  std::vector<Error> problems;
  nlohmann::json state = d.model.to_state(d.dps, &problems);
  if (!d.update.is_null()) state["update"] = d.update;
  for (const auto& p : problems) {
    ++d.errors[p.code];
    count_error_(p.code);
  }
  std::string payload = to_string(state);
  ++stats_.state_publishes;
  if (d.cfg.retain.value_or(config_.mqtt.retain)) {
    deps_.publisher.set_retained(d.cfg.id, topics_.state(d.name()), std::move(payload));
  } else {
    (void)deps_.publisher.publish(
        mqtt::Message{topics_.state(d.name()), std::move(payload), mqtt::Qos::AT_LEAST_ONCE, false});
  }
  if (d.cfg.plain_topics.value_or(config_.mqtt.plain_topics)) {
    for (auto it = state.begin(); it != state.end(); ++it) {
      if (it.key() == "dps") continue;
      auto topic = topics_.attribute(d.name(), it.key());
      if (!topic) continue;
      std::string v = it->is_string() ? it->get<std::string>() : to_string(*it);
      deps_.publisher.set_retained(d.cfg.id, *topic, std::move(v));
    }
  }
}

void Bridge::publish_availability_(Device& d) {
  deps_.publisher.set_retained(d.cfg.id, topics_.availability(d.name()),
                               d.effective_online() ? STATE_ONLINE : STATE_OFFLINE,
                               mqtt::Publisher::When::IF_CHANGED);
}

void Bridge::publish_bridge_info_() {
  nlohmann::json info{{"version", std::string(GATEWAY_VERSION)},
                      {"log_level", config_.log_level},
                      {"config",
                       {{"base_topic", config_.mqtt.base_topic},
                        {"homeassistant", config_.homeassistant.enabled},
                        {"discovery_prefix", config_.homeassistant.discovery_prefix},
                        {"cloud", config_.cloud.has_value()},
                        {"devices", devices_.size()}}}};
  deps_.publisher.set_retained("", topics_.bridge_info(), to_string(info), mqtt::Publisher::When::IF_CHANGED);
}

nlohmann::json Bridge::device_entry_(const Device& d) const {
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

nlohmann::json Bridge::devices_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, d] : devices_) {
    nlohmann::json j = device_entry_(*d);
    j["dps"] = d->model.describe();
    out.push_back(std::move(j));
  }
  return out;
}

std::string Bridge::devices_payload() const {
  // The same document as devices_json(), written one device at a time: a DOM of the whole list is about
  // five times its text (10 MB at 1,000 devices), and that peak stayed in the heap as fragmentation. Devices
  // that share a model share its description's text too.
  std::string out = "[";
  std::unordered_map<const config::DeviceModel*, std::string> described;
  for (const auto& [id, d] : devices_) {
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

void Bridge::publish_bridge_devices_() {
  if (!started_) return;  // start() publishes it once everything is set up
  if (sched_.active("bridge-devices")) return;
  sched_.set_timeout("bridge-devices", BRIDGE_DEVICES_DEBOUNCE_MS, [this] { publish_bridge_devices_now_(); });
}

void Bridge::publish_bridge_devices_now_() {
  deps_.publisher.set_retained_rendered(
      "", topics_.bridge_devices(), devices_payload(), [this] { return devices_payload(); },
      mqtt::Publisher::When::IF_CHANGED);
  // Building the document for thousands of devices leaves megabytes of freed heap behind; hand it back.
  malloc_trim(0);
}

void Bridge::publish_event_(const std::string& type, nlohmann::json data) {
  nlohmann::json ev{{"type", type}, {"data", std::move(data)}};
  (void)deps_.publisher.publish(
      mqtt::Message{topics_.bridge_event(), to_string(ev), mqtt::Qos::AT_LEAST_ONCE, false});
}

void Bridge::count_error_(const std::string& code) {
  ++stats_.errors[code];
}

void Bridge::count_error_(ErrorCode code) {
  ++stats_.errors[std::string(to_string(code))];
}

void Bridge::on_announcement(const proto::Announcement& a, const std::string& sender_ip) {
  const std::string ip = a.ip.empty() ? sender_ip : a.ip;
  nlohmann::json seen{{"id", a.gw_id},
                      {"ip", ip},
                      {"version", a.version ? std::string(proto::to_string(*a.version)) : std::string("")},
                      {"product_key", a.product_key},
                      {"last_seen_ms", deps_.timers.now_ms()}};
  const bool first = heard_.find(a.gw_id) == heard_.end();
  heard_[a.gw_id] = seen;
  Device* d = find_(a.gw_id);
  if (!d) {
    if (first) {
      T2M_LOGI(TAG, "unknown device %s at %s (protocol %s): add it with bridge/request/device/add",
               a.gw_id.c_str(), ip.c_str(), seen["version"].get<std::string>().c_str());
      publish_event_("device_announce", seen);
    }
    return;
  }
  if (d->cfg.is_sub_device()) return;
  if (!d->version && a.version && d->cfg.version == "auto") d->version = a.version;
  if (d->cfg.address == "auto" || d->cfg.address != ip) {
    const bool was_auto = d->cfg.address == "auto";
    d->cfg.address = ip;
    if (!d->session) {
      if (d->cfg.version == "auto" && a.version) d->cfg.version = std::string(proto::to_string(*a.version));
      start_device_(*d);
      if (was_auto) d->cfg.address = "auto";  // keep following broadcasts
    } else {
      d->session->set_address(ip, d->cfg.port);
    }
  }
}

// ---- MQTT side ---------------------------------------------------------------------------------

void Bridge::on_mqtt_message(const mqtt::Message& m) {
  // The adapter boundary for everything a broker can send us: a converter that throws on some odd input
  // (bytes that are not UTF-8, say) costs that one message an error answer, never the process.
  try {
    handle_mqtt_message_(m);
  } catch (const std::exception& e) {
    ++stats_.bad_mqtt_messages;
    count_error_(ErrorCode::INTERNAL_ERROR);
    T2M_LOGE(TAG, "message on %s could not be handled: %s", m.topic.c_str(), e.what());
    auto parsed = topics_.parse(m.topic);
    if (parsed && (parsed->kind == mqtt::TopicKind::SET || parsed->kind == mqtt::TopicKind::SET_ATTR))
      answer_set_(parsed->name, fail(ErrorCode::BAD_PAYLOAD, "the command could not be read"), std::nullopt,
                  nullptr);
  }
}

void Bridge::handle_mqtt_message_(const mqtt::Message& m) {
  auto parsed = topics_.parse(m.topic);
  if (!parsed) {
    ++stats_.bad_mqtt_messages;
    count_error_(parsed.error().code);
    T2M_LOGW(TAG, "ignoring message on %s: %s", m.topic.c_str(), parsed.error().message.c_str());
    return;
  }
  switch (parsed->kind) {
    case mqtt::TopicKind::OWN:
      return;
    case mqtt::TopicKind::SET: {
      auto cmd = mqtt::parse_set_payload(m.payload);
      if (!cmd) {
        ++stats_.bad_mqtt_messages;
        count_error_(cmd.error().code);
        answer_set_(parsed->name, Unexpected<Error>{cmd.error()}, std::nullopt, nullptr);
        return;
      }
      handle_set_(parsed->name, std::move(cmd.value()));
      return;
    }
    case mqtt::TopicKind::SET_ATTR: {
      auto v = mqtt::parse_bare_value(m.payload);
      if (!v) {
        ++stats_.bad_mqtt_messages;
        count_error_(v.error().code);
        answer_set_(parsed->name, Unexpected<Error>{v.error()}, std::nullopt, nullptr);
        return;
      }
      handle_set_(parsed->name, nlohmann::json{{parsed->attribute, v.value()}});
      return;
    }
    case mqtt::TopicKind::GET:
    case mqtt::TopicKind::GET_ATTR: {
      std::vector<std::string> attrs;
      if (parsed->kind == mqtt::TopicKind::GET_ATTR) attrs.push_back(parsed->attribute);
      handle_get_(parsed->name, attrs);
      return;
    }
    case mqtt::TopicKind::BRIDGE_REQUEST:
      handle_request_(parsed->path, m.payload);
      return;
  }
}

void Bridge::answer_set_(const std::string& name, const Status& st,
                         const std::optional<nlohmann::json>& transaction, const nlohmann::json& written) {
  nlohmann::json r{{"status", st.ok() ? "ok" : "error"}};
  if (!st.ok()) {
    r["error"] = st.error().message;
    r["code"] = st.error().code;
    ++stats_.command_errors;
  }
  if (!written.is_null()) r["dps"] = written;
  if (transaction) r["transaction"] = *transaction;
  (void)deps_.publisher.publish(
      mqtt::Message{topics_.set_result(name), to_string(r), mqtt::Qos::AT_LEAST_ONCE, false});
}

void Bridge::handle_set_(const std::string& name, nlohmann::json command) {
  ++stats_.commands;
  std::optional<nlohmann::json> transaction;
  if (command.is_object() && command.contains("transaction")) {
    transaction = command["transaction"];
    command.erase("transaction");
  }
  Device* d = find_(name);
  if (!d) {
    count_error_(ErrorCode::UNKNOWN_DEVICE);
    answer_set_(name, fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + name + "'"), transaction,
                nullptr);
    return;
  }
  auto dps = d->model.to_dps(command, d->dps);
  if (!dps) {
    count_error_(dps.error().code);
    answer_set_(name, Unexpected<Error>{dps.error()}, transaction, nullptr);
    return;
  }
  DeviceSession* s = session_for_(*d);
  const std::string id = d->cfg.id;
  auto alive = alive_;
  nlohmann::json written = dps.value();
  const bool lan_down = !s || !(d->parent ? d->parent->online : d->online);
  if (lan_down && hooks_.cloud_command &&
      hooks_.cloud_command(id, written, [this, alive, id, transaction, written](const Status& st) {
        if (!*alive) return;
        Device* dev = find_(id);
        if (!st.ok()) count_error_(st.error().code);
        answer_set_(dev ? dev->name() : id, st, transaction, written);
      })) {
    return;
  }
  if (!s) {
    count_error_(ErrorCode::OFFLINE);
    answer_set_(name, fail(ErrorCode::OFFLINE, d->name() + " is offline: " + d->reason), transaction,
                nullptr);
    return;
  }
  std::optional<std::string> cid;
  if (d->cfg.is_sub_device()) cid = d->cfg.cid;
  s->set_dps(std::move(dps.value()), cid, [this, alive, id, transaction, written](const Status& st) {
    if (!*alive) return;
    Device* dev = find_(id);
    if (!st.ok()) count_error_(st.error().code);
    answer_set_(dev ? dev->name() : id, st, transaction, written);
  });
}

void Bridge::handle_get_(const std::string& name, const std::vector<std::string>&) {
  Device* d = find_(name);
  if (!d) {
    count_error_(ErrorCode::UNKNOWN_DEVICE);
    answer_set_(name, fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + name + "'"), std::nullopt,
                nullptr);
    return;
  }
  DeviceSession* s = session_for_(*d);
  if (!s) {
    answer_set_(name, fail(ErrorCode::OFFLINE, d->name() + " is offline: " + d->reason), std::nullopt,
                nullptr);
    return;
  }
  std::optional<std::string> cid;
  if (d->cfg.is_sub_device()) cid = d->cfg.cid;
  const std::string id = d->cfg.id;
  auto alive = alive_;
  s->refresh(cid, [this, alive, id](const Status& st) {
    if (!*alive || st.ok()) return;  // success shows as fresh state
    Device* dev = find_(id);
    answer_set_(dev ? dev->name() : id, st, std::nullopt, nullptr);
  });
}

// ---- bridge/request ---------------------------------------------------------------------------

void Bridge::handle_request_(const std::string& path, const std::string& payload) {
  ++stats_.bridge_requests;
  auto req = mqtt::parse_bridge_request(payload);
  auto respond = [&](const Result<nlohmann::json>& r, const std::optional<nlohmann::json>& transaction) {
    std::string body = r.ok() ? mqtt::make_response(r.value(), transaction.value_or(nullptr))
                              : mqtt::make_error_response(r.error().message, transaction.value_or(nullptr));
    (void)deps_.publisher.publish(
        mqtt::Message{topics_.bridge_response(path), std::move(body), mqtt::Qos::AT_LEAST_ONCE, false});
  };
  if (!req) {
    count_error_(req.error().code);
    respond(Unexpected<Error>{req.error()}, std::nullopt);
    return;
  }
  const nlohmann::json& data = req->data;
  if (path.rfind("device/ota_update/", 0) == 0) {
    if (!hooks_.async_request) {
      respond(fail(ErrorCode::CLOUD_OFF, "firmware updates need the cloud: configure the \"cloud\" section"),
              req->transaction);
      return;
    }
    auto alive = alive_;
    auto transaction = req->transaction;
    hooks_.async_request(path, data, [this, alive, path, transaction](Result<nlohmann::json> r) {
      if (!*alive) return;
      if (!r.ok()) count_error_(r.error().code);
      std::string body = r.ok() ? mqtt::make_response(r.value(), transaction)
                                : mqtt::make_error_response(r.error().message, transaction);
      (void)deps_.publisher.publish(
          mqtt::Message{topics_.bridge_response(path), std::move(body), mqtt::Qos::AT_LEAST_ONCE, false});
    });
    return;
  }
  Result<nlohmann::json> result =
      fail(ErrorCode::UNKNOWN_REQUEST, "unknown request '" + path +
                                           "'; supported: device/rename, device/add, device/remove, "
                                           "device/options, scan, health_check, info");
  if (path == "device/rename")
    result = request_rename_(data);
  else if (path == "device/add")
    result = request_add_(data);
  else if (path == "device/remove")
    result = request_remove_(data);
  else if (path == "device/options")
    result = request_options_(data);
  else if (path == "scan")
    result = request_scan_(data);
  else if (path == "health_check")
    result = health();
  else if (path == "info") {
    publish_bridge_info_();
    result = nlohmann::json{{"version", std::string(GATEWAY_VERSION)}};
  } else if (path == "devices") {
    result = devices_json();
  }
  if (!result.ok()) count_error_(result.error().code);
  respond(result, req->transaction);
}

namespace {
// Requests name a device with "id" (device id or friendly name) or, zigbee2mqtt-style, "from".
std::optional<std::string> device_ref(const nlohmann::json& data, const char* key = "id") {
  if (data.is_string()) return data.get<std::string>();
  if (!data.is_object()) return std::nullopt;
  for (const char* k : {key, "id", "from", "friendly_name"}) {
    auto it = data.find(k);
    if (it != data.end() && it->is_string()) return it->get<std::string>();
  }
  return std::nullopt;
}

std::string join_issues(const config::ConfigIssues& issues) {
  std::string out;
  for (const auto& i : issues) out += (out.empty() ? "" : "; ") + i.to_string();
  return out;
}
}  // namespace

Result<nlohmann::json> Bridge::request_rename_(const nlohmann::json& data) {
  auto ref = device_ref(data, "from");
  if (!ref || !data.is_object() || !data.contains("to") || !data["to"].is_string())
    return fail(ErrorCode::BAD_REQUEST, R"(rename needs {"from": "<name or id>", "to": "<new name>"})");
  Device* d = find_(*ref);
  if (!d) return fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + *ref + "'");
  const std::string to = data["to"].get<std::string>();
  if (auto v = mqtt::validate_friendly_name(to); !v.ok()) return Unexpected<Error>{v.error()};
  if (Device* other = find_(to); other && other != d)
    return fail(ErrorCode::NAME_TAKEN, "'" + to + "' is already used");
  const std::string old = d->name();
  if (old == to) return nlohmann::json{{"from", old}, {"to", to}};
  // Clear the old name's retained state, availability and plain topics; discovery (by id) stays.
  deps_.publisher.clear_owner(d->cfg.id, topics_.state(old));
  d->cfg.name = to;
  names_dirty_ = true;
  if (auto* c = config_.find_device(d->cfg.id)) c->name = to;
  publish_availability_(*d);
  if (!d->dps.empty()) publish_state_(*d);
  publish_bridge_devices_();
  persist_();
  if (hooks_.on_device_changed) hooks_.on_device_changed(d->cfg.id);
  publish_event_("device_renamed", {{"id", d->cfg.id}, {"from", old}, {"to", to}});
  return nlohmann::json{{"from", old}, {"to", to}};
}

Result<nlohmann::json> Bridge::request_add_(const nlohmann::json& data) {
  if (data.is_object() && data.contains("id") && data["id"].is_string() &&
      find_(data["id"].get<std::string>()))
    return fail(ErrorCode::EXISTS, "a device with id " + data["id"].get<std::string>() + " already exists");
  auto added = config::add_device(config_, data);
  if (!added) return fail(ErrorCode::INVALID_DEVICE, join_issues(added.error()));
  const config::DeviceConfig cfg = added.value();
  if (!cfg.local_key.empty()) log_register_secret(cfg.local_key);
  add_device_(cfg);
  link_children_();
  Device& d = *devices_[cfg.id];
  publish_availability_(d);
  if (started_) start_device_(d);
  publish_bridge_devices_();
  publish_bridge_info_();
  persist_();
  if (hooks_.on_device_changed) hooks_.on_device_changed(cfg.id);
  return nlohmann::json{{"id", cfg.id}, {"friendly_name", d.name()}};
}

void Bridge::remove_device_(const std::string& id) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  Device& d = *it->second;
  if (d.session) d.session->stop();
  const std::string old_name = d.name();
  deps_.publisher.clear_owner(id);
  if (hooks_.on_device_removed) hooks_.on_device_removed(id, old_name);
  devices_.erase(it);
  names_dirty_ = true;
  link_children_();
}

Result<nlohmann::json> Bridge::request_remove_(const nlohmann::json& data) {
  auto ref = device_ref(data);
  if (!ref) return fail(ErrorCode::BAD_REQUEST, R"(remove needs {"id": "<name or id>"})");
  Device* d = find_(*ref);
  if (!d) return fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + *ref + "'");
  const std::string id = d->cfg.id;
  const std::string name = d->name();
  for (Device* c : d->children) c->parent = nullptr;
  remove_device_(id);
  config::remove_device(config_, id);
  publish_bridge_devices_();
  publish_bridge_info_();
  persist_();
  publish_event_("device_removed", {{"id", id}, {"friendly_name", name}});
  return nlohmann::json{{"id", id}, {"friendly_name", name}};
}

Result<nlohmann::json> Bridge::request_options_(const nlohmann::json& data) {
  auto ref = device_ref(data);
  if (!ref || !data.contains("options") || !data["options"].is_object())
    return fail(ErrorCode::BAD_REQUEST, R"(options needs {"id": "<name or id>", "options": {...}})");
  Device* d = find_(*ref);
  if (!d) return fail(ErrorCode::UNKNOWN_DEVICE, "no device is called '" + *ref + "'");
  if (data["options"].contains("id")) return fail(ErrorCode::BAD_REQUEST, "the id of a device cannot change");
  const std::string id = d->cfg.id;
  const std::string old_name = d->name();
  // update_device keeps only what the user wrote (a listed device's key stays in the list) and
  // validates the whole configuration before changing anything.
  auto updated = config::update_device(config_, id, data["options"]);
  if (!updated) return fail(ErrorCode::INVALID_OPTIONS, join_issues(updated.error()));
  const config::DeviceConfig cfg = updated.value();
  nlohmann::json keep_dps = d->dps;
  nlohmann::json keep_update = d->update;
  if (d->session) d->session->stop();
  if (old_name != cfg.display_name()) deps_.publisher.clear_owner(id, topics_.state(old_name));
  devices_.erase(id);
  names_dirty_ = true;
  add_device_(cfg);
  link_children_();
  Device& nd = *devices_[id];
  nd.dps = keep_dps;
  nd.update = keep_update;
  if (!cfg.local_key.empty()) log_register_secret(cfg.local_key);
  if (started_) start_device_(nd);
  publish_availability_(nd);
  if (!nd.dps.empty()) publish_state_(nd);
  publish_bridge_devices_();
  persist_();
  if (hooks_.on_device_changed) hooks_.on_device_changed(id);
  nlohmann::json safe = config::device_to_json(nd.cfg);
  safe.erase("local_key");
  safe.erase("key");
  return nlohmann::json{{"id", id}, {"options", safe}};
}

Result<nlohmann::json> Bridge::request_scan_(const nlohmann::json&) {
  nlohmann::json out{{"heard", nlohmann::json::array()}};
  if (hooks_.send_discovery_request) {
    auto st = hooks_.send_discovery_request();
    out["request_sent"] = st.ok();
    if (!st.ok()) out["request_error"] = st.error().message;
  }
  for (const auto& [id, seen] : heard_) {
    if (id.rfind("cid:", 0) == 0) continue;
    nlohmann::json e = seen;
    e["known"] = find_(id) != nullptr;
    out["heard"].push_back(std::move(e));
  }
  return out;
}

nlohmann::json Bridge::health() const {
  size_t online = 0;
  nlohmann::json per_device = nlohmann::json::object();
  for (const auto& [id, d] : devices_) {
    if (d->online) ++online;
    nlohmann::json j{{"online", d->online}, {"status", d->reason}, {"reports", d->reports}};
    if (d->session) {
      const auto& s = d->session->stats();
      j["session"] = {{"state", std::string(to_string(d->session->state()))},
                      {"connects", s.connects},
                      {"frames_in", s.frames_in},
                      {"frames_out", s.frames_out},
                      {"bad_frames", s.bad_frames},
                      {"timeouts", s.timeouts},
                      {"queued", d->session->queued()}};
    }
    if (!d->errors.empty()) j["errors"] = d->errors;
    per_device[d->name()] = std::move(j);
  }
  const auto& ps = deps_.publisher.stats();
  nlohmann::json out{{"healthy", true},
                     {"devices", {{"total", devices_.size()}, {"online", online}}},
                     {"mqtt",
                      {{"connected", deps_.client.connected()},
                       {"published", ps.published},
                       {"failed", ps.failed},
                       {"republished", ps.republished}}},
                     {"bridge",
                      {{"reports", stats_.reports},
                       {"commands", stats_.commands},
                       {"command_errors", stats_.command_errors},
                       {"bad_mqtt_messages", stats_.bad_mqtt_messages},
                       {"errors", stats_.errors}}},
                     {"per_device", per_device}};
  if (hooks_.cloud_health) out["cloud"] = hooks_.cloud_health();
  return out;
}

void Bridge::persist_() {
  if (!hooks_.save_config) return;
  auto st = hooks_.save_config(config_);
  if (!st.ok()) T2M_LOGW(TAG, "the change is active but could not be saved: %s", st.error().message.c_str());
}

// ---- cloud -------------------------------------------------------------------------------------

std::string Bridge::id_of(const std::string& id_or_name) const {
  Device* d = find_(id_or_name);
  return d ? d->cfg.id : std::string();
}

void Bridge::apply_cloud_report(const std::string& dev_id, const std::vector<CloudItem>& items) {
  Device* d = find_(dev_id);
  if (!d) return;
  nlohmann::json dps = nlohmann::json::object();
  for (const auto& item : items) {
    std::optional<int> id = item.dp_id;
    if (!id && !item.code.empty()) {
      if (const auto* desc = d->model.model().find_property(item.code)) id = desc->id;
    }
    if (!id) {
      count_error_(ErrorCode::CLOUD_UNKNOWN_CODE);
      continue;
    }
    dps[std::to_string(*id)] = item.value;
  }
  if (dps.empty()) return;
  ++stats_.reports;
  ++d->reports;
  d->last_seen_ms = deps_.timers.now_ms();
  for (auto it = dps.begin(); it != dps.end(); ++it) d->dps[it.key()] = it.value();
  publish_state_(*d);
}

void Bridge::apply_cloud_online(const std::string& dev_id, bool online) {
  Device* d = find_(dev_id);
  if (!d) return;
  d->cloud_online = online;
  publish_availability_(*d);
}

void Bridge::apply_cloud_name(const std::string& dev_id, const std::string& name) {
  Device* d = find_(dev_id);
  if (!d) return;
  // The MQTT name is the user's; the app's name is shown alongside it (bridge/devices, HA device name).
  d->cloud_name = name;
  publish_bridge_devices_();
  publish_event_("device_cloud_name",
                 {{"id", d->cfg.id}, {"friendly_name", d->name()}, {"cloud_name", name}});
  if (hooks_.on_device_changed) hooks_.on_device_changed(d->cfg.id);
}

void Bridge::apply_cloud_dp_name(const std::string& dev_id, std::optional<int> dp_id,
                                 const std::string& name) {
  Device* d = find_(dev_id);
  if (!d) return;
  nlohmann::json data{{"id", d->cfg.id}, {"friendly_name", d->name()}, {"name", name}};
  if (dp_id) data["dp"] = *dp_id;
  publish_event_("dp_cloud_name", std::move(data));
}

void Bridge::apply_cloud_removed(const std::string& dev_id) {
  Device* d = find_(dev_id);
  if (!d) return;
  const std::string id = d->cfg.id;
  const std::string name = d->name();
  remove_device_(id);
  config::remove_device(config_, id);
  publish_bridge_devices_();
  publish_bridge_info_();
  persist_();
  publish_event_("device_removed",
                 {{"id", id}, {"friendly_name", name}, {"reason", "deleted from the Tuya account"}});
}

Status Bridge::add_device(const config::DeviceConfig& cfg) {
  auto r = request_add_(config::device_to_json(cfg));
  if (!r.ok()) return Unexpected<Error>{r.error()};
  publish_event_("device_joined", {{"id", cfg.id}, {"friendly_name", cfg.display_name()}});
  return {};
}

void Bridge::apply_firmware(const std::string& dev_id, nlohmann::json update) {
  Device* d = find_(dev_id);
  if (!d) return;
  if (d->update == update) return;
  const bool first = d->update.is_null();
  d->update = std::move(update);
  publish_state_(*d);
  // The first firmware report adds an update entity to the device's discovery.
  if (first && hooks_.on_device_changed) hooks_.on_device_changed(d->cfg.id);
}

void Bridge::republish_state(const std::string& id_or_name) {
  Device* d = find_(id_or_name);
  if (d && !d->dps.empty()) publish_state_(*d);
}

nlohmann::json Bridge::firmware_of(const std::string& id_or_name) const {
  Device* d = find_(id_or_name);
  return d ? d->update : nlohmann::json();
}

void Bridge::publish_device_event(const std::string& dev_id, const std::string& type, nlohmann::json data) {
  Device* d = find_(dev_id);
  if (!d) return;
  nlohmann::json ev{{"event_type", type}, {"data", data}};
  (void)deps_.publisher.publish(
      mqtt::Message{topics_.state(d->name()) + "/event", to_string(ev), mqtt::Qos::AT_LEAST_ONCE, false});
}

bool Bridge::update_local_key(const std::string& dev_id, const std::string& key) {
  Device* d = find_(dev_id);
  if (!d || key.empty() || key == d->cfg.local_key) return false;
  log_register_secret(key);
  d->cfg.local_key = key;
  if (auto* c = config_.find_device(d->cfg.id)) c->local_key = key;
  if (d->session) d->session->set_local_key(to_bytes(key));
  persist_();
  publish_event_("device_key_updated", {{"id", d->cfg.id}, {"friendly_name", d->name()}});
  return true;
}

nlohmann::json Bridge::state_of(const std::string& id_or_name) const {
  Device* d = find_(id_or_name);
  if (!d) return nullptr;
  return d->model.to_state(d->dps);
}

bool Bridge::device_online(const std::string& id_or_name) const {
  Device* d = find_(id_or_name);
  return d && d->effective_online();
}

const DeviceModel* Bridge::model_of(const std::string& id_or_name) const {
  Device* d = find_(id_or_name);
  return d ? &d->model : nullptr;
}

std::vector<std::string> Bridge::device_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, d] : devices_) out.push_back(id);
  return out;
}

}  // namespace t2m::gw

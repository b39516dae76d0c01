#include "gateway/ha_publisher.h"

#include <algorithm>
#include <cctype>

#include "common/log.h"
#include "mqtt/payload.h"

namespace t2m::gw {
namespace {

constexpr std::string_view HA_PUBLISHER_TAG = "gateway.ha";
constexpr std::string_view CLEANUP_TIMER = "ha-cleanup";
constexpr std::string_view HA_ONLINE = "online";
constexpr std::string_view HA_OFFLINE = "offline";

// j[key] if it is a string, else "" (never throws on foreign payloads).
std::string string_at(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

HaPublisher::HaPublisher(mqtt::Publisher& publisher, mqtt::Client& client, const mqtt::Topics& topics,
                         config::HomeAssistantConfig config, Timers& timers, Options options)
    : publisher_(publisher),
      client_(client),
      topics_(topics),
      config_(std::move(config)),
      sched_(timers),
      opts_(std::move(options)) {
  options_.prefix = config_.discovery_prefix;
  options_.base_topic = topics_.base();
  options_.version = opts_.version;
  options_.support_url = opts_.support_url;
}

void HaPublisher::start(const std::vector<DeviceView>& devices) {
  if (!enabled()) return;
  publish_bridge_();
  for (const auto& d : devices) publish_device(d);
}

void HaPublisher::publish_bridge_() {
  publisher_.set_retained("", mqtt::ha::bridge_discovery_topic(options_),
                          mqtt::dump_json(mqtt::ha::bridge_discovery(options_, scenes_)),
                          mqtt::Publisher::When::IF_CHANGED);
}

void HaPublisher::set_scenes(std::vector<std::string> scenes) {
  scenes_ = std::move(scenes);
  if (enabled()) publish_bridge_();
}

void HaPublisher::publish_device(const DeviceView& device) {
  const DeviceView* view = &device;
  if (!enabled() || !view->config || !view->model) return;
  const std::string& id = view->config->id;
  if (!view->config->enabled) {
    remove_device(id, view->config->display_name());
    return;
  }
  mqtt::ha::DeviceInfo info{view->config, view->model, view->firmware_version, view->firmware_update,
                            view->events};
  nlohmann::json payload = mqtt::ha::device_discovery(info, options_);
  auto now = mqtt::ha::components_of(payload);
  const std::string topic = mqtt::ha::discovery_topic(options_, *view->config);
  auto it = published_.find(id);
  if (it != published_.end()) {
    // Components that disappeared (the device reported fewer DPs than its template): HA deletes a
    // component of a device config when it is sent with only its platform.
    std::vector<std::pair<std::string, std::string>> removed;
    for (const auto& old : it->second.components) {
      const bool kept =
          std::any_of(now.begin(), now.end(), [&](const auto& c) { return c.first == old.first; });
      if (!kept) removed.push_back(old);
    }
    if (!removed.empty()) payload = mqtt::ha::device_discovery(info, options_, removed);
    if (it->second.topic != topic) publisher_.clear_retained(it->second.topic);
  }
  published_[id] = Published{topic, std::move(now)};
  if (publisher_.set_retained(id, topic, mqtt::dump_json(payload), mqtt::Publisher::When::IF_CHANGED)) {
    ++stats_.discovery_published;
  }
}

void HaPublisher::remove_device(const std::string& id, const std::string& old_name) {
  auto it = published_.find(id);
  std::string topic;
  if (it != published_.end()) {
    topic = it->second.topic;
    published_.erase(it);
  } else {
    // Not published by this run (or discovery is off): clear what a previous run may have left.
    config::DeviceConfig d;
    d.id = id;
    topic = mqtt::ha::discovery_topic(options_, d);
  }
  T2M_LOGI(HA_PUBLISHER_TAG, "%s: clearing Home Assistant discovery", old_name.c_str());
  publisher_.clear_retained(topic);
  ++stats_.discovery_cleared;
}

std::optional<std::string> HaPublisher::discovery_topic_of(const std::string& id) const {
  auto it = published_.find(id);
  if (it == published_.end()) return std::nullopt;
  return it->second.topic;
}

std::string HaPublisher::discovery_filter_() const {
  return options_.prefix + "/device/+/config";
}

void HaPublisher::on_mqtt_connected() {
  if (!enabled()) return;
  auto st = client_.subscribe(config_.status_topic, mqtt::Qos::AT_LEAST_ONCE);
  if (!st.ok())
    T2M_LOGW(HA_PUBLISHER_TAG, "cannot subscribe to %s: %s", config_.status_topic.c_str(),
             st.error().message.c_str());
  if (opts_.cleanup_window_ms > 0 && !cleanup_open_) {
    if (client_.subscribe(discovery_filter_(), mqtt::Qos::AT_LEAST_ONCE).ok()) {
      cleanup_open_ = true;
      sched_.set_timeout(std::string(CLEANUP_TIMER), opts_.cleanup_window_ms, [this] { end_cleanup_(); });
    }
  }
}

void HaPublisher::end_cleanup_() {
  if (!cleanup_open_) return;
  cleanup_open_ = false;
  (void)client_.unsubscribe(discovery_filter_());
}

HaPublisher::Inbound HaPublisher::on_message(const mqtt::Message& m) {
  if (!enabled()) return Inbound::NOT_HA;
  if (m.topic == config_.status_topic) {
    const std::string p = trim(m.payload);
    if (p == HA_ONLINE) {
      ++stats_.births;
      return Inbound::HA_ONLINE;
    }
    return p == HA_OFFLINE ? Inbound::HA_OFFLINE : Inbound::HANDLED;
  }
  const std::string head = options_.prefix + "/device/";
  const std::string tail = "/config";
  if (m.topic.size() <= head.size() + tail.size() || m.topic.compare(0, head.size(), head) != 0 ||
      m.topic.compare(m.topic.size() - tail.size(), tail.size(), tail) != 0) {
    return Inbound::NOT_HA;
  }
  // A retained discovery config: stale if it is ours (our origin and our bridge's availability topic) and
  // no configured device owns it.
  if (!cleanup_open_ || m.payload.empty()) return Inbound::HANDLED;
  if (m.topic == mqtt::ha::bridge_discovery_topic(options_)) return Inbound::HANDLED;
  for (const auto& [id, p] : published_) {
    if (p.topic == m.topic) return Inbound::HANDLED;
  }
  const auto j = nlohmann::json::parse(m.payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Inbound::HANDLED;
  if (!j.contains("origin") || string_at(j["origin"], "name") != mqtt::ha::ORIGIN_NAME)
    return Inbound::HANDLED;
  bool ours = false;
  if (j.contains("components") && j["components"].is_object()) {
    for (const auto& [k, c] : j["components"].items()) {
      if (c.is_object() && c.contains("availability") && c["availability"].is_array() &&
          !c["availability"].empty() && string_at(c["availability"][0], "topic") == topics_.bridge_state()) {
        ours = true;
      }
    }
  }
  if (!ours) return Inbound::HANDLED;  // another instance's (other base topic)
  T2M_LOGI(HA_PUBLISHER_TAG, "clearing stale Home Assistant discovery %s", m.topic.c_str());
  publisher_.clear_retained(m.topic);
  ++stats_.stale_cleared;
  return Inbound::HANDLED;
}

void HaPublisher::publish_actions(const DeviceView& device, const nlohmann::json& dps) {
  const DeviceView* view = &device;
  if (!view->config || !view->model) return;
  for (const auto& ev : mqtt::ha::events_from_report(*view->model, dps)) {
    (void)publisher_.publish(mqtt::Message{mqtt::ha::action_topic(options_, view->config->display_name()),
                                           mqtt::dump_json(ev), mqtt::Qos::AT_LEAST_ONCE, false});
    ++stats_.actions;
  }
}

}  // namespace t2m::gw

#include "gateway/gateway.h"

#include "common/log.h"
#include "gateway/error_code.h"

namespace t2m::gw {
namespace {
constexpr std::string_view GATEWAY_TAG = "gateway";
}  // namespace

Gateway::Gateway(Deps deps, config::Config config, nlohmann::json learned)
    : deps_(std::move(deps)),
      registry_({deps_.timers, deps_.transports, deps_.random, deps_.store, deps_.timings}, std::move(config),
                std::move(learned)),
      topics_(registry_.config().mqtt.base_topic),
      ha_(deps_.publisher, deps_.client, topics_, registry_.config().homeassistant, deps_.timers, deps_.ha),
      state_({registry_, deps_.publisher, topics_, deps_.timers, &ha_, deps_.ha_birth_delay_ms}),
      commands_({registry_, deps_.publisher, topics_, deps_.cloud}),
      requests_({registry_, state_, deps_.publisher, deps_.client, topics_, deps_.cloud, deps_.scanner}) {
  registry_.set_key_source(deps_.keys);
}

Gateway::~Gateway() {
  registry_.stop();
}

void Gateway::start() {
  started_ = true;
  // Sessions first: bridge/devices then shows why each device is not connected yet.
  registry_.start(state_);
  state_.start();
}

void Gateway::stop() {
  if (!started_) return;
  started_ = false;
  registry_.stop();
  state_.stop();
}

void Gateway::on_mqtt_connected() {
  for (const auto& filter : topics_.subscriptions()) {
    auto st = deps_.client.subscribe(filter, mqtt::Qos::AT_LEAST_ONCE);
    if (!st.ok())
      T2M_LOGE(GATEWAY_TAG, "cannot subscribe to %s: %s", filter.c_str(), st.error().message.c_str());
  }
  deps_.publisher.on_connected();
  ha_.on_mqtt_connected();
}

void Gateway::on_announcement(const proto::Announcement& a, const std::string& sender_ip) {
  state_.announcement(registry_.on_announcement(a, sender_ip));
}

void Gateway::on_mqtt_message(const mqtt::Message& m) {
  // The adapter boundary for everything a broker can send us: a converter that throws on some odd input
  // (bytes that are not UTF-8, say) costs that one message an error answer, never the process.
  try {
    dispatch_(m);
  } catch (const std::exception& e) {
    ++registry_.stats().bad_mqtt_messages;
    registry_.count_error(ErrorCode::INTERNAL_ERROR);
    T2M_LOGE(GATEWAY_TAG, "message on %s could not be handled: %s", m.topic.c_str(), e.what());
    auto parsed = topics_.parse(m.topic);
    if (parsed && (parsed->kind == mqtt::TopicKind::SET || parsed->kind == mqtt::TopicKind::SET_ATTR))
      commands_.answer_unreadable(parsed->name);
  }
}

void Gateway::dispatch_(const mqtt::Message& m) {
  switch (ha_.on_message(m)) {
    case HaPublisher::Inbound::NOT_HA:
      break;
    case HaPublisher::Inbound::HANDLED:
      return;
    case HaPublisher::Inbound::HA_ONLINE:
      state_.ha_status(true);
      return;
    case HaPublisher::Inbound::HA_OFFLINE:
      state_.ha_status(false);
      return;
  }
  auto parsed = topics_.parse(m.topic);
  if (!parsed) {
    ++registry_.stats().bad_mqtt_messages;
    registry_.count_error(parsed.error().code);
    T2M_LOGW(GATEWAY_TAG, "ignoring message on %s: %s", m.topic.c_str(), parsed.error().message.c_str());
    return;
  }
  switch (parsed->kind) {
    case mqtt::TopicKind::OWN:
      return;
    case mqtt::TopicKind::SET:
      commands_.on_set(parsed->name, m.payload);
      return;
    case mqtt::TopicKind::SET_ATTR:
      commands_.on_set_attribute(parsed->name, parsed->attribute, m.payload);
      return;
    case mqtt::TopicKind::GET:
    case mqtt::TopicKind::GET_ATTR:
      commands_.on_get(parsed->name);
      return;
    case mqtt::TopicKind::BRIDGE_REQUEST:
      requests_.on_request(parsed->path, m.payload);
      return;
  }
}

}  // namespace t2m::gw

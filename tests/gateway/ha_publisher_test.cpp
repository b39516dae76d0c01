// HaPublisher over FakeMqttClient and FakeTimers: retained discovery for the bridge and every device,
// republish on rename, removal of vanished components, clearing on remove, stale configs of a previous
// run cleared, HA's status topic read as birth and will, disabled = silent, scene-switch actions.
#include "gateway/ha_publisher.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>

#include "tests/fakes/fake_mqtt_client.h"
#include "tests/fakes/fake_timers.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_ha_publisher_test {

using nlohmann::json;
using namespace t2m;

namespace {

struct Dev {
  config::DeviceConfig cfg;
  model::DerivedModel model;
  std::string firmware;
};

struct World {
  mqtt::FakeMqttClient client;
  mqtt::Publisher publisher{client};
  mqtt::Topics topics{"tuya2mqtt"};
  FakeTimers timers;
  std::map<std::string, Dev> devices;
  config::HomeAssistantConfig ha;
  std::unique_ptr<gw::HaPublisher> pub;

  explicit World(bool enabled = true, std::string prefix = "homeassistant") {
    ha.enabled = enabled;
    ha.discovery_prefix = std::move(prefix);
    add("bf0123456789abcdef01", "kitchen_plug", "cz");
    add("bf11aa22bb33cc44dd55", "desk_bulb", "dj");
    gw::HaPublisher::Options o;
    o.version = "0.1.0";
    o.cleanup_window_ms = 5000;
    pub = std::make_unique<gw::HaPublisher>(publisher, client, topics, ha, timers, o);
  }

  void add(const std::string& id, const std::string& name, const std::string& category,
           json reported = nullptr) {
    Dev d;
    d.cfg.id = id;
    d.cfg.name = name;
    d.cfg.category = category;
    d.model = model::derive_model(d.cfg, reported);
    devices[id] = std::move(d);
  }

  gw::HaPublisher::DeviceView view(const std::string& id) {
    const Dev& d = devices.at(id);
    gw::HaPublisher::DeviceView v;
    v.config = &d.cfg;
    v.model = &d.model;
    v.firmware_version = d.firmware;
    return v;
  }
  std::vector<gw::HaPublisher::DeviceView> views() {
    std::vector<gw::HaPublisher::DeviceView> out;
    for (const auto& [id, d] : devices) out.push_back(view(id));
    return out;
  }
  void start() { pub->start(views()); }
  void publish(const std::string& id) { pub->publish_device(view(id)); }

  void connect() {
    client.simulate_connect();
    publisher.on_connected();
    pub->on_mqtt_connected();
  }

  json retained(const std::string& topic) {
    auto it = client.retained.find(topic);
    if (it == client.retained.end()) return nullptr;
    return json::parse(it->second);
  }
};

const std::string PLUG_TOPIC = "homeassistant/device/tuya_bf0123456789abcdef01/config";
const std::string BULB_TOPIC = "homeassistant/device/tuya_bf11aa22bb33cc44dd55/config";
const std::string BRIDGE_TOPIC = "homeassistant/device/tuya2mqtt_bridge_tuya2mqtt/config";

}  // namespace

TEST_SUITE("ha_publisher") {
  TEST_CASE("start publishes the bridge and every device, retained; reconnects republish them") {
    World w;
    w.connect();
    w.start();
    REQUIRE(w.client.has_retained(PLUG_TOPIC));
    REQUIRE(w.client.has_retained(BULB_TOPIC));
    REQUIRE(w.client.has_retained(BRIDGE_TOPIC));
    auto plug = w.retained(PLUG_TOPIC);
    CHECK(plug["components"]["switch_1"]["command_topic"] == "tuya2mqtt/kitchen_plug/set");
    CHECK(plug["origin"]["sw_version"] == "0.1.0");
    CHECK(w.retained(BULB_TOPIC)["components"]["light"]["schema"] == "json");
    CHECK(w.pub->stats().discovery_published == 2);
    CHECK(w.pub->discovery_topic_of("bf0123456789abcdef01") == PLUG_TOPIC);
    for (const auto& m : w.client.published_to(PLUG_TOPIC)) CHECK(m.retained);
    // Unchanged republish is skipped; a broker that lost everything gets it all back on reconnect.
    w.client.clear_log();
    w.publish("bf0123456789abcdef01");
    CHECK(w.client.published_to(PLUG_TOPIC).empty());
    w.client.retained.clear();
    w.client.simulate_connection_lost();
    w.connect();
    CHECK(w.client.has_retained(PLUG_TOPIC));
    CHECK(w.client.has_retained(BRIDGE_TOPIC));
  }

  TEST_CASE("subscribes to HA's status topic and reads its birth and will; other topics are not HA's") {
    World w;
    w.connect();
    w.start();
    using In = gw::HaPublisher::Inbound;
    CHECK(w.client.subscriptions.count("homeassistant/status"));
    CHECK(w.pub->on_message(mqtt::Message{"homeassistant/status", "online", mqtt::Qos::AT_LEAST_ONCE,
                                          false}) == In::HA_ONLINE);
    CHECK(w.pub->on_message(mqtt::Message{"homeassistant/status", " offline\n", mqtt::Qos::AT_LEAST_ONCE,
                                          false}) == In::HA_OFFLINE);
    CHECK(w.pub->on_message(mqtt::Message{"homeassistant/status", "what", mqtt::Qos::AT_LEAST_ONCE, false}) ==
          In::HANDLED);
    CHECK(w.pub->stats().births == 1);
    // Other topics are left to the gateway.
    CHECK(w.pub->on_message(mqtt::Message{"tuya2mqtt/kitchen_plug/set", "ON", mqtt::Qos::AT_LEAST_ONCE,
                                          false}) == In::NOT_HA);
  }

  TEST_CASE("rename: same discovery topic, new topics inside") {
    World w;
    w.connect();
    w.start();
    w.devices["bf0123456789abcdef01"].cfg.name = "kitchen/kettle";
    w.publish("bf0123456789abcdef01");
    auto plug = w.retained(PLUG_TOPIC);
    CHECK(plug["device"]["name"] == "kitchen/kettle");
    CHECK(plug["components"]["switch_1"]["state_topic"] == "tuya2mqtt/kitchen/kettle");
    CHECK(plug["components"]["switch_1"]["availability"][1]["topic"] ==
          "tuya2mqtt/kitchen/kettle/availability");
  }

  TEST_CASE("components that vanish are sent with only their platform, then dropped") {
    World w;
    w.connect();
    w.start();
    REQUIRE(w.retained(PLUG_TOPIC)["components"].contains("countdown_1"));
    // The plug reported only DPs 1 and 19: the template's other DPs are dropped from the model.
    w.devices["bf0123456789abcdef01"].model =
        model::derive_model(w.devices["bf0123456789abcdef01"].cfg, json{{"1", true}, {"19", 12}});
    w.publish("bf0123456789abcdef01");
    auto plug = w.retained(PLUG_TOPIC);
    CHECK(plug["components"]["countdown_1"] == json{{"platform", "number"}});
    CHECK(plug["components"]["add_ele"] == json{{"platform", "sensor"}});
    CHECK(plug["components"]["cur_power"]["platform"] == "sensor");
    CHECK(plug["components"]["cur_power"].contains("state_topic"));
    // Next publish (e.g. firmware now known) no longer mentions them.
    w.devices["bf0123456789abcdef01"].firmware = "1.2.0";
    w.publish("bf0123456789abcdef01");
    plug = w.retained(PLUG_TOPIC);
    CHECK_FALSE(plug["components"].contains("countdown_1"));
    CHECK(plug["device"]["sw_version"] == "1.2.0");
  }

  TEST_CASE("remove clears the discovery (also after the bridge cleared its owner)") {
    World w;
    w.connect();
    w.start();
    w.publisher.clear_owner("bf0123456789abcdef01");  // what StatePublisher::device_removed does first
    w.devices.erase("bf0123456789abcdef01");
    w.pub->remove_device("bf0123456789abcdef01", "kitchen_plug");
    CHECK_FALSE(w.client.has_retained(PLUG_TOPIC));
    auto last = w.client.last_published(PLUG_TOPIC);
    REQUIRE(last);
    CHECK(last->payload.empty());
    CHECK(last->retained);
    CHECK_FALSE(w.pub->discovery_topic_of("bf0123456789abcdef01"));
    // It stays cleared after a reconnect.
    w.client.simulate_connection_lost();
    w.connect();
    CHECK_FALSE(w.client.has_retained(PLUG_TOPIC));
    CHECK(w.client.has_retained(BULB_TOPIC));
    // A device never published in this run: its id-based topic is cleared anyway.
    w.pub->remove_device("bfgone00000000000000", "gone");
    CHECK(w.client.last_published("homeassistant/device/tuya_bfgone00000000000000/config")->payload.empty());
  }

  TEST_CASE("disabled device: its discovery is removed") {
    World w;
    w.connect();
    w.start();
    w.devices["bf11aa22bb33cc44dd55"].cfg.enabled = false;
    w.publish("bf11aa22bb33cc44dd55");
    CHECK_FALSE(w.client.has_retained(BULB_TOPIC));
  }

  TEST_CASE("stale configs of a previous run are cleared during the window; foreign ones are kept") {
    World w;
    auto stale = [](const std::string& avail) {
      return json{
          {"device", {{"identifiers", {"tuya2mqtt_bfold"}}}},
          {"origin", {{"name", "tuya2mqtt"}}},
          {"components", {{"switch_1", {{"platform", "switch"}, {"availability", {{{"topic", avail}}}}}}}}}
          .dump();
    };
    const std::string old_topic = "homeassistant/device/tuya_bfold/config";
    const std::string other_topic = "homeassistant/device/tuya_bfother/config";
    const std::string z2m_topic = "homeassistant/device/0x00158d0001/config";
    w.client.retained[old_topic] = stale("tuya2mqtt/bridge/state");
    w.client.retained[other_topic] = stale("tuya2mqtt_2/bridge/state");  // another instance
    w.client.retained[z2m_topic] = R"({"origin":{"name":"Zigbee2MQTT"},"components":{}})";
    w.connect();
    w.start();
    CHECK(w.client.subscriptions.count("homeassistant/device/+/config"));
    // The broker delivers the retained configs, our own included.
    for (const auto& t : {old_topic, other_topic, z2m_topic, PLUG_TOPIC}) {
      CHECK(w.pub->on_message(mqtt::Message{t, w.client.retained[t], mqtt::Qos::AT_LEAST_ONCE, true}) ==
            gw::HaPublisher::Inbound::HANDLED);
    }
    CHECK_FALSE(w.client.has_retained(old_topic));
    CHECK(w.client.has_retained(other_topic));
    CHECK(w.client.has_retained(z2m_topic));
    CHECK(w.client.has_retained(PLUG_TOPIC));
    CHECK(w.pub->stats().stale_cleared == 1);
    // Garbage is ignored without throwing.
    CHECK(w.pub->on_message(
              mqtt::Message{"homeassistant/device/x/config", "{not json", mqtt::Qos::AT_LEAST_ONCE, true}) ==
          gw::HaPublisher::Inbound::HANDLED);
    CHECK(w.pub->on_message(mqtt::Message{
              "homeassistant/device/y/config", R"({"origin":"x","components":{"a":{"availability":[1]}}})",
              mqtt::Qos::AT_LEAST_ONCE, true}) == gw::HaPublisher::Inbound::HANDLED);
    // After the window the filter is dropped and nothing more is cleared.
    w.timers.advance(5000);
    CHECK_FALSE(w.client.subscriptions.count("homeassistant/device/+/config"));
    w.client.retained[old_topic] = stale("tuya2mqtt/bridge/state");
    CHECK(w.pub->on_message(mqtt::Message{old_topic, w.client.retained[old_topic], mqtt::Qos::AT_LEAST_ONCE,
                                          true}) == gw::HaPublisher::Inbound::HANDLED);
    CHECK(w.client.has_retained(old_topic));
  }

  TEST_CASE("disabled: nothing is published or subscribed, messages are not taken") {
    World w(false);
    w.connect();
    w.start();
    w.publish("bf0123456789abcdef01");
    for (const auto& [t, p] : w.client.retained) CHECK(t.rfind("homeassistant/", 0) != 0);
    CHECK_FALSE(w.client.subscriptions.count("homeassistant/status"));
    CHECK(w.pub->on_message(mqtt::Message{"homeassistant/status", "online", mqtt::Qos::AT_LEAST_ONCE,
                                          false}) == gw::HaPublisher::Inbound::NOT_HA);
  }

  TEST_CASE("custom prefix and status topic") {
    World w(true, "ha");
    w.connect();
    w.start();
    CHECK(w.client.has_retained("ha/device/tuya_bf0123456789abcdef01/config"));
    CHECK_FALSE(w.client.has_retained(PLUG_TOPIC));
  }

  TEST_CASE("scene-switch presses become action messages, not retained") {
    World w;
    w.add("bfscene0000000000001", "scene_sw", "wxkg");
    auto& d = w.devices["bfscene0000000000001"];
    d.cfg.mapping = json::parse(
        R"({"1": {"code": "switch1_value", "type": "Enum", "mode": "ro", "values": {"range": ["single_click", "long_press"]}}})");
    d.model = model::derive_model(d.cfg);
    w.connect();
    w.pub->publish_actions(w.view("bfscene0000000000001"), json{{"1", "long_press"}});
    auto m = w.client.last_published("tuya2mqtt/scene_sw/action");
    REQUIRE(m);
    CHECK_FALSE(m->retained);
    CHECK(json::parse(m->payload) == json{{"event_type", "long_press"}, {"source", "switch1_value"}});
    w.pub->publish_actions(w.view("bf0123456789abcdef01"), json{{"1", true}});
    CHECK(w.client.published_to("tuya2mqtt/kitchen_plug/action").empty());
    CHECK(w.pub->stats().actions == 1);
  }

  TEST_CASE("scenes republish the bridge device with a scene event entity") {
    World w;
    w.connect();
    w.start();
    CHECK_FALSE(w.retained(BRIDGE_TOPIC)["components"].contains("scene"));
    w.pub->set_scenes({"Good night", "Movie"});
    CHECK(w.retained(BRIDGE_TOPIC)["components"]["scene"]["event_types"] ==
          json::array({"Good night", "Movie"}));
  }
}

}  // namespace t2m_ha_publisher_test

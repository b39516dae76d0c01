#include "mqtt/topics.h"

#include <doctest/doctest.h>

#include <set>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_topics_test {

using t2m::mqtt::ParsedTopic;
using t2m::mqtt::TopicKind;
using t2m::mqtt::Topics;

TEST_SUITE("mqtt.topics") {
  TEST_CASE("builders follow the zigbee2mqtt layout under the default base") {
    Topics t;
    CHECK(t.base() == "tuya2mqtt");
    CHECK(t.state("kitchen_plug") == "tuya2mqtt/kitchen_plug");
    CHECK(t.availability("kitchen_plug") == "tuya2mqtt/kitchen_plug/availability");
    CHECK(t.set("kitchen_plug") == "tuya2mqtt/kitchen_plug/set");
    CHECK(t.set_attr("kitchen_plug", "switch_1") == "tuya2mqtt/kitchen_plug/set/switch_1");
    CHECK(t.get("kitchen_plug") == "tuya2mqtt/kitchen_plug/get");
    CHECK(t.get_attr("kitchen_plug", "19") == "tuya2mqtt/kitchen_plug/get/19");
    CHECK(t.set_result("kitchen_plug") == "tuya2mqtt/kitchen_plug/set/result");
    CHECK(t.attribute("kitchen_plug", "cur_power") == "tuya2mqtt/kitchen_plug/cur_power");
    CHECK(t.bridge_state() == "tuya2mqtt/bridge/state");
    CHECK(t.bridge_info() == "tuya2mqtt/bridge/info");
    CHECK(t.bridge_devices() == "tuya2mqtt/bridge/devices");
    CHECK(t.bridge_event() == "tuya2mqtt/bridge/event");
    CHECK(t.bridge_logging() == "tuya2mqtt/bridge/logging");
    CHECK(t.bridge_health() == "tuya2mqtt/bridge/health");
    CHECK(t.bridge_request("device/rename") == "tuya2mqtt/bridge/request/device/rename");
    CHECK(t.bridge_response("device/rename") == "tuya2mqtt/bridge/response/device/rename");
  }

  TEST_CASE("custom base topic, including one with levels") {
    Topics t("home/tuya");
    CHECK(t.state("floor1/lamp") == "home/tuya/floor1/lamp");
    auto p = t.parse("home/tuya/floor1/lamp/set");
    REQUIRE(p.ok());
    CHECK(p->kind == TopicKind::SET);
    CHECK(p->name == "floor1/lamp");
    CHECK_FALSE(t.parse("tuya2mqtt/lamp/set").ok());
    CHECK(t.parse("home/tuyaX/lamp/set").error().code == "mqtt_topic_foreign");
  }

  TEST_CASE("plain per-DP topics refuse codes that would collide with command topics") {
    Topics t;
    CHECK_FALSE(t.attribute("plug", "set").has_value());
    CHECK_FALSE(t.attribute("plug", "get").has_value());
    CHECK_FALSE(t.attribute("plug", "availability").has_value());
    CHECK_FALSE(t.attribute("plug", "").has_value());
    CHECK_FALSE(t.attribute("plug", "a/b").has_value());
    CHECK_FALSE(t.attribute("plug", "a+").has_value());
  }

  TEST_CASE("parse every command shape") {
    Topics t;
    struct Case {
      const char* topic;
      TopicKind kind;
      const char* name;
      const char* attr;
    };
    const Case cases[] = {
        {"tuya2mqtt/plug/set", TopicKind::SET, "plug", ""},
        {"tuya2mqtt/plug/set/switch_1", TopicKind::SET_ATTR, "plug", "switch_1"},
        {"tuya2mqtt/plug/set/1", TopicKind::SET_ATTR, "plug", "1"},
        {"tuya2mqtt/plug/get", TopicKind::GET, "plug", ""},
        {"tuya2mqtt/plug/get/cur_power", TopicKind::GET_ATTR, "plug", "cur_power"},
        {"tuya2mqtt/kitchen/plug/set", TopicKind::SET, "kitchen/plug", ""},
        {"tuya2mqtt/kitchen/plug/set/20", TopicKind::SET_ATTR, "kitchen/plug", "20"},
        {"tuya2mqtt/a/b/c/d/e/get", TopicKind::GET, "a/b/c/d/e", ""},
        {"tuya2mqtt/a/b/c/d/e/get/x", TopicKind::GET_ATTR, "a/b/c/d/e", "x"},
        {"tuya2mqtt/living room lamp/set", TopicKind::SET, "living room lamp", ""},
    };
    for (const auto& c : cases) {
      CAPTURE(c.topic);
      auto p = t.parse(c.topic);
      REQUIRE(p.ok());
      CHECK(p->kind == c.kind);
      CHECK(p->name == c.name);
      CHECK(p->attribute == c.attr);
    }
  }

  TEST_CASE("parse bridge requests keep the whole path") {
    Topics t;
    auto p = t.parse("tuya2mqtt/bridge/request/device/ota_update/check");
    REQUIRE(p.ok());
    CHECK(p->kind == TopicKind::BRIDGE_REQUEST);
    CHECK(p->path == "device/ota_update/check");
    auto q = t.parse("tuya2mqtt/bridge/request/health_check");
    REQUIRE(q.ok());
    CHECK(q->path == "health_check");
    CHECK(t.parse("tuya2mqtt/bridge/request").error().code == "mqtt_topic_invalid");
    CHECK(t.parse("tuya2mqtt/bridge/request/").error().code == "mqtt_topic_invalid");
  }

  TEST_CASE("our own topics parse as OWN so echoes are ignored, not counted as errors") {
    Topics t;
    for (const char* topic :
         {"tuya2mqtt/plug", "tuya2mqtt/kitchen/plug", "tuya2mqtt/plug/availability",
          "tuya2mqtt/plug/set/result", "tuya2mqtt/kitchen/plug/set/result", "tuya2mqtt/bridge/state",
          "tuya2mqtt/bridge/info", "tuya2mqtt/bridge/devices", "tuya2mqtt/bridge/event",
          "tuya2mqtt/bridge/logging", "tuya2mqtt/bridge/health", "tuya2mqtt/bridge/response/device/rename"}) {
      CAPTURE(topic);
      auto p = t.parse(topic);
      REQUIRE(p.ok());
      CHECK(p->kind == TopicKind::OWN);
    }
  }

  TEST_CASE("malformed topics are errors") {
    Topics t;
    for (std::string topic : {"tuya2mqtt", "tuya2mqtt/", "other/plug/set", "tuya2mqttx/plug/set",
                              "tuya2mqtt//set", "tuya2mqtt/plug//set", "tuya2mqtt/plug/set/",
                              "tuya2mqtt/a+b/set", "tuya2mqtt/#/set", "tuya2mqtt/set", "tuya2mqtt/get",
                              "tuya2mqtt/bridge/set", "tuya2mqtt/bridge/bogus", "tuya2mqtt/a/set/b/set",
                              "tuya2mqtt/x/get/y/get", "tuya2mqtt/a/b/c/d/e/f/set", "tuya2mqtt/bridge"}) {
      CAPTURE(topic);
      CHECK_FALSE(t.parse(topic).ok());
    }
    std::string long_topic = "tuya2mqtt/" + std::string(2000, 'a') + "/set";
    CHECK(t.parse(long_topic).error().code == "mqtt_topic_invalid");
    CHECK(t.parse(std::string("tuya2mqtt/a\x01/set")).error().code == "mqtt_topic_invalid");
  }

  TEST_CASE("a reserved word inside a topic resolves to the only valid reading") {
    Topics t;
    // name "a", attribute "set" (the reading with name "a/set" is invalid).
    auto p = t.parse("tuya2mqtt/a/set/set");
    REQUIRE(p.ok());
    CHECK(p->kind == TopicKind::SET_ATTR);
    CHECK(p->name == "a");
    CHECK(p->attribute == "set");
  }

  TEST_CASE("validate_friendly_name") {
    using t2m::mqtt::validate_friendly_name;
    for (const char* ok : {"plug", "kitchen/plug", "Living Room Lamp", "a/b/c/d/e", "lamp-1_2.x", "Küche"}) {
      CAPTURE(ok);
      CHECK(validate_friendly_name(ok).ok());
    }
    for (const char* bad :
         {"", "/plug", "plug/", "a//b", "a+b", "a#", "set", "get", "availability", "bridge", "plug/set",
          "plug/get", "plug/availability", "bridge/x", "a/set/b", "a/b/c/d/e/f", "tab\there"}) {
      CAPTURE(bad);
      auto st = validate_friendly_name(bad);
      CHECK_FALSE(st.ok());
      if (!st) CHECK(st.error().code == "mqtt_name_invalid");
    }
    CHECK_FALSE(validate_friendly_name(std::string(t2m::mqtt::MAX_FRIENDLY_NAME_BYTES + 1, 'a')).ok());
    CHECK(validate_friendly_name(std::string(t2m::mqtt::MAX_FRIENDLY_NAME_BYTES, 'a')).ok());
  }

  TEST_CASE("validate_base_topic") {
    using t2m::mqtt::validate_base_topic;
    CHECK(validate_base_topic("tuya2mqtt").ok());
    CHECK(validate_base_topic("home/tuya").ok());
    for (const char* bad : {"", "/x", "x/", "a//b", "a/+", "#"}) {
      CAPTURE(bad);
      CHECK_FALSE(validate_base_topic(bad).ok());
    }
  }

  TEST_CASE("subscriptions cover every command shape at every allowed depth, and nothing we publish") {
    Topics t;
    auto subs = t.subscriptions();
    CHECK(subs.size() == 4 * t2m::mqtt::MAX_NAME_LEVELS + 1);
    std::set<std::string> unique(subs.begin(), subs.end());
    CHECK(unique.size() == subs.size());
    CHECK(unique.count("tuya2mqtt/+/set") == 1);
    CHECK(unique.count("tuya2mqtt/+/+/set/+") == 1);
    CHECK(unique.count("tuya2mqtt/bridge/request/#") == 1);

    // A tiny MQTT filter matcher, enough to check the list against concrete topics.
    auto matches = [](const std::string& filter, const std::string& topic) {
      size_t f = 0, p = 0;
      while (true) {
        size_t fe = filter.find('/', f), te = topic.find('/', p);
        std::string fl = filter.substr(f, fe == std::string::npos ? std::string::npos : fe - f);
        if (fl == "#") return true;
        std::string tl = topic.substr(p, te == std::string::npos ? std::string::npos : te - p);
        if (fl != "+" && fl != tl) return false;
        if (fe == std::string::npos || te == std::string::npos)
          return fe == std::string::npos && te == std::string::npos;
        f = fe + 1;
        p = te + 1;
      }
    };
    auto any = [&](const std::string& topic) {
      for (const auto& s : subs)
        if (matches(s, topic)) return true;
      return false;
    };
    std::string name = "n";
    for (size_t depth = 1; depth <= t2m::mqtt::MAX_NAME_LEVELS; ++depth) {
      CAPTURE(name);
      CHECK(any(t.set(name)));
      CHECK(any(t.set_attr(name, "1")));
      CHECK(any(t.get(name)));
      CHECK(any(t.get_attr(name, "x")));
      CHECK_FALSE(any(t.state(name)));
      CHECK_FALSE(any(t.availability(name)));
      CHECK_FALSE(any(*t.attribute(name, "cur_power")));
      name += "/n";
    }
    CHECK(any(t.bridge_request("device/rename")));
    CHECK_FALSE(any(t.bridge_response("device/rename")));
    CHECK_FALSE(any(t.bridge_state()));
    CHECK_FALSE(any(t.bridge_devices()));
  }

  TEST_CASE("built topics parse back to what built them") {
    Topics t;
    for (const char* name : {"plug", "kitchen/plug", "a/b/c/d/e"}) {
      CAPTURE(name);
      auto s = t.parse(t.set(name));
      REQUIRE(s.ok());
      CHECK(s->name == name);
      auto g = t.parse(t.get_attr(name, "switch_1"));
      REQUIRE(g.ok());
      CHECK(g->kind == TopicKind::GET_ATTR);
      CHECK(g->name == name);
      CHECK(g->attribute == "switch_1");
    }
  }
}

}  // namespace t2m_topics_test

#include "mqtt/publisher.h"

#include <doctest/doctest.h>

#include "mqtt/topics.h"
#include "tests/fakes/fake_mqtt_client.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_publisher_test {

using t2m::mqtt::FakeMqttClient;
using t2m::mqtt::Message;
using t2m::mqtt::Publisher;
using t2m::mqtt::Qos;
using t2m::mqtt::Topics;

namespace {
struct Fixture {
  FakeMqttClient client;
  Publisher pub{client};
  Topics topics;
  Fixture() {
    t2m::mqtt::ClientHandlers h;
    h.on_connected = [this](bool) { pub.on_connected(); };
    REQUIRE(client.connect({}, std::move(h)).ok());
    client.simulate_connect();
  }
};
}  // namespace

TEST_SUITE("mqtt.publisher") {
  TEST_CASE("retained messages are published retained at QoS 1 and remembered") {
    Fixture f;
    CHECK(f.pub.set_retained("", f.topics.bridge_state(), R"({"state":"online"})"));
    CHECK(f.pub.set_retained("dev1", f.topics.state("plug"), R"({"state":"ON"})"));
    REQUIRE(f.client.published.size() == 2);
    CHECK(f.client.published[0].retained);
    CHECK(f.client.published[0].qos == Qos::AT_LEAST_ONCE);
    CHECK(f.client.retained.at("tuya2mqtt/plug") == R"({"state":"ON"})");
    REQUIRE(f.pub.retained_payload("tuya2mqtt/plug") != nullptr);
    CHECK(*f.pub.retained_payload("tuya2mqtt/plug") == R"({"state":"ON"})");
    CHECK(f.pub.retained_count() == 2);
    CHECK(f.pub.stats().published == 2);
  }

  TEST_CASE("ALWAYS republishes identical state; IF_CHANGED skips it") {
    Fixture f;
    auto topic = f.topics.state("plug");
    f.pub.set_retained("dev1", topic, "{\"a\":1}");
    f.pub.set_retained("dev1", topic, "{\"a\":1}");
    CHECK(f.client.published_to(topic).size() == 2);
    auto avail = f.topics.availability("plug");
    CHECK(f.pub.set_retained("dev1", avail, R"({"state":"online"})", Publisher::When::IF_CHANGED));
    CHECK_FALSE(f.pub.set_retained("dev1", avail, R"({"state":"online"})", Publisher::When::IF_CHANGED));
    CHECK(f.pub.set_retained("dev1", avail, R"({"state":"offline"})", Publisher::When::IF_CHANGED));
    CHECK(f.client.published_to(avail).size() == 2);
    CHECK(f.pub.stats().unchanged == 1);
    CHECK(f.pub.retained_count() == 2);
  }

  TEST_CASE("while disconnected the latest value is kept and sent once on reconnect") {
    Fixture f;
    f.pub.set_retained("", f.topics.bridge_state(), R"({"state":"online"})");
    f.pub.set_retained("dev1", f.topics.state("plug"), "{\"p\":1}");
    f.client.simulate_connection_lost();
    f.client.clear_log();
    CHECK_FALSE(f.pub.set_retained("dev1", f.topics.state("plug"), "{\"p\":2}"));
    CHECK_FALSE(f.pub.set_retained("dev1", f.topics.state("plug"), "{\"p\":3}"));
    CHECK(f.client.published.empty());
    CHECK(f.client.buffered.empty());  // not queued in the client: no stale backlog
    CHECK(f.pub.stats().deferred == 2);
    f.client.retained.clear();  // the broker restarted without persistence
    f.client.simulate_connect();
    REQUIRE(f.client.published.size() == 2);
    CHECK(f.client.published[0].topic == "tuya2mqtt/bridge/state");  // first set, first republished
    CHECK(f.client.published_to("tuya2mqtt/plug").size() == 1);
    CHECK(f.client.retained.at("tuya2mqtt/plug") == "{\"p\":3}");
    CHECK(f.client.retained.at("tuya2mqtt/bridge/state") == R"({"state":"online"})");
  }

  TEST_CASE("every reconnect republishes everything the gateway owns") {
    Fixture f;
    for (int i = 0; i < 50; ++i)
      f.pub.set_retained("dev" + std::to_string(i), f.topics.state("d" + std::to_string(i)),
                         std::to_string(i));
    for (int round = 0; round < 3; ++round) {
      f.client.simulate_connection_lost();
      f.client.retained.clear();
      f.client.clear_log();
      f.client.simulate_connect();
      CHECK(f.client.published.size() == 50);
      CHECK(f.client.retained.size() == 50);
      CHECK(f.client.retained.at("tuya2mqtt/d17") == "17");
    }
    CHECK(f.pub.stats().republished == 150);
  }

  TEST_CASE("rendered documents keep only a digest and are rendered again after a reconnect") {
    Fixture f;
    std::string doc = R"([{"id":"a"}])";
    int renders = 0;
    auto render = [&] {
      ++renders;
      return doc;
    };
    const std::string topic = f.topics.bridge_devices();
    CHECK(f.pub.set_retained_rendered("", topic, doc, render, Publisher::When::IF_CHANGED));
    CHECK(renders == 0);  // the payload given is sent as it is
    CHECK(f.client.retained.at(topic) == doc);
    CHECK(f.pub.retained_payload(topic) == nullptr);  // not stored
    // The same document again is skipped; a changed one goes out.
    CHECK_FALSE(f.pub.set_retained_rendered("", topic, doc, render, Publisher::When::IF_CHANGED));
    CHECK(f.pub.stats().unchanged == 1);
    doc = R"([{"id":"a"},{"id":"b"}])";
    CHECK(f.pub.set_retained_rendered("", topic, doc, render, Publisher::When::IF_CHANGED));
    CHECK(f.client.retained.at(topic) == doc);
    // While disconnected the change is only noted; the reconnect renders the document as it is then.
    f.client.simulate_connection_lost();
    doc = R"([{"id":"c"}])";
    CHECK_FALSE(f.pub.set_retained_rendered("", topic, doc, render, Publisher::When::IF_CHANGED));
    doc = R"([{"id":"c"},{"id":"d"}])";
    f.client.retained.clear();
    f.client.simulate_connect();
    CHECK(renders == 1);
    CHECK(f.client.retained.at(topic) == doc);
    // A plain set_retained on the same topic takes it back to a stored payload.
    CHECK(f.pub.set_retained("", topic, "[]", Publisher::When::IF_CHANGED));
    REQUIRE(f.pub.retained_payload(topic) != nullptr);
    CHECK(*f.pub.retained_payload(topic) == "[]");
    CHECK(f.pub.retained_count() == 1);
  }

  TEST_CASE("rename clears the old name's retained topics and keeps id-based ones") {
    Fixture f;
    f.pub.set_retained("dev1", f.topics.state("old"), "{\"s\":1}");
    f.pub.set_retained("dev1", f.topics.availability("old"), R"({"state":"online"})");
    f.pub.set_retained("dev1", *f.topics.attribute("old", "power"), "12");
    f.pub.set_retained("dev1", "homeassistant/device/dev1/config", "{}");
    // Another device whose name starts with the same text must not be touched.
    f.pub.set_retained("dev2", f.topics.state("older"), "{\"s\":2}");
    f.client.clear_log();

    CHECK(f.pub.clear_owner("dev1", f.topics.state("old")) == 3);
    CHECK(f.client.published.size() == 3);
    for (const auto& m : f.client.published) {
      CHECK(m.retained);
      CHECK(m.payload.empty());
    }
    CHECK_FALSE(f.client.has_retained("tuya2mqtt/old"));
    CHECK_FALSE(f.client.has_retained("tuya2mqtt/old/availability"));
    CHECK_FALSE(f.client.has_retained("tuya2mqtt/old/power"));
    CHECK(f.client.has_retained("homeassistant/device/dev1/config"));
    CHECK(f.client.has_retained("tuya2mqtt/older"));
    CHECK(f.pub.retained_count() == 2);

    f.pub.set_retained("dev1", f.topics.state("new"), "{\"s\":1}");
    f.client.simulate_connection_lost();
    f.client.clear_log();
    f.client.simulate_connect();
    CHECK(f.client.published_to("tuya2mqtt/old").empty());  // not resurrected
    CHECK(f.client.published_to("tuya2mqtt/new").size() == 1);
  }

  TEST_CASE("remove clears everything of the device, discovery included") {
    Fixture f;
    f.pub.set_retained("dev1", f.topics.state("plug"), "{}");
    f.pub.set_retained("dev1", "homeassistant/device/dev1/config", "{}");
    f.pub.set_retained("", f.topics.bridge_info(), "{}");
    CHECK(f.pub.clear_owner("dev1") == 2);
    CHECK(f.client.retained.size() == 1);
    CHECK(f.client.has_retained("tuya2mqtt/bridge/info"));
  }

  TEST_CASE("clears made while disconnected are sent on reconnect, before the republish") {
    Fixture f;
    f.pub.set_retained("dev1", f.topics.state("plug"), "{}");
    f.client.simulate_connection_lost();
    f.pub.clear_retained("tuya2mqtt/plug");
    f.pub.clear_retained("homeassistant/sensor/stale/config");  // not ours any more: still cleared
    f.pub.clear_retained("homeassistant/sensor/stale/config");  // once
    CHECK(f.pub.pending_clears() == 2);
    f.client.clear_log();
    f.client.simulate_connect();
    REQUIRE(f.client.published.size() == 2);
    CHECK(f.client.published[0].payload.empty());
    CHECK_FALSE(f.client.has_retained("tuya2mqtt/plug"));
    CHECK(f.pub.pending_clears() == 0);
  }

  TEST_CASE("a topic set again after an unsent clear is not cleared") {
    Fixture f;
    f.client.simulate_connection_lost();
    f.pub.clear_retained("tuya2mqtt/plug");
    f.pub.set_retained("dev1", "tuya2mqtt/plug", "{\"back\":true}");
    f.client.clear_log();
    f.client.simulate_connect();
    REQUIRE(f.client.published.size() == 1);
    CHECK(f.client.retained.at("tuya2mqtt/plug") == "{\"back\":true}");
  }

  TEST_CASE("non-retained publishes pass through and are not remembered") {
    Fixture f;
    Message m{f.topics.bridge_event(), R"({"type":"device_joined"})", Qos::AT_LEAST_ONCE, true};
    CHECK(f.pub.publish(m).ok());
    REQUIRE(f.client.published.size() == 1);
    CHECK_FALSE(f.client.published[0].retained);  // events are never retained
    CHECK(f.pub.retained_count() == 0);
    f.client.simulate_connection_lost();
    f.client.clear_log();
    f.client.simulate_connect();
    CHECK(f.client.published.empty());
  }

  TEST_CASE("client failures are counted, not fatal") {
    Fixture f;
    f.client.fail_publish = t2m::Error{"mqtt_buffer_full", "full"};
    CHECK_FALSE(f.pub.set_retained("dev1", "tuya2mqtt/plug", "{}"));
    CHECK_FALSE(f.pub.publish(Message{"tuya2mqtt/bridge/event", "{}"}).ok());
    CHECK(f.pub.stats().failed == 2);
    f.client.fail_publish.reset();
    f.pub.on_connected();  // the stored value still goes out later
    CHECK(f.client.retained.at("tuya2mqtt/plug") == "{}");
  }

  TEST_CASE("erasing from the middle keeps the index consistent") {
    Fixture f;
    for (int i = 0; i < 10; ++i)
      f.pub.set_retained("o" + std::to_string(i % 3), "t/" + std::to_string(i), "v");
    CHECK(f.pub.clear_owner("o1") == 3);  // 1, 4, 7
    CHECK(f.pub.retained_count() == 7);
    for (int i = 0; i < 10; ++i) {
      CAPTURE(i);
      bool expect = i % 3 != 1;
      CHECK((f.pub.retained_payload("t/" + std::to_string(i)) != nullptr) == expect);
    }
    f.pub.set_retained("o0", "t/0", "w");
    CHECK(*f.pub.retained_payload("t/0") == "w");
    CHECK(f.pub.retained_count() == 7);
  }
}

}  // namespace t2m_publisher_test

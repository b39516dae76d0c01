// The fake other modules' tests rely on: its offline semantics must match PahoClient's.
#include "tests/fakes/fake_mqtt_client.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_fake_mqtt_client_test {

using t2m::mqtt::ClientHandlers;
using t2m::mqtt::FakeMqttClient;
using t2m::mqtt::Message;
using t2m::mqtt::Qos;

TEST_SUITE("mqtt.fake_client") {
  TEST_CASE("offline: QoS 1 buffered up to max_buffered and flushed on connect, QoS 0 dropped") {
    FakeMqttClient c(2);
    int connected = 0;
    ClientHandlers h;
    h.on_connected = [&](bool) {
      ++connected;
      CHECK(c.published.size() == 2);  // the buffer is flushed before on_connected runs
    };
    REQUIRE(c.connect({}, std::move(h)).ok());
    CHECK(c.publish(Message{"a", "1", Qos::AT_LEAST_ONCE, true}).ok());
    CHECK(c.publish(Message{"b", "2", Qos::AT_LEAST_ONCE, false}).ok());
    CHECK(c.publish(Message{"c", "3", Qos::AT_LEAST_ONCE, false}).error().code == "mqtt_buffer_full");
    CHECK(c.publish(Message{"d", "4", Qos::AT_MOST_ONCE, false}).ok());
    CHECK(c.dropped_offline == 1);
    CHECK(c.published.empty());
    c.simulate_connect();
    CHECK(connected == 1);
    CHECK(c.retained.at("a") == "1");
    CHECK_FALSE(c.has_retained("b"));
    CHECK(c.buffered.empty());
  }

  TEST_CASE("retained store, injection, errors and connection events reach the handlers") {
    FakeMqttClient c;
    std::vector<Message> got;
    std::vector<std::string> lost;
    std::vector<t2m::Error> errors;
    ClientHandlers h;
    h.on_message = [&](Message m) { got.push_back(std::move(m)); };
    h.on_connection_lost = [&](const std::string& why) { lost.push_back(why); };
    h.on_error = [&](const t2m::Error& e) { errors.push_back(e); };
    REQUIRE(c.connect({}, std::move(h)).ok());
    c.simulate_connect();
    CHECK(c.publish(Message{"t", "v", Qos::AT_LEAST_ONCE, true}).ok());
    CHECK(c.has_retained("t"));
    CHECK(c.publish(Message{"t", "", Qos::AT_LEAST_ONCE, true}).ok());
    CHECK_FALSE(c.has_retained("t"));
    CHECK(c.published_to("t").size() == 2);
    CHECK(c.last_published("t")->payload.empty());
    CHECK_FALSE(c.publish(Message{"a/+/b", "x"}).ok());

    c.inject("tuya2mqtt/plug/set", "ON");
    REQUIRE(got.size() == 1);
    CHECK(got[0].payload == "ON");
    c.simulate_connection_lost("broker gone");
    CHECK(lost == std::vector<std::string>{"broker gone"});
    CHECK_FALSE(c.connected());
    c.simulate_error(t2m::Error{"mqtt_auth_refused", "no"});
    CHECK(errors.size() == 1);

    CHECK(c.subscribe("x/#", Qos::AT_LEAST_ONCE).ok());
    c.simulate_connect();
    CHECK(c.subscriptions.count("x/#") == 1);  // kept across reconnects, as PahoClient restores them
    CHECK(c.unsubscribe("x/#").ok());
    CHECK(c.subscriptions.empty());
    bool done = false;
    c.disconnect([&] { done = true; });
    CHECK(done);
    CHECK(c.disconnect_calls == 1);
  }
}

}  // namespace t2m_fake_mqtt_client_test

// The gateway core's inbound door: after a broker reconnect retained state is republished and the
// subscriptions restored; Home Assistant's topics are taken before the gateway's own; topics that are not
// ours are counted.
#include "gateway/gateway.h"

#include <doctest/doctest.h>

#include "tests/gateway/gateway_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_gateway_test {

using namespace t2m;
using namespace t2m::gw;
using namespace t2m::gw::testing;
using nlohmann::json;

TEST_CASE("after a broker reconnect retained state is republished and subscriptions restored") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  h.client.simulate_connection_lost();
  h.client.retained.clear();  // a broker without persistence
  h.client.subscribe_log.clear();
  h.client.simulate_connect();
  CHECK(h.client.retained.count("t2m/plug") == 1);
  CHECK(h.client.retained.at("t2m/bridge/state") == R"({"state":"online"})");
  CHECK_FALSE(h.client.subscribe_log.empty());
  CHECK(h.client.subscriptions.count("homeassistant/status") == 1);
}

TEST_CASE("messages on topics the gateway does not serve are counted, not answered") {
  Harness h;
  const size_t before = h.client.published.size();
  h.gateway->on_mqtt_message(mqtt::Message{"elsewhere/x", "1", mqtt::Qos::AT_LEAST_ONCE, false});
  h.gateway->on_mqtt_message(
      mqtt::Message{"homeassistant/status", "online", mqtt::Qos::AT_LEAST_ONCE, false});
  CHECK(h.registry().stats().bad_mqtt_messages == 1);
  CHECK(h.client.published.size() == before);
}

}  // namespace t2m_gateway_test

// CommandRouter through the gateway core: set by code, by DP id and by attribute topic reach the device's
// socket, every set is answered on set/result, bad commands are answered and counted, and a device whose
// LAN is down is written through the cloud when there is one.
#include "gateway/command_router.h"

#include <doctest/doctest.h>

#include "tests/gateway/gateway_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_command_router_test {

using namespace t2m;
using namespace t2m::gw;
using namespace t2m::gw::testing;
using nlohmann::json;

TEST_CASE("set by code and by id reach the device; set/result answers with the written DPs") {
  Harness h;
  FakeDevice d = h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  FakeTransport* t = h.transport_to("127.0.9.1");
  h.client.inject("t2m/plug/set", R"({"switch_1": false, "transaction": "abc"})");
  d.read(*t);
  REQUIRE(d.received.back().cmd == cmd_of(proto::Command::CONTROL));
  CHECK(proto::parse_control(d.received.back().payload)->dps == json{{"1", false}});
  d.send(*t, proto::Command::CONTROL, "");
  auto r = h.last_json("t2m/plug/set/result");
  CHECK(r["status"] == "ok");
  CHECK(r["transaction"] == "abc");
  CHECK(r["dps"] == json{{"1", false}});

  h.client.inject("t2m/plug/set/1", "true");
  h.timers.advance(200);  // writes to one device are paced (100 ms by default)
  d.read(*t);
  CHECK(proto::parse_control(d.received.back().payload)->dps == json{{"1", true}});
}

TEST_CASE("bad commands are answered with errors and counted") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  h.client.inject("t2m/plug/set", "{oops");
  CHECK(h.last_json("t2m/plug/set/result")["code"] == "mqtt_payload_invalid_json");
  h.client.inject("t2m/nobody/set", R"({"switch_1": true})");
  CHECK(h.last_json("t2m/nobody/set/result")["code"] == "unknown_device");
  h.client.inject("t2m/plug/set", R"({"cur_power": 1})");
  CHECK(h.last_json("t2m/plug/set/result")["code"] == "read_only");
  const auto& errors = h.registry().stats().errors;
  CHECK(errors.at("mqtt_payload_invalid_json") == 1);
  CHECK(errors.at("unknown_device") == 1);
  CHECK(errors.at("read_only") == 1);
  CHECK(h.registry().stats().command_errors == 3);
}

TEST_CASE("a device whose LAN is down is written through the cloud; without one it is offline") {
  SUBCASE("with a cloud") {
    Harness h(HarnessOptions{.cloud = true});
    h.client.inject("t2m/plug/set", R"({"switch_1": true, "transaction": 9})");
    REQUIRE(h.cloud.commands.size() == 1);
    CHECK(h.cloud.commands[0].first == PLUG);
    CHECK(h.cloud.commands[0].second == json{{"1", true}});
    CHECK_FALSE(h.client.last_published("t2m/plug/set/result").has_value());  // not answered yet
    h.cloud.pending[0](Status{});
    auto r = h.last_json("t2m/plug/set/result");
    CHECK(r["status"] == "ok");
    CHECK(r["transaction"] == 9);
  }
  SUBCASE("the cloud refuses: the LAN's answer stands") {
    Harness h(HarnessOptions{.cloud = true});
    h.cloud.accept_commands = false;
    h.client.inject("t2m/sub/set", R"({"switch_1": true})");  // its gateway is not connected
    CHECK(h.cloud.commands.empty());
    CHECK(h.client.last_published("t2m/sub/set/result").has_value() == false);  // queued on the session
  }
  SUBCASE("no cloud, no session") {
    Harness h;
    h.client.inject("t2m/roamer/set", R"({"switch_1": true})");  // address auto: no session yet
    CHECK(h.last_json("t2m/roamer/set/result")["code"] == "offline");
  }
}

TEST_CASE("a property unknown on a device that has never been online: offline, not unknown_property") {
  Harness h;
  h.client.inject("t2m/roamer/set", R"({"no_such_property": 5})");  // never online, never reported
  auto r = h.last_json("t2m/roamer/set/result");
  CHECK(r["code"] == "offline");
  CHECK(r["error"].get<std::string>().find("has not been online yet") != std::string::npos);
  // Once the device has reported, an unknown property is just that.
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  h.client.inject("t2m/plug/set", R"({"no_such_property": 5})");
  CHECK(h.last_json("t2m/plug/set/result")["code"] == "unknown_property");
}

TEST_CASE("get asks the device for its state; failures are answered") {
  Harness h;
  FakeDevice d = h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  FakeTransport* t = h.transport_to("127.0.9.1");
  h.client.inject("t2m/plug/get", "");
  d.read(*t);
  CHECK(d.received.back().cmd == cmd_of(proto::Command::DP_QUERY));
  h.client.inject("t2m/roamer/get", "");
  CHECK(h.last_json("t2m/roamer/set/result")["code"] == "offline");
}

}  // namespace t2m_command_router_test

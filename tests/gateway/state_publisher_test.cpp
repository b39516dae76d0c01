// StatePublisher through the gateway core: device reports become retained state in real units, links
// become availability (sub-devices follow their gateway), bridge/devices, stop, cloud reports, firmware
// state, and Home Assistant's birth → states republished after the delay.
#include "gateway/state_publisher.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "tests/gateway/gateway_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_state_publisher_test {

using namespace t2m;
using namespace t2m::gw;
using namespace t2m::gw::testing;
using nlohmann::json;

TEST_CASE("start: bridge state, availability, subscriptions; a report becomes retained state in real units") {
  Harness h;
  CHECK(h.client.retained.at("t2m/bridge/state") == R"({"state":"online"})");
  CHECK(h.client.retained.at("t2m/plug/availability") == R"({"state":"offline"})");
  CHECK(h.client.subscriptions.count("t2m/bridge/request/#") == 1);
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}, {"20", 2301}});
  CHECK(h.client.retained.at("t2m/plug/availability") == R"({"state":"online"})");
  auto state = json::parse(h.client.retained.at("t2m/plug"));
  CHECK(state["switch_1"] == true);
  CHECK(state["cur_voltage"] == doctest::Approx(230.1));
  CHECK(state["dps"]["20"] == 2301);
  CHECK(h.registry().find("plug")->effective_online());
  CHECK(h.events_of("device_online") == 1);
}

TEST_CASE("sub-devices: reports by cid land on the sub-device, commands carry its cid") {
  Harness h;
  FakeDevice gw = h.online("127.0.9.2", GW, GW_KEY, json{{"1", true}});
  CHECK(h.client.retained.at("t2m/sub/availability") == R"({"state":"online"})");
  FakeTransport* t = h.transport_to("127.0.9.2");
  gw.read(*t);  // the refresh for the sub-device, answered like a query
  REQUIRE(gw.received.back().cmd == cmd_of(proto::Command::DP_QUERY));
  gw.send(*t, proto::Command::DP_QUERY, gw.report(json{{"1", false}}, std::string("cid03")));
  auto sub = json::parse(h.client.retained.at("t2m/sub"));
  CHECK(sub["switch_1"] == false);
  h.client.inject("t2m/sub/set", R"({"switch_1": true})");
  gw.read(*t);
  auto ctl = proto::parse_control(gw.received.back().payload);
  REQUIRE(ctl.ok());
  CHECK(ctl->cid == std::optional<std::string>("cid03"));
  CHECK(ctl->dps == json{{"1", true}});
  // An unknown cid is announced once as an event, not crash or count as state.
  gw.send(*t, proto::Command::STATUS, gw.report(json{{"1", true}}, std::string("stranger")));
  gw.send(*t, proto::Command::STATUS, gw.report(json{{"1", true}}, std::string("stranger")));
  CHECK(h.events_of("unknown_sub_device") == 1);
}

TEST_CASE("bridge/devices text is the devices document, also for devices sharing a model") {
  Harness h;
  const json doc = h.state().devices_json();
  REQUIRE(doc.size() == 4);
  const json text = json::parse(h.state().devices_payload());
  CHECK(text == doc);
  // The two plugs share a model and so the same "dps" description.
  const auto plug =
      std::find_if(text.begin(), text.end(), [](const json& d) { return d["friendly_name"] == "plug"; });
  const auto roamer =
      std::find_if(text.begin(), text.end(), [](const json& d) { return d["friendly_name"] == "roamer"; });
  REQUIRE(plug != text.end());
  REQUIRE(roamer != text.end());
  CHECK((*plug)["dps"] == (*roamer)["dps"]);
  CHECK_FALSE((*plug)["dps"]["dps"].empty());
  // The retained bridge/devices is that text.
  CHECK(json::parse(h.client.retained.at("t2m/bridge/devices")) == doc);
}

TEST_CASE("stop publishes every device and the bridge offline") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  h.gateway->stop();
  CHECK(h.client.retained.at("t2m/plug/availability") == R"({"state":"offline"})");
  CHECK(h.client.retained.at("t2m/bridge/state") == R"({"state":"offline"})");
}

TEST_CASE(
    "cloud reports by code join the state; unknown codes are counted; cloud online drives availability") {
  Harness h;
  h.state().cloud_report(PLUG,
                         {CloudItem{std::nullopt, "switch_1", true}, CloudItem{std::nullopt, "nonsense", 1}});
  CHECK(json::parse(h.client.retained.at("t2m/plug"))["switch_1"] == true);
  CHECK(h.registry().stats().errors.at("cloud_unknown_code") == 1);
  // A sub-device behind no session is as online as the cloud says.
  CHECK(h.client.retained.at("t2m/roamer/availability") == R"({"state":"offline"})");
  h.state().cloud_online("bfauto00000000000004", true);
  CHECK(h.client.retained.at("t2m/roamer/availability") == R"({"state":"online"})");
  h.state().cloud_report("nobody", {CloudItem{1, "", true}});  // unknown devices are ignored
}

TEST_CASE("firmware state joins the device state and, the first time, its discovery") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  const auto discovery = "homeassistant/device/tuya_" + PLUG + "/config";
  const bool ha = h.client.has_retained(discovery);
  h.state().firmware(PLUG, {{"state", "available"}, {"installed_version", "1.0"}, {"latest_version", "1.1"}});
  auto state = json::parse(h.client.retained.at("t2m/plug"));
  CHECK(state["update"]["state"] == "available");
  if (ha) CHECK(json::parse(h.client.retained.at(discovery))["components"].contains("firmware"));
  const size_t before = h.client.published_to("t2m/plug").size();
  h.state().firmware(PLUG, {{"state", "available"}, {"installed_version", "1.0"}, {"latest_version", "1.1"}});
  CHECK(h.client.published_to("t2m/plug").size() == before);  // unchanged: not published again
}

TEST_CASE("Home Assistant's birth republishes every state after the delay; its will cancels that") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  const size_t before = h.client.published_to("t2m/plug").size();
  h.client.retained.erase("t2m/plug");  // HA (or the broker) lost it
  h.client.inject("homeassistant/status", "online");
  h.timers.advance(DEFAULT_HA_BIRTH_DELAY_MS - 1);
  CHECK(h.client.published_to("t2m/plug").size() == before);
  h.timers.advance(1);
  CHECK(h.client.published_to("t2m/plug").size() == before + 1);
  h.client.inject("homeassistant/status", "online");
  h.client.inject("homeassistant/status", "offline");
  h.timers.advance(2 * DEFAULT_HA_BIRTH_DELAY_MS);
  CHECK(h.client.published_to("t2m/plug").size() == before + 1);
  CHECK(h.gateway->ha().stats().births == 2);
}

// A hostile or broken device that names new DP ids in every frame took the gateway from 16 MB to 80 MB
// and its state messages to 2 MB: what a device may keep is bounded (merge_dps), the rest refused,
// counted, and said once on bridge/event.
TEST_CASE("DPs over max_dps, ids outside 1..255 and oversized values are refused, counted, said once") {
  HarnessOptions o;
  o.config.devices[0].max_dps = 4;
  Harness h(std::move(o));
  FakeDevice plug = h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}, {"20", 2301}});
  FakeTransport* t = h.transport_to("127.0.9.1");
  REQUIRE(t != nullptr);
  // Two more ids fit; after that only known ids are taken.
  for (int frame = 0; frame < 5; ++frame) {
    json dps;
    for (int i = 0; i < 3; ++i) dps[std::to_string(100 + frame * 3 + i)] = frame;
    dps["1"] = frame % 2 == 0;
    plug.send(*t, proto::Command::STATUS, plug.report(dps));
  }
  const Device* d = h.registry().find("plug");
  REQUIRE(d != nullptr);
  CHECK(d->dps.size() == 4);
  CHECK(d->dps.contains("100"));
  CHECK(d->dps.contains("101"));
  CHECK_FALSE(d->dps.contains("102"));
  CHECK(d->dps["1"] == true);  // known ids keep updating
  CHECK(d->errors.at("dp_refused") == 13);
  auto state = json::parse(h.client.retained.at("t2m/plug"));
  CHECK(state["dps"].size() == 4);

  // Ids the protocol cannot name and values too large to be a DP, on a device with room to spare.
  plug.send(*t, proto::Command::STATUS,
            plug.report(json{{"0", 1}, {"256", 1}, {"01", 1}, {"x", 1}, {"20", std::string(9000, 'a')}}));
  CHECK(d->errors.at("dp_refused") == 18);
  CHECK(d->dps["20"] == 2301);

  CHECK(h.events_of("dp_refused") == 1);
  const auto health = h.gateway->requests().health();
  CHECK(health["per_device"]["plug"]["errors"]["dp_refused"] == 18);
  CHECK(health["bridge"]["errors"].contains("dp_refused"));
}

TEST_CASE("a device's DP values together stay under MAX_DEVICE_DPS_BYTES, so its state message does") {
  Harness h;
  FakeDevice plug = h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}, {"20", 2301}});
  FakeTransport* t = h.transport_to("127.0.9.1");
  REQUIRE(t != nullptr);
  const std::string big(8000, 'r');  // under MAX_DP_VALUE_BYTES, as a large raw DP is
  for (int id = 101; id <= 109; ++id)
    plug.send(*t, proto::Command::STATUS, plug.report(json{{std::to_string(id), big}}));
  const Device* d = h.registry().find("plug");
  REQUIRE(d != nullptr);
  CHECK(d->dps.contains("108"));
  CHECK_FALSE(d->dps.contains("109"));  // the ninth would take the values past 64 KB
  CHECK(d->errors.at("dp_refused") == 1);
  CHECK(h.client.retained.at("t2m/plug").size() < 3 * config::MAX_DEVICE_DPS_BYTES);
  // A known DP may still change, within the bound.
  plug.send(*t, proto::Command::STATUS, plug.report(json{{"101", "short"}}));
  CHECK(d->dps["101"] == "short");
  plug.send(*t, proto::Command::STATUS, plug.report(json{{"109", big}}));
  CHECK(d->dps.contains("109"));
}

TEST_CASE("a gateway reporting for ever new unknown cids: announced a bounded number of times, all counted") {
  Harness h;
  FakeDevice gw = h.online("127.0.9.2", GW, GW_KEY, json{{"1", true}});
  FakeTransport* t = h.transport_to("127.0.9.2");
  REQUIRE(t != nullptr);
  constexpr int CIDS = 200;
  for (int i = 0; i < CIDS; ++i)
    gw.send(*t, proto::Command::STATUS, gw.report(json{{"1", true}}, "stranger" + std::to_string(i)));
  const size_t announced = h.events_of("unknown_sub_device");
  CHECK(announced >= 1);
  CHECK(announced < static_cast<size_t>(CIDS));
  CHECK(h.gateway->requests().health()["bridge"]["unknown_sub_device_reports"] == CIDS);
}

}  // namespace t2m_state_publisher_test

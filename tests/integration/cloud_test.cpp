// The gateway's cloud link end to end: a real mosquitto, the fake Tuya OpenAPI (HTTP on loopback), the
// fake Pulsar push service (or the fake open-hub: a second, password-protected mosquitto whose access
// config the fake OpenAPI hands out), the device simulator and the gateway (App) on one loop, observed
// through a real MQTT client. Push reports, availability, names and removals reach MQTT; firmware checks
// and upgrades are answered on bridge/response; a re-paired device gets its new key from the cloud.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "cloud/push_envelope.h"
#include "tests/support/gateway_fixture.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_cloud_test {

using namespace t2m;
using nlohmann::json;
using test::GatewayFixture;

namespace {

constexpr std::string_view ACCESS_ID = "1KAD46OrT9HafiKdsXeg";
constexpr std::string_view ACCESS_SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC";

constexpr std::string_view BULB_ID = "bfce34bulb0000000001";
constexpr std::string_view PLUG_ID = "bfce33plug0000000002";
constexpr std::string_view PASSIVE_ID = "bfcepassive000000003";  // no LAN session: cloud only
constexpr std::string_view BULB_KEY = "ce34bulbKey{001}";
constexpr std::string_view NEW_BULB_KEY = "ceNewBulbKey0001";

// The fake cloud knows all three devices; two are simulated on their own loopback block (the demo uses
// 127.0.1.x, gateway_test 127.0.3.x), the passive one is configured for the cloud only.
test::FixtureOptions options() {
  test::FixtureOptions o;
  o.devices = {test::device(BULB_ID, BULB_KEY, "3.4", "bulb", "127.0.5.1", "bulb34", "dj"),
               test::device(PLUG_ID, "ce33plugKey00002", "3.3", "plug", "127.0.5.2", "plug33", "cz"),
               test::device(PASSIVE_ID, "cePassiveKey0003", "3.3", "plug", "auto", "passive", "cz")};
  o.devices.back().simulated = false;
  o.devices.back().options = {{"passive", true}};
  o.subscriptions = {"tuya2mqtt/#"};
  test::CloudSpec c;
  c.access_id = std::string(ACCESS_ID);
  c.access_secret = std::string(ACCESS_SECRET);
  auto add = [&](std::string_view id, std::string_view key, std::string name, std::string category) {
    fakecloud::FakeDevice d;
    d.id = std::string(id);
    d.local_key = std::string(key);
    d.name = std::move(name);
    d.category = std::move(category);
    c.devices.push_back(std::move(d));
  };
  add(BULB_ID, BULB_KEY, "Bulb", "dj");
  add(PLUG_ID, "ce33plugKey00002", "Plug", "cz");
  add(PASSIVE_ID, "cePassiveKey0003", "Passive plug", "cz");
  o.cloud = std::move(c);
  return o;
}

}  // namespace

TEST_CASE("cloud push: a status report by code reaches the device's MQTT state") {
  GatewayFixture w(options());
  w.start_gateway();
  // Off first, then on: two reports, so a value that happened to be there already cannot pass.
  w.pulsar->publish(
      4,
      R"({"dataId":"r1","devId":"bfcepassive000000003","status":[{"code":"switch_1","value":false,"t":1000}]})",
      cloud::push::EM_AES_ECB);
  REQUIRE(w.wait([&] {
    auto s = w.state("passive");
    return s.is_object() && s.contains("switch_1") && s["switch_1"] == false;
  }));
  w.pulsar->publish(
      4,
      R"({"dataId":"r2","devId":"bfcepassive000000003","status":[{"code":"switch_1","value":true,"t":2000}]})",
      cloud::push::EM_AES_GCM);
  REQUIRE(w.wait([&] {
    auto s = w.state("passive");
    return s.is_object() && s["switch_1"] == true;
  }));
  CHECK(w.wait([&] { return w.pulsar->unacked() == 0; }));
}

TEST_CASE("cloud push: offline and online change the availability of a device without a LAN session") {
  GatewayFixture w(options());
  w.start_gateway();
  w.pulsar->publish(20,
                    R"({"devId":"bfcepassive000000003","bizCode":"online","bizData":{"time":1700000000}})",
                    cloud::push::EM_AES_ECB);
  REQUIRE(w.wait([&] { return w.online("passive"); }));
  w.pulsar->publish(20,
                    R"({"devId":"bfcepassive000000003","bizCode":"offline","bizData":{"time":1700000001}})",
                    cloud::push::EM_AES_GCM);
  REQUIRE(w.wait([&] { return w.offline("passive"); }));
  w.pulsar->publish(20,
                    R"({"devId":"bfcepassive000000003","bizCode":"online","bizData":{"time":1700000002}})",
                    cloud::push::EM_AES_GCM);
  REQUIRE(w.wait([&] { return w.online("passive"); }));
}

TEST_CASE("cloud push: a name update becomes an event, a deletion clears the device's retained topics") {
  GatewayFixture w(options());
  w.start_gateway();
  REQUIRE(w.wait([&] { return w.online("plug33") && !w.state("plug33").is_null(); }));
  size_t mark = w.seen.size();
  w.pulsar->publish(
      20,
      R"({"devId":"bfce33plug0000000002","bizCode":"nameUpdate","bizData":{"devId":"bfce33plug0000000002","name":"Kitchen plug"}})",
      cloud::push::EM_AES_ECB);
  auto ev = w.find_json("tuya2mqtt/bridge/event", mark, "device_cloud_name");
  REQUIRE(ev.is_object());
  CHECK(ev["data"]["id"] == PLUG_ID);
  CHECK(ev["data"]["friendly_name"] == "plug33");
  CHECK(ev["data"]["cloud_name"] == "Kitchen plug");

  mark = w.seen.size();
  w.pulsar->publish(
      20,
      R"({"devId":"bfce33plug0000000002","bizCode":"delete","bizData":{"devId":"bfce33plug0000000002","uid":"ay1","ownerId":"1"}})",
      cloud::push::EM_AES_GCM);
  auto removed = w.find_json("tuya2mqtt/bridge/event", mark, "device_removed");
  REQUIRE(removed.is_object());
  CHECK(removed["data"]["id"] == PLUG_ID);
  REQUIRE(w.wait(
      [&] { return w.last["tuya2mqtt/plug33"].empty() && w.last["tuya2mqtt/plug33/availability"].empty(); }));
  // bridge/devices no longer lists it.
  REQUIRE(w.wait([&] {
    auto devices = json::parse(w.last["tuya2mqtt/bridge/devices"], nullptr, false);
    if (!devices.is_array()) return false;
    for (const auto& d : devices)
      if (d.value("ieee_address", "") == PLUG_ID || d.value("friendly_name", "") == "plug33") return false;
    return true;
  }));
}

TEST_CASE("cloud firmware: check answers with the cloud's versions, update runs to the end") {
  GatewayFixture w(options());
  fakecloud::FakeFirmware fw;
  fw.current_version = "1.0.0";
  fw.latest_version = "1.2.0";
  fw.upgrade_status = 1;
  fw.progress_step = 50;  // one poll at 50 %, the next one finishes
  w.cloud->set_firmware(std::string(BULB_ID), {fw});
  // Polled every second instead of the default 5 s: the two polls take ~2 s, not ~10 s.
  constexpr int POLL_MS = 1000;
  w.cloud_options["ota_poll_interval"] = "1s";
  w.start_gateway();
  REQUIRE(w.wait([&] { return w.online("bulb34"); }));

  size_t mark = w.seen.size();
  w.publish("tuya2mqtt/bridge/request/device/ota_update/check", R"({"id": "bulb34"})");
  auto check = w.find_json("tuya2mqtt/bridge/response/device/ota_update/check", mark, "status");
  REQUIRE(check.is_object());
  CHECK(check["status"] == "ok");
  CHECK(check["data"]["id"] == "bulb34");
  CHECK(check["data"]["update_available"] == true);
  CHECK(check["data"]["installed_version"] == "1.0.0");
  CHECK(check["data"]["latest_version"] == "1.2.0");
  REQUIRE(w.wait([&] {
    auto s = w.state("bulb34");
    return s.is_object() && s.contains("update") && s["update"]["state"] == "available";
  }));

  mark = w.seen.size();
  const auto started = std::chrono::steady_clock::now();
  const std::string progress_path = "GET /v2.0/cloud/thing/" + std::string(BULB_ID) + "/firmware/0/progress";
  w.publish("tuya2mqtt/bridge/request/device/ota_update/update", R"({"id": "bulb34"})");
  bool saw_progress = false;
  REQUIRE(w.wait(
      [&] {
        auto s = w.state("bulb34");
        if (s.is_object() && s.contains("update") && s["update"]["state"] == "updating" &&
            s["update"].contains("progress") && s["update"]["progress"].get<int>() > 0)
          saw_progress = true;
        return saw_progress;
      },
      12000));
  auto done = w.find_json("tuya2mqtt/bridge/response/device/ota_update/update", mark, "status", 15000);
  const auto took_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count();
  REQUIRE(done.is_object());
  CHECK(done["status"] == "ok");
  // Two progress polls at the configured interval: at the default 5 s they alone would take 10 s.
  constexpr int DEFAULT_POLL_MS = 5000;
  CHECK(w.cloud->count(progress_path) == 2);
  CHECK(took_ms >= 2 * POLL_MS - 100);
  CHECK(took_ms < 2 * DEFAULT_POLL_MS);
  CHECK(done["data"]["from"] == "1.0.0");
  CHECK(done["data"]["to"] == "1.2.0");
  REQUIRE(w.wait([&] {
    auto s = w.state("bulb34");
    return s.is_object() && s.contains("update") && s["update"]["state"] == "idle" &&
           s["update"]["installed_version"] == "1.2.0";
  }));
}

TEST_CASE("cloud keys: a re-paired device gets its new local key from the cloud and comes back") {
  GatewayFixture w(options());
  w.start_gateway();
  REQUIRE(w.wait([&] { return w.online("bulb34"); }));
  w.cloud->device(std::string(BULB_ID))->local_key = std::string(NEW_BULB_KEY);
  size_t mark = w.seen.size();
  sim::Fault f;
  f.kind = sim::FaultKind::CHANGE_KEY;
  f.key = std::string(NEW_BULB_KEY);
  REQUIRE(w.simulator->inject(std::string(BULB_ID), f).ok());
  REQUIRE(w.wait([&] { return w.offline("bulb34"); }));
  auto ev = w.find_json("tuya2mqtt/bridge/event", mark, "device_key_updated", 15000);
  REQUIRE(ev.is_object());
  CHECK(ev["data"]["id"] == BULB_ID);
  REQUIRE(w.wait([&] { return w.online("bulb34"); }, 15000));
  CHECK(w.cloud->count("GET /v1.0/devices/" + std::string(BULB_ID)) > 0);
  // Neither key ever appears on MQTT.
  for (const auto& m : w.seen) {
    CHECK(m.payload.find(std::string(NEW_BULB_KEY)) == std::string::npos);
    CHECK(m.payload.find(std::string(BULB_KEY)) == std::string::npos);
  }
}

TEST_CASE("cloud push over open-hub: reports and availability reach MQTT, a malformed message is skipped") {
  GatewayFixture w(options());
  w.use_openhub();
  // The first project type answers "permission deny" once: the other config path is tried.
  fakecloud::Failure deny;
  deny.code = 1106;
  deny.msg = "permission deny";
  w.cloud->fail("POST /v1.0/iot-03/open-hub/access-config", deny);
  w.start_gateway();
  CHECK(w.pulsar->connections() == 0);  // one transport only
  CHECK(w.cloud->count("POST /v1.0/iot-03/open-hub/access-config") == 1);
  CHECK(w.cloud->count("POST /v1.0/open-hub/access/config") == 1);
  REQUIRE(w.cloud->openhub_requests().size() == 1);
  const json& req = w.cloud->openhub_requests().front();
  CHECK(req["uid"] == w.cloud->options().project_uid);  // the token's (project) uid
  CHECK(req["link_type"] == "mqtt");
  CHECK(req["topics"] == "device");
  CHECK(req["msg_encrypted_version"] == "1.0");
  CHECK(req["link_id"].get<std::string>().rfind("tuya2mqtt.", 0) == 0);

  // Protocol 4: off, then on (two reports, so a value that was there already cannot pass).
  REQUIRE(
      w.openhub
          ->publish(
              4,
              R"({"dataId":"o1","devId":"bfcepassive000000003","status":[{"code":"switch_1","value":false,"t":1000}]})")
          .ok());
  REQUIRE(w.wait([&] {
    auto s = w.state("passive");
    return s.is_object() && s.contains("switch_1") && s["switch_1"] == false;
  }));

  // Malformed: not JSON, and an envelope whose ciphertext does not decrypt. Each is reported on
  // bridge/logging with its reason, and the stream goes on.
  size_t mark = w.seen.size();
  REQUIRE(w.openhub->publish_raw("this is not an envelope").ok());
  auto bad = w.find_json("tuya2mqtt/bridge/logging", mark, "openhub: message dropped (push.bad_envelope)");
  REQUIRE(bad.is_object());
  CHECK(bad["level"] == "warning");
  mark = w.seen.size();
  REQUIRE(w.openhub->publish_raw(cloud::push::make_envelope(4, "AAAAAAAAAAAAAAAAAAAA", 1700000000200)).ok());
  CHECK(w.find_json("tuya2mqtt/bridge/logging", mark, "openhub: message dropped (push.decrypt_failed)")
            .is_object());

  REQUIRE(
      w.openhub
          ->publish(
              4,
              R"({"dataId":"o2","devId":"bfcepassive000000003","status":[{"code":"switch_1","value":true,"t":2000}]})",
              "1.0", 1700000000300)
          .ok());
  REQUIRE(w.wait([&] {
    auto s = w.state("passive");
    return s.is_object() && s["switch_1"] == true;
  }));

  // Protocol 20: online, offline, online.
  REQUIRE(w.openhub
              ->publish(
                  20, R"({"devId":"bfcepassive000000003","bizCode":"online","bizData":{"time":1700000000}})",
                  "1.0", 1700000000400)
              .ok());
  REQUIRE(w.wait([&] { return w.online("passive"); }));
  REQUIRE(w.openhub
              ->publish(
                  20, R"({"devId":"bfcepassive000000003","bizCode":"offline","bizData":{"time":1700000001}})",
                  "1.0", 1700000000500)
              .ok());
  REQUIRE(w.wait([&] { return w.offline("passive"); }));
  REQUIRE(w.openhub
              ->publish(
                  20, R"({"devId":"bfcepassive000000003","bizCode":"online","bizData":{"time":1700000002}})",
                  "1.0", 1700000000600)
              .ok());
  REQUIRE(w.wait([&] { return w.online("passive"); }));
  // The open-hub password (and so the AES key) never appears on MQTT.
  for (const auto& m : w.seen) CHECK(m.payload.find(w.openhub->options().password) == std::string::npos);
}

}  // namespace t2m_cloud_test

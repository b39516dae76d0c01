// BridgeRequests through the gateway core: rename, remove, add, options, scan, health_check and unknown
// requests, each answered on bridge/response with the transaction echoed, and firmware requests handed to
// the cloud.
#include "gateway/bridge_requests.h"

#include <doctest/doctest.h>

#include "tests/gateway/gateway_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_bridge_requests_test {

using namespace t2m;
using namespace t2m::gw;
using namespace t2m::gw::testing;
using nlohmann::json;

TEST_CASE("rename moves the topics, clears the old retained ones and persists") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  h.client.inject("t2m/bridge/request/device/rename",
                  R"({"from":"plug","to":"kitchen/kettle","transaction":5})");
  auto r = h.last_json("t2m/bridge/response/device/rename");
  CHECK(r["status"] == "ok");
  CHECK(r["transaction"] == 5);
  CHECK_FALSE(h.client.has_retained("t2m/plug"));
  CHECK_FALSE(h.client.has_retained("t2m/plug/availability"));
  CHECK(h.client.has_retained("t2m/kitchen/kettle"));
  CHECK(h.client.retained.at("t2m/kitchen/kettle/availability") == R"({"state":"online"})");
  REQUIRE_FALSE(h.store.saved.empty());
  CHECK(h.store.saved.back().find_device(PLUG)->name == "kitchen/kettle");
  CHECK(h.events_of("device_renamed") == 1);
  // Bad names are refused with a reason, and so are names in use.
  h.client.inject("t2m/bridge/request/device/rename", R"({"from":"kitchen/kettle","to":"a/+/b"})");
  CHECK(h.last_json("t2m/bridge/response/device/rename")["status"] == "error");
  h.client.inject("t2m/bridge/request/device/rename", R"({"from":"kitchen/kettle","to":"roamer"})");
  CHECK(h.last_json("t2m/bridge/response/device/rename")["error"].get<std::string>().find("already used") !=
        std::string::npos);
}

TEST_CASE("remove stops the session and clears retained topics; add starts a new one") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  REQUIRE(h.transport_to("127.0.9.1") != nullptr);
  std::shared_ptr<TransportRecord> record;
  for (const auto& r : h.factory.records)
    if (r->alive && r->host == "127.0.9.1") record = r;
  REQUIRE(record != nullptr);
  h.client.inject("t2m/bridge/request/device/remove", R"({"id":"plug"})");
  CHECK(h.last_json("t2m/bridge/response/device/remove")["status"] == "ok");
  CHECK(record->closed);
  CHECK(h.transport_to("127.0.9.1") == nullptr);
  CHECK_FALSE(h.client.has_retained("t2m/plug"));
  CHECK(h.state().state_of("plug").is_null());
  CHECK(h.store.saved.back().find_device(PLUG) == nullptr);

  const size_t before = h.factory.created.size();
  h.client.inject(
      "t2m/bridge/request/device/add",
      R"({"id":"bfnew00000000000009","local_key":"newKey0000000009","address":"127.0.9.9","version":"3.3","name":"fresh"})");
  auto r = h.last_json("t2m/bridge/response/device/add");
  CHECK(r["status"] == "ok");
  CHECK(h.factory.created.size() == before + 1);
  CHECK(h.factory.last().host() == "127.0.9.9");
  CHECK(h.client.retained.at("t2m/fresh/availability") == R"({"state":"offline"})");
  // The key is not echoed anywhere on MQTT.
  for (const auto& m : h.client.published) CHECK(m.payload.find("newKey0000000009") == std::string::npos);
  h.client.inject("t2m/bridge/request/device/add", R"({"id":"bfnew00000000000009","local_key":"short"})");
  CHECK(h.last_json("t2m/bridge/response/device/add")["status"] == "error");
}

TEST_CASE("options: the device restarts with its new options, keeps its state, the key is not echoed") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  h.client.inject("t2m/bridge/request/device/options",
                  R"({"id":"plug","options":{"name":"lamp","poll_interval":30},"transaction":"o"})");
  auto r = h.last_json("t2m/bridge/response/device/options");
  REQUIRE(r["status"] == "ok");
  CHECK(r["data"]["options"]["name"] == "lamp");
  CHECK_FALSE(r["data"]["options"].contains("local_key"));
  CHECK(json::parse(h.client.retained.at("t2m/lamp"))["switch_1"] == true);
  CHECK_FALSE(h.client.has_retained("t2m/plug"));
  h.client.inject("t2m/bridge/request/device/options", R"({"id":"lamp","options":{"id":"x"}})");
  CHECK(h.last_json("t2m/bridge/response/device/options")["status"] == "error");
}

TEST_CASE("scan sends the discovery request and lists what was heard") {
  Harness h;
  proto::Announcement a;
  a.gw_id = "bfstranger0000000099";
  a.ip = "127.0.9.99";
  h.gateway->on_announcement(a, "127.0.9.99");
  h.client.inject("t2m/bridge/request/scan", R"({"transaction":1})");
  auto r = h.last_json("t2m/bridge/response/scan");
  CHECK(h.scanner.scans == 1);
  CHECK(r["data"]["request_sent"] == true);
  REQUIRE(r["data"]["heard"].size() == 1);
  CHECK(r["data"]["heard"][0]["known"] == false);
}

TEST_CASE("health_check and unknown requests") {
  Harness h;
  h.client.inject("t2m/bridge/request/health_check", R"({"transaction":"t1"})");
  auto r = h.last_json("t2m/bridge/response/health_check");
  CHECK(r["status"] == "ok");
  CHECK(r["transaction"] == "t1");
  CHECK(r["data"]["devices"]["total"] == 4);
  CHECK_FALSE(r["data"].contains("cloud"));  // no cloud configured
  h.client.inject("t2m/bridge/request/frobnicate", "{}");
  auto u = h.last_json("t2m/bridge/response/frobnicate");
  CHECK(u["status"] == "error");
  CHECK(h.registry().stats().errors.at("unknown_request") == 1);
}

TEST_CASE("health_check carries the cloud link's push state when there is one") {
  Harness h(HarnessOptions{.cloud = true});
  h.client.inject("t2m/bridge/request/health_check", R"({"transaction":2})");
  auto r = h.last_json("t2m/bridge/response/health_check");
  CHECK(h.cloud.health_asked == 1);
  CHECK(r["data"]["cloud"]["push"]["state"] == "connected");
  CHECK(r["data"]["cloud"]["push_events"] == 3);
}

TEST_CASE("firmware requests go to the cloud, or are refused without one") {
  {
    Harness h(HarnessOptions{.cloud = true});
    h.client.inject("t2m/bridge/request/device/ota_update/check", R"({"id":"plug","transaction":3})");
    auto r = h.last_json("t2m/bridge/response/device/ota_update/check");
    CHECK(r["status"] == "ok");
    CHECK(r["transaction"] == 3);
    CHECK(h.cloud.firmware_paths == std::vector<std::string>{"device/ota_update/check"});
  }
  Harness h;
  h.client.inject("t2m/bridge/request/device/ota_update/update", R"({"id":"plug"})");
  CHECK(h.last_json("t2m/bridge/response/device/ota_update/update")["error"].get<std::string>().find(
            "need the cloud") != std::string::npos);
}

}  // namespace t2m_bridge_requests_test

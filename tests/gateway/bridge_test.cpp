#include "gateway/bridge.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

#include "tests/fakes/fake_mqtt_client.h"
#include "tests/gateway/fake_device.h"
#include "tests/gateway/fake_transport.h"

using namespace t2m;
using namespace t2m::gw;
using namespace t2m::gw::testing;
using nlohmann::json;

namespace {

const std::string PLUG = "bfplug00000000000001";
const std::string PLUG_KEY = "plugKey000000001";
const std::string GW = "bfgw0000000000000002";
const std::string GW_KEY = "gwKey00000000002";

config::Config make_config() {
  json doc = json::parse(R"({
    "mqtt": {"base_topic": "t2m"},
    "devices": [
      {"id": "bfplug00000000000001", "local_key": "plugKey000000001", "address": "127.0.9.1", "version": "3.3",
       "name": "plug", "category": "cz"},
      {"id": "bfgw0000000000000002", "local_key": "gwKey00000000002", "address": "127.0.9.2", "version": "3.3",
       "name": "gateway", "category": "wg2"},
      {"id": "bfsub000000000000003", "cid": "cid03", "parent": "bfgw0000000000000002", "name": "sub", "category": "kg"},
      {"id": "bfauto00000000000004", "local_key": "autoKey000000004", "address": "auto", "version": "3.3",
       "name": "roamer", "category": "cz"}
    ]})");
  auto c = config::parse_config(doc);
  REQUIRE(c.ok());
  return c.value();
}

struct Harness {
  FakeTimers timers;
  FakeTransportFactory factory;
  mqtt::FakeMqttClient client;
  mqtt::Publisher publisher{client};
  std::vector<config::Config> saved;
  std::vector<std::string> changed;
  int scans = 0;
  std::unique_ptr<Bridge> bridge;

  explicit Harness(const std::function<void(Bridge::Hooks&)>& customize = {}) {
    Bridge::Hooks hooks;
    hooks.save_config = [this](const config::Config& c) {
      saved.push_back(c);
      return Status{};
    };
    hooks.on_device_changed = [this](const std::string& id) { changed.push_back(id); };
    hooks.send_discovery_request = [this] {
      ++scans;
      return Status{};
    };
    auto rnd = [](uint8_t* out, size_t n) {
      for (size_t i = 0; i < n; ++i) out[i] = 7;
    };
    if (customize) customize(hooks);
    bridge =
        std::make_unique<Bridge>(Bridge::Deps{timers, factory, rnd, client, publisher}, make_config(), hooks);
    mqtt::ClientHandlers h;
    h.on_connected = [this](bool) { bridge->on_mqtt_connected(); };
    h.on_message = [this](mqtt::Message m) { bridge->on_mqtt_message(m); };
    REQUIRE(client.connect(mqtt::ConnectOptions{}, h).ok());
    client.simulate_connect();
    bridge->start();
  }

  FakeTransport* transport_to(const std::string& host) { return factory.live_to(host); }

  // Connects the device at `host` and answers its first query.
  Device online(const std::string& host, const std::string& id, const std::string& key, const json& dps) {
    Device d(proto::Version::V3_3, false, id, key);
    FakeTransport* t = transport_to(host);
    REQUIRE(t != nullptr);
    t->accept();
    d.read(*t);
    d.send(*t, proto::Command::DP_QUERY, d.report(dps));
    return d;
  }

  json last_json(const std::string& topic) {
    auto m = client.last_published(topic);
    INFO("nothing on ", topic);
    REQUIRE(m.has_value());
    return json::parse(m->payload);
  }
};

}  // namespace

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
  CHECK(h.bridge->device_online("plug"));
}

TEST_CASE("set by code and by id reach the device; set/result answers with the written DPs") {
  Harness h;
  Device d = h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
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
  const auto& errors = h.bridge->stats().errors;
  CHECK(errors.at("mqtt_payload_invalid_json") == 1);
  CHECK(errors.at("unknown_device") == 1);
  CHECK(errors.at("read_only") == 1);
  CHECK(h.bridge->stats().command_errors == 3);
}

TEST_CASE("sub-devices: reports by cid land on the sub-device, commands carry its cid") {
  Harness h;
  Device gw = h.online("127.0.9.2", GW, GW_KEY, json{{"1", true}});
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
  CHECK(h.client.published_to("t2m/bridge/event").back().payload.find("unknown_sub_device") !=
        std::string::npos);
}

TEST_CASE("devices of one category share one model object") {
  Harness h;
  const auto* plug = h.bridge->model_of("plug");
  const auto* roamer = h.bridge->model_of("roamer");
  const auto* sub = h.bridge->model_of("sub");
  REQUIRE(plug != nullptr);
  REQUIRE(roamer != nullptr);
  REQUIRE(sub != nullptr);
  CHECK(plug->shares_with(*roamer));
  CHECK_FALSE(plug->shares_with(*sub));
}

TEST_CASE("bridge/devices text is the devices document, also for devices sharing a model") {
  Harness h;
  const json doc = h.bridge->devices_json();
  REQUIRE(doc.size() == 4);
  const json text = json::parse(h.bridge->devices_payload());
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
}

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
  REQUIRE_FALSE(h.saved.empty());
  CHECK(h.saved.back().find_device(PLUG)->name == "kitchen/kettle");
  // Bad names are refused with a reason.
  h.client.inject("t2m/bridge/request/device/rename", R"({"from":"kitchen/kettle","to":"a/+/b"})");
  CHECK(h.last_json("t2m/bridge/response/device/rename")["status"] == "error");
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
  CHECK(h.bridge->state_of("plug").is_null());
  CHECK(h.saved.back().find_device(PLUG) == nullptr);

  const size_t before = h.factory.created.size();
  h.client.inject(
      "t2m/bridge/request/device/add",
      R"({"id":"bfnew00000000000009","local_key":"newKey0000000009","address":"127.0.9.9","version":"3.3","name":"fresh"})");
  auto r = h.last_json("t2m/bridge/response/device/add");
  CHECK(r["status"] == "ok");
  CHECK(h.factory.created.size() == before + 1);
  CHECK(h.factory.last().host() == "127.0.9.9");
  // The key is not echoed anywhere on MQTT.
  for (const auto& m : h.client.published) CHECK(m.payload.find("newKey0000000009") == std::string::npos);
  h.client.inject("t2m/bridge/request/device/add", R"({"id":"bfnew00000000000009","local_key":"short"})");
  CHECK(h.last_json("t2m/bridge/response/device/add")["status"] == "error");
}

TEST_CASE("broadcasts start devices with address auto and report unknown ones") {
  Harness h;
  CHECK(h.transport_to("127.0.9.4") == nullptr);
  proto::Announcement a;
  a.gw_id = "bfauto00000000000004";
  a.ip = "127.0.9.4";
  a.version = proto::Version::V3_3;
  h.bridge->on_announcement(a, "127.0.9.4");
  REQUIRE(h.transport_to("127.0.9.4") != nullptr);
  proto::Announcement stranger;
  stranger.gw_id = "bfstranger0000000099";
  stranger.ip = "127.0.9.99";
  h.bridge->on_announcement(stranger, "127.0.9.99");
  h.bridge->on_announcement(stranger, "127.0.9.99");
  size_t announces = 0;
  for (const auto& m : h.client.published_to("t2m/bridge/event"))
    if (m.payload.find("device_announce") != std::string::npos) ++announces;
  CHECK(announces == 1);
  h.client.inject("t2m/bridge/request/scan", R"({"transaction":1})");
  auto r = h.last_json("t2m/bridge/response/scan");
  CHECK(h.scans == 1);
  CHECK(r["data"]["heard"].size() == 2);
}

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
}

TEST_CASE("health_check carries the cloud link's push state when there is one") {
  int asked = 0;
  Harness h([&](Bridge::Hooks& hooks) {
    hooks.cloud_health = [&] {
      ++asked;
      return json{{"push", {{"transport", "openhub"}, {"state", "connected"}}}, {"push_events", 3}};
    };
  });
  h.client.inject("t2m/bridge/request/health_check", R"({"transaction":2})");
  auto r = h.last_json("t2m/bridge/response/health_check");
  CHECK(asked == 1);
  CHECK(r["data"]["cloud"]["push"]["state"] == "connected");
  CHECK(r["data"]["cloud"]["push_events"] == 3);
}

TEST_CASE("stop publishes every device and the bridge offline") {
  Harness h;
  h.online("127.0.9.1", PLUG, PLUG_KEY, json{{"1", true}});
  h.bridge->stop();
  CHECK(h.client.retained.at("t2m/plug/availability") == R"({"state":"offline"})");
  CHECK(h.client.retained.at("t2m/bridge/state") == R"({"state":"offline"})");
}

// DeviceRegistry: shared models, broadcasts that start devices with address auto, learned modes kept in
// the store, wrong keys handed to the key source, fresh keys, and life-cycle errors as values.
#include "gateway/device_registry.h"

#include <doctest/doctest.h>

#include "tests/fakes/fake_timers.h"
#include "tests/gateway/gateway_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_device_registry_test {

using namespace t2m;
using namespace t2m::gw;
using namespace t2m::gw::testing;
using nlohmann::json;

TEST_CASE("devices of one category share one model object") {
  Harness h;
  const Device* plug = h.registry().find("plug");
  const Device* roamer = h.registry().find("roamer");
  const Device* sub = h.registry().find("sub");
  REQUIRE(plug != nullptr);
  REQUIRE(roamer != nullptr);
  REQUIRE(sub != nullptr);
  CHECK(plug->model.shares_with(roamer->model));
  CHECK_FALSE(plug->model.shares_with(sub->model));
  CHECK(sub->parent == h.registry().find(GW));
  CHECK(h.registry().find(GW)->children == std::vector<Device*>{h.registry().find("sub")});
}

TEST_CASE("broadcasts start devices with address auto and report unknown ones once") {
  Harness h;
  CHECK(h.transport_to("127.0.9.4") == nullptr);
  proto::Announcement a;
  a.gw_id = "bfauto00000000000004";
  a.ip = "127.0.9.4";
  a.version = proto::Version::V3_3;
  h.gateway->on_announcement(a, "127.0.9.4");
  REQUIRE(h.transport_to("127.0.9.4") != nullptr);
  proto::Announcement stranger;
  stranger.gw_id = "bfstranger0000000099";
  stranger.ip = "127.0.9.99";
  h.gateway->on_announcement(stranger, "127.0.9.99");
  h.gateway->on_announcement(stranger, "127.0.9.99");
  CHECK(h.events_of("device_announce") == 1);
  CHECK(h.registry().heard().size() == 2);
}

TEST_CASE("a wrong key asks the key source; a fresh key is kept and persisted") {
  Harness h(HarnessOptions{.cloud = true});
  Device* plug = h.registry().find(PLUG);
  REQUIRE(plug != nullptr);
  // A device with another key answers with frames the gateway cannot read.
  FakeDevice liar(proto::Version::V3_3, false, PLUG, "otherKey00000000");
  FakeTransport* t = h.transport_to("127.0.9.1");
  REQUIRE(t != nullptr);
  t->accept();
  liar.send(*t, proto::Command::DP_QUERY, liar.report(json{{"1", true}}));
  CHECK(h.cloud.key_requests == std::vector<std::string>{PLUG});
  CHECK(plug->errors.count("wrong_key") == 1);
  CHECK(h.events_of("device_error") == 1);

  CHECK(h.registry().update_local_key(PLUG, "otherKey00000000"));
  CHECK_FALSE(h.registry().update_local_key(PLUG, "otherKey00000000"));  // unchanged
  CHECK_FALSE(h.registry().update_local_key("nobody", "otherKey00000000"));
  CHECK(h.store.saved.back().find_device(PLUG)->local_key == "otherKey00000000");
}

TEST_CASE("life-cycle errors are values: unknown devices, taken names, duplicate ids") {
  Harness h;
  CHECK(h.registry().remove("nobody").error().code == "unknown_device");
  CHECK(h.registry().rename("plug", "roamer").error().code == "name_taken");
  CHECK(h.registry().add(json{{"id", PLUG}}).error().code == "exists");
  CHECK(h.registry().reconfigure("plug", json{{"id", "x"}}).error().code == "bad_request");
  CHECK(h.store.saved.empty());  // nothing changed, nothing saved
  auto r = h.registry().rename("plug", "plug");
  REQUIRE(r.ok());
  CHECK(r->from == "plug");
}

TEST_CASE("session timings come from the registry's deps") {
  FakeTimers timers;
  FakeTransportFactory factory;
  SessionTimings t;
  t.connect_timeout_ms = 50;
  t.backoff_min_ms = 10;
  DeviceRegistry reg(
      {timers, factory, [](uint8_t* out, size_t n) { std::fill(out, out + n, 1); }, nullptr, t},
      make_config());
  struct Sink final : SessionEvents {
    std::vector<std::string> errors;
    void on_session_report(Device&, const json&, const std::optional<std::string>&) override {}
    void on_session_link(Device&, bool, const std::string&) override {}
    void on_session_error(Device&, const Error& e) override { errors.push_back(e.code); }
    void on_session_mode(Device&, proto::Version, bool) override {}
  } sink;
  reg.start(sink);
  const size_t first = factory.created.size();
  REQUIRE(first > 0);
  // The device never accepts: after 50 ms the connect times out, after 10 ms more it is tried again.
  timers.advance(50);
  timers.advance(20);
  CHECK(factory.created.size() > first);
  reg.stop();
}

TEST_CASE("the configuration's session section sets every session's timings") {
  // Unset, the configuration gives the sessions' own defaults.
  CHECK(session_timings(config::SessionConfig{}) == SessionTimings{});
  json doc = to_json(make_config());
  doc["session"] = {{"connect_timeout", "2s"},
                    {"response_timeout", "800ms"},
                    {"reconnect_min", "300ms"},
                    {"reconnect_max", "9s"},
                    {"offline_command_timeout", "4s"}};
  auto cfg = config::parse_config(doc);
  REQUIRE(cfg.ok());
  const SessionTimings t = session_timings(cfg->session);
  CHECK(t.connect_timeout_ms == 2000);
  CHECK(t.response_timeout_ms == 800);
  CHECK(t.backoff_min_ms == 300);
  CHECK(t.backoff_max_ms == 9000);
  CHECK(t.offline_command_timeout_ms == 4000);

  FakeTimers timers;
  FakeTransportFactory factory;
  DeviceRegistry reg(
      {timers, factory, [](uint8_t* out, size_t n) { std::fill(out, out + n, 1); }, nullptr, t}, *cfg);
  struct Sink final : SessionEvents {
    std::vector<std::string> errors;
    void on_session_report(Device&, const json&, const std::optional<std::string>&) override {}
    void on_session_link(Device&, bool, const std::string&) override {}
    void on_session_error(Device&, const Error& e) override { errors.push_back(e.code); }
    void on_session_mode(Device&, proto::Version, bool) override {}
  } sink;
  reg.start(sink);
  FakeTransport* plug = factory.live_to("127.0.9.1");
  REQUIRE(plug != nullptr);
  plug->accept();  // connected, but the status query is never answered
  REQUIRE_FALSE(plug->written.empty());
  timers.advance(799);
  CHECK(sink.errors.empty());
  CHECK(factory.live_to("127.0.9.1") == plug);
  timers.advance(1);  // the configured 800 ms, not the default 3 s
  CHECK(sink.errors == std::vector<std::string>{"no_answer"});
  CHECK(factory.live_to("127.0.9.1") == nullptr);
  reg.stop();
}

}  // namespace t2m_device_registry_test

// DeviceSession, the request queue (gateway/device_session_queue.cpp): idle heartbeats, split writes,
// offline expiry, retries and timeouts.
#include "gateway/device_session.h"

#include <doctest/doctest.h>

#include "protocol/payload.h"
#include "tests/gateway/fake_device.h"
#include "tests/gateway/session_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_device_session_queue_test {

using namespace t2m;
using namespace t2m::gw;
using nlohmann::json;
using t2m::gw::testing::cmd_of;
using t2m::gw::testing::FakeDevice;
using namespace t2m::gw::testing::session;

TEST_CASE("heartbeat after idle; a missing answer drops the link and it comes back") {
  Harness h(options(proto::Version::V3_3));
  FakeDevice d(proto::Version::V3_3);
  bring_online(h, d);
  auto* t = &h.factory.last();
  h.timers.advance(10000);
  d.read(*t);
  REQUIRE(d.received.back().cmd == cmd_of(proto::Command::HEART_BEAT));
  d.send(*t, proto::Command::HEART_BEAT, "");
  CHECK(h.session->online());
  h.timers.advance(10000);
  d.read(*t);
  REQUIRE(d.received.back().cmd == cmd_of(proto::Command::HEART_BEAT));
  h.timers.advance(3000);  // no answer
  CHECK_FALSE(h.session->online());
  REQUIRE(h.links.size() == 2);
  CHECK_FALSE(h.links[1].first);
  const size_t before = h.factory.created.size();
  h.timers.advance(2000);  // back-off is 1 s +-25%
  REQUIRE(h.factory.created.size() == before + 1);
  FakeDevice d2(proto::Version::V3_3);
  auto& t2 = h.factory.last();
  t2.accept();
  d2.read(t2);
  d2.send(t2, proto::Command::DP_QUERY, d2.report(json{{"1", true}}));
  CHECK(h.session->online());
}

TEST_CASE("max_dps_per_write splits a write and reports once") {
  auto o = options(proto::Version::V3_3);
  o.max_dps_per_write = 1;
  Harness h(o);
  FakeDevice d(proto::Version::V3_3);
  bring_online(h, d);
  int calls = 0;
  h.session->set_dps(json{{"1", true}, {"9", 60}}, std::nullopt, [&](const Status& s) {
    ++calls;
    CHECK(s.ok());
  });
  auto& t = h.factory.last();
  d.read(t);
  REQUIRE(d.received.back().cmd == cmd_of(proto::Command::CONTROL));
  CHECK(proto::parse_control(d.received.back().payload)->dps.size() == 1);
  d.send(t, proto::Command::CONTROL, "");
  CHECK(calls == 0);
  d.read(t);
  CHECK(proto::parse_control(d.received.back().payload)->dps.size() == 1);
  d.send(t, proto::Command::CONTROL, "");
  CHECK(calls == 1);
}

TEST_CASE("a write to an offline device fails with a clear error after the offline timeout") {
  auto o = options(proto::Version::V3_3);
  o.offline_command_timeout_ms = 2000;
  Harness h(o);
  h.session->start();
  h.factory.last().refuse(-111);  // ECONNREFUSED
  CHECK(h.has_error("connect_failed"));
  std::optional<Status> result;
  h.session->set_dps(json{{"1", true}}, std::nullopt, [&](const Status& s) { result = s; });
  h.timers.advance(1300);  // past the first back-off (1 s +-25%)
  REQUIRE(h.factory.created.size() == 2);
  h.factory.last().refuse(-111);  // the reconnect fails too
  CHECK_FALSE(result.has_value());
  h.timers.advance(1000);
  REQUIRE(result.has_value());
  CHECK_FALSE(result->ok());
  CHECK(result->error().code == "offline");
}

TEST_CASE("an unanswered write is retried, then fails with a timeout") {
  Harness h(options(proto::Version::V3_3));
  FakeDevice d(proto::Version::V3_3);
  bring_online(h, d);
  std::optional<Status> result;
  h.session->set_dps(json{{"1", true}}, std::nullopt, [&](const Status& s) { result = s; });
  auto& t = h.factory.last();
  d.read(t);
  h.timers.advance(3000);
  d.read(t);
  CHECK(d.received.size() == 3);  // query, control, control again
  h.timers.advance(3000);
  REQUIRE(result.has_value());
  CHECK(result->error().code == "timeout");
}

}  // namespace t2m_device_session_queue_test

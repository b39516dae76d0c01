// DeviceSession, the link side (gateway/device_session.cpp): connect and resync, version probing and
// the 3.4/3.5 negotiation, wrong keys, device22, garbage, stop. The queue is device_session_queue_test.cpp.
#include "gateway/device_session.h"

#include <doctest/doctest.h>

#include "protocol/payload.h"
#include "tests/fakes/fake_timers.h"
#include "tests/gateway/fake_device.h"
#include "tests/gateway/session_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_device_session_test {

using namespace t2m;
using namespace t2m::gw;
using nlohmann::json;
using t2m::gw::testing::cmd_of;
using t2m::gw::testing::FakeDevice;
using namespace t2m::gw::testing::session;

TEST_CASE("3.3: resync query on connect, reports, a write is acknowledged and echoed") {
  Harness h(options(proto::Version::V3_3));
  FakeDevice d(proto::Version::V3_3);
  bring_online(h, d, json{{"1", false}, {"2", 0}});
  REQUIRE(h.reports.size() == 1);
  CHECK(h.reports[0] == json{{"1", false}, {"2", 0}});
  REQUIRE(h.links.size() == 1);
  CHECK(h.links[0].first);

  std::optional<Status> result;
  h.session->set_dps(json{{"1", true}}, std::nullopt, [&](const Status& s) { result = s; });
  auto& t = h.factory.last();
  d.read(t);
  REQUIRE(d.received.back().cmd == cmd_of(proto::Command::CONTROL));
  auto ctl = proto::parse_control(d.received.back().payload);
  REQUIRE(ctl.ok());
  CHECK(ctl->dps == json{{"1", true}});
  CHECK_FALSE(result.has_value());
  d.send(t, proto::Command::CONTROL, "");
  REQUIRE(result.has_value());
  CHECK(result->ok());
  d.send(t, proto::Command::STATUS, d.report(json{{"1", true}}));
  CHECK(h.reports.back() == json{{"1", true}});
}

TEST_CASE("version auto: 3.3 unanswered, 3.4 negotiates and is remembered") {
  Harness h(options(std::nullopt));
  h.session->start();
  auto* t = &h.factory.last();
  t->accept();
  CHECK(t->written.size() == 1);  // the 3.3 probe query
  t->drop(0);                     // a 3.4 device closes on a frame it cannot read
  h.timers.advance(500);
  REQUIRE(h.factory.created.size() == 2);
  FakeDevice d(proto::Version::V3_4);
  t = &h.factory.last();
  t->accept();
  d.read(*t);  // START -> RESP
  d.read(*t);  // FINISH + query
  REQUIRE_FALSE(d.received.empty());
  CHECK(d.received.back().cmd == cmd_of(proto::Command::DP_QUERY_NEW));
  d.send(*t, proto::Command::DP_QUERY_NEW, d.report(json{{"20", true}}));
  CHECK(h.session->online());
  REQUIRE(h.learned.size() == 1);
  CHECK(h.learned[0].first == proto::Version::V3_4);
  CHECK(h.session->version() == proto::Version::V3_4);
  CHECK(h.reports.back() == json{{"20", true}});
}

TEST_CASE("3.5 session: negotiation, CONTROL_NEW write") {
  Harness h(options(proto::Version::V3_5));
  FakeDevice d(proto::Version::V3_5);
  bring_online(h, d);
  std::optional<Status> result;
  h.session->set_dps(json{{"1", false}}, std::nullopt, [&](const Status& s) { result = s; });
  auto& t = h.factory.last();
  d.read(t);
  CHECK(d.received.back().cmd == cmd_of(proto::Command::CONTROL_NEW));
  d.send(t, proto::Command::CONTROL_NEW, "");
  REQUIRE(result.has_value());
  CHECK(result->ok());
}

TEST_CASE("3.4 wrong key is reported as such, not as a wrong version") {
  Harness h(options(std::nullopt));
  h.session->start();
  h.factory.last().accept();
  h.factory.last().drop(0);  // 3.3 probe rejected
  h.timers.advance(500);
  auto& t = h.factory.last();
  t.accept();
  REQUIRE(t.written.size() == 1);  // START
  // A device with another key still answers START, protected with its own key (§5 step 2).
  proto::MessageCodec other(proto::Role::DEVICE, proto::Version::V3_4, to_bytes("XXXXXXXXXXXXXXXX"));
  const std::string nonce_and_hmac(48, 'z');
  auto resp = other.encode(cmd_of(proto::Command::SESS_KEY_NEG_RESP), nonce_and_hmac, 1);
  REQUIRE(resp.ok());
  t.deliver(resp.value());
  CHECK(h.has_error("wrong_key"));
  CHECK_FALSE(h.has_error("no_answer"));
  CHECK_FALSE(h.session->online());
  CHECK(h.session->version() == proto::Version::V3_4);  // the version was right
}

TEST_CASE("device22: a 'data unvalid' answer switches to CONTROL_NEW queries with null DPs") {
  Harness h(options(proto::Version::V3_3));
  FakeDevice d(proto::Version::V3_3);
  h.session->start();
  auto& t = h.factory.last();
  t.accept();
  d.read(t);
  REQUIRE(d.received.back().cmd == cmd_of(proto::Command::DP_QUERY));
  d.send(t, proto::Command::DP_QUERY, "json obj data unvalid", 1);
  d.codec.set_device22(true);
  d.read(t);
  REQUIRE(d.received.back().cmd == cmd_of(proto::Command::CONTROL_NEW));
  auto q = proto::parse_control(d.received.back().payload);
  REQUIRE(q.ok());
  CHECK(q->dps == json{{"1", nullptr}, {"2", nullptr}});
  d.send(t, proto::Command::STATUS, d.report(json{{"1", true}, {"2", 5}}));
  CHECK(h.session->device22());
  REQUIRE_FALSE(h.learned.empty());
  CHECK(h.learned.back().second);
  CHECK(h.reports.back() == json{{"1", true}, {"2", 5}});
}
TEST_CASE("garbage from a device resets its link") {
  Harness h(options(proto::Version::V3_3));
  FakeDevice d(proto::Version::V3_3);
  bring_online(h, d);
  // A frame that claims an absurd length: rejected without allocating, then the link is reset.
  Bytes bad = hex_literal("000055aa0000000100000008ffffff00");
  h.factory.last().deliver(bad);
  CHECK(h.has_error("bad_frame"));
  CHECK_FALSE(h.session->online());
}

TEST_CASE("stop fails queued commands and closes") {
  Harness h(options(proto::Version::V3_3));
  h.session->start();
  std::optional<Status> result;
  h.session->set_dps(json{{"1", true}}, std::nullopt, [&](const Status& s) { result = s; });
  const auto record = h.factory.records.back();
  h.session->stop();
  REQUIRE(result.has_value());
  CHECK(result->error().code == "stopped");
  CHECK(record->closed);
}

TEST_CASE("version auto with a learned preference probes that version first") {
  auto o = options(std::nullopt);
  o.preferred_version = proto::Version::V3_5;
  Harness h(o);
  FakeDevice d(proto::Version::V3_5);
  bring_online(h, d);
  CHECK(h.factory.created.size() == 1);  // no 3.3 / 3.4 attempts before
  CHECK(h.session->version() == proto::Version::V3_5);
}

TEST_CASE("a known-version device that drops the link on the first frame is reported as a key problem") {
  Harness h(options(proto::Version::V3_4));
  h.session->start();
  h.factory.last().accept();
  h.factory.last().drop(0);  // closed right after START
  CHECK(h.has_error("wrong_key"));
  CHECK_FALSE(h.session->online());
}

}  // namespace t2m_device_session_test

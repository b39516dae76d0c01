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

TEST_CASE("bytes between frames are skipped and counted; the link stays") {
  Harness h(options(proto::Version::V3_3));
  FakeDevice d(proto::Version::V3_3);
  bring_online(h, d);
  CHECK(h.session->garbage_bytes() == 0);
  auto& t = h.factory.last();
  auto frame = d.codec.encode(cmd_of(proto::Command::STATUS), d.report(json{{"1", false}}), d.seq++, d.iv());
  REQUIRE(frame.ok());
  Bytes noisy = to_bytes("line noise");
  noisy.insert(noisy.end(), frame.value().begin(), frame.value().end());
  t.deliver(noisy);
  CHECK(h.reports.back() == json{{"1", false}});
  CHECK(h.session->garbage_bytes() == 10);
  CHECK(h.session->online());
  CHECK_FALSE(h.has_error("bad_frame"));
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

// A 3.4/3.5 negotiation that completes proves the local key: the device's answer carried an HMAC made
// with it. A corrupted frame or a dropped link afterwards is a link problem, retried at the usual pace,
// never a "wrong key" (which would wait out the long wrong-key back-off and, with the cloud, fetch keys).
TEST_CASE("after a good 3.4/3.5 negotiation, a corrupted frame is a bad frame, not a wrong key") {
  for (const auto v : {proto::Version::V3_4, proto::Version::V3_5}) {
    CAPTURE(proto::to_string(v));
    Harness h(options(v));
    FakeDevice d(v);
    h.session->start();
    auto& t = h.factory.last();
    t.accept();
    d.read(t);  // START: the device answers
    d.read(t);  // FINISH, then the query
    REQUIRE_FALSE(d.received.empty());
    const auto q = d.received.back();
    auto good = d.codec.encode(q.cmd, d.report(json{{"1", true}}), d.seq++, d.iv());
    REQUIRE(good.ok());
    Bytes corrupt = good.value();
    corrupt[corrupt.size() / 2] ^= 0x5A;  // inside the encrypted payload: HMAC or GCM tag fails
    t.deliver(corrupt);
    CHECK(h.has_error("bad_frame"));
    CHECK_FALSE(h.has_error("wrong_key"));
    // The link stays; the next good answer brings the device online.
    t.deliver(good.value());
    CHECK(h.session->online());
  }
}

TEST_CASE(
    "a device that drops the link right after a good negotiation is retried soon, not as a key problem") {
  auto o = options(proto::Version::V3_4);
  // The first retry comes after backoff_min (±25%), a wrong key's after wrong_key_backoff (±25%).
  const uint32_t ordinary = o.backoff_min_ms * 2;
  REQUIRE(ordinary < o.wrong_key_backoff_ms / 2);
  Harness h(std::move(o));
  FakeDevice d(proto::Version::V3_4);
  h.session->start();
  auto& t = h.factory.last();
  t.accept();
  d.read(t);
  d.read(t);
  t.drop(0);  // closed on the query, after the key was proven
  CHECK_FALSE(h.has_error("wrong_key"));
  CHECK_FALSE(h.session->online());
  // Reconnects within the ordinary back-off, not the wrong-key one.
  h.timers.advance(ordinary);
  CHECK(h.factory.created.size() == 2);
}

}  // namespace t2m_device_session_test

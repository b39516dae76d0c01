#include "gateway/device_session.h"

#include <doctest/doctest.h>

#include "protocol/payload.h"
#include "tests/fakes/fake_timers.h"
#include "tests/gateway/fake_device.h"
#include "tests/gateway/fake_transport.h"

using namespace t2m;
using namespace t2m::gw;
using nlohmann::json;
using t2m::gw::testing::cmd_of;
using t2m::gw::testing::DEV;
using t2m::gw::testing::FakeDevice;
using t2m::gw::testing::FakeTransport;
using t2m::gw::testing::FakeTransportFactory;
using t2m::gw::testing::KEY;

namespace {

RandomSource counting_random() {
  auto n = std::make_shared<uint8_t>(0);
  return [n](uint8_t* out, size_t len) {
    for (size_t i = 0; i < len; ++i) out[i] = (*n)++;
  };
}

struct Harness {
  FakeTimers timers;
  FakeTransportFactory factory;
  std::vector<json> reports;
  std::vector<std::pair<bool, std::string>> links;
  std::vector<Error> errors;
  std::vector<std::pair<proto::Version, bool>> learned;
  std::unique_ptr<DeviceSession> session;

  explicit Harness(SessionOptions o) {
    DeviceSession::Callbacks cb;
    cb.on_report = [this](const json& dps, const std::optional<std::string>&) { reports.push_back(dps); };
    cb.on_link = [this](bool up, const std::string& why) { links.emplace_back(up, why); };
    cb.on_error = [this](const Error& e) { errors.push_back(e); };
    cb.on_mode_learned = [this](proto::Version v, bool d22) { learned.emplace_back(v, d22); };
    session = std::make_unique<DeviceSession>(std::move(o), timers, factory, counting_random(), cb);
  }
  bool has_error(const std::string& code) const {
    for (const auto& e : errors)
      if (e.code == code) return true;
    return false;
  }
};

SessionOptions options(std::optional<proto::Version> v) {
  SessionOptions o;
  o.device_id = DEV;
  o.local_key = to_bytes(KEY);
  o.host = "127.0.1.1";
  o.version = v;
  o.known_dp_ids = {"1", "2"};
  return o;
}

// Connects and answers the resync query so the session is online.
void bring_online(Harness& h, FakeDevice& d, const json& dps = json{{"1", true}}) {
  h.session->start();
  auto& t = h.factory.last();
  CHECK(t.host() == "127.0.1.1");
  CHECK(t.port() == 6668);
  t.accept();
  d.read(t);
  d.read(t);  // 3.4/3.5: FINISH then the query
  REQUIRE_FALSE(d.received.empty());
  const auto q = d.received.back();
  CHECK(q.cmd == proto::query_command(d.version, d.device22));
  d.send(t, static_cast<proto::Command>(q.cmd), d.report(dps));
  REQUIRE(h.session->online());
}

}  // namespace

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

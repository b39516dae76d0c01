// Fault injection (fault.cpp): every fault kind, as a correct client sees it.
#include <doctest/doctest.h>

#include "tests/sim/sim_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_fault_test {

using nlohmann::json;
using t2m::proto::Command;
using t2m::proto::Version;
using namespace t2m::sim;
using namespace t2m::sim::testing;

TEST_CASE("fault injection") {
  const std::string p33 = "bf33plug000000000002", p34 = "bf34plug000000000003", p35 = "bf35plug000000000004";
  Harness h({dev(p33, "3.3plugKey000002", Version::V3_3, Profile::PLUG),
             dev(p34, "3.4plugKey000003", Version::V3_4, Profile::PLUG),
             dev(p35, "3.5plugKey000004", Version::V3_5, Profile::PLUG)});
  auto fault = [](FaultKind k) {
    Fault f;
    f.kind = k;
    return f;
  };

  SUBCASE("close") {
    auto cl = h.connected(p33);
    CHECK(h.sim->inject(p33, fault(FaultKind::CLOSE)).ok());
    REQUIRE(run_until(&h.loop, [&] { return cl->closed; }));
    CHECK_FALSE(h.sim->connected(p33));
    CHECK_FALSE(h.sim->inject(p33, fault(FaultKind::CLOSE)).ok());  // nothing to close
  }
  SUBCASE("silence, then clear") {
    auto cl = h.connected(p34);
    CHECK(h.sim->inject(p34, fault(FaultKind::SILENCE)).ok());
    heartbeat(*cl);
    run_for(&h.loop, 300);
    CHECK(cl->count(Command::HEART_BEAT) == 0);
    CHECK_FALSE(cl->closed);
    CHECK(h.sim->inject(p34, fault(FaultKind::CLEAR)).ok());
    heartbeat(*cl);
    REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::HEART_BEAT) == 1; }));
  }
  SUBCASE("silence for a while ends by itself") {
    auto cl = h.connected(p33);
    Fault f = fault(FaultKind::SILENCE);
    f.ms = 200;
    CHECK(h.sim->inject(p33, f).ok());
    run_for(&h.loop, 300);
    heartbeat(*cl);
    REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::HEART_BEAT) == 1; }));
  }
  SUBCASE("delay") {
    auto cl = h.connected(p35);
    Fault f = fault(FaultKind::DELAY);
    f.ms = 300;
    CHECK(h.sim->inject(p35, f).ok());
    uint64_t t0 = uv_now(&h.loop);
    heartbeat(*cl);
    cl->send_cmd(Command::DP_QUERY_NEW, "{}");
    REQUIRE(run_until(&h.loop, [&] { return cl->received.size() == 2; }));
    CHECK(uv_now(&h.loop) - t0 >= 290);
    CHECK(cl->received[0].cmd == static_cast<uint32_t>(Command::HEART_BEAT));  // order kept
    CHECK(cl->received[1].cmd == static_cast<uint32_t>(Command::DP_QUERY_NEW));
  }
  SUBCASE("garbage between frames is skipped by a correct client") {
    auto cl = h.connected(p33);
    Fault f = fault(FaultKind::GARBAGE);
    f.bytes = 100;
    CHECK(h.sim->inject(p33, f).ok());
    heartbeat(*cl);
    REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::HEART_BEAT) == 1; }));
    CHECK(cl->skipped_bytes() >= 100);
  }
  SUBCASE("a corrupt frame fails its check in every frame kind") {
    auto c33 = h.connected(p33);
    auto c34 = h.connected(p34);
    auto c35 = h.connected(p35);
    for (const auto& id : {p33, p34, p35}) CHECK(h.sim->inject(id, fault(FaultKind::CORRUPT)).ok());
    REQUIRE(run_until(&h.loop, [&] {
      return !c33->decode_errors.empty() && !c34->decode_errors.empty() && !c35->decode_errors.empty();
    }));
    CHECK(c33->decode_errors[0] == t2m::proto::ErrorCode::BAD_CRC);
    CHECK(c34->decode_errors[0] == t2m::proto::ErrorCode::BAD_HMAC);
    CHECK(c35->decode_errors[0] == t2m::proto::ErrorCode::BAD_TAG);
    CHECK(c33->received.empty());
  }
  SUBCASE("an oversize frame header is rejected and the stream recovers") {
    auto cl = h.connected(p35);
    CHECK(h.sim->inject(p35, fault(FaultKind::OVERSIZE)).ok());
    heartbeat(*cl);
    REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::HEART_BEAT) == 1; }));
    REQUIRE_FALSE(cl->frame_errors.empty());
    CHECK(cl->frame_errors[0] == t2m::proto::ErrorCode::OVERSIZE);
  }
  SUBCASE("change_key: the connection drops, the old key no longer negotiates, the new one does") {
    auto cl = h.connected(p34);
    Fault f = fault(FaultKind::CHANGE_KEY);
    f.key = "NewKey^0123456{}";
    CHECK(h.sim->inject(p34, f).ok());
    REQUIRE(run_until(&h.loop, [&] { return cl->closed; }));
    auto old = h.client(p34);
    old->connect(h.sim->port_of(p34));
    REQUIRE(run_until(&h.loop, [&] { return old->closed || old->handshake_failed; }));
    CHECK_FALSE(old->ready());
    CHECK(h.counters(p34).handshake_failures == 1);
    auto fresh = h.client(p34, f.key);
    REQUIRE(run_until(&h.loop, [&] { return !h.sim->connected(p34); }));
    fresh->connect(h.sim->port_of(p34));
    REQUIRE(run_until(&h.loop, [&] { return fresh->ready(); }));
    CHECK(h.sim->current_key(p34) == f.key);
  }
  SUBCASE("change_key keeping the connection: frames under the old key are ignored") {
    auto cl = h.connected(p33);
    Fault f = fault(FaultKind::CHANGE_KEY);
    f.keep_connection = true;
    CHECK(h.sim->inject(p33, f).ok());
    CHECK(h.sim->current_key(p33) != "3.3plugKey000002");
    CHECK(h.sim->current_key(p33)->size() == 16);
    uint64_t before = h.counters(p33).decode_errors;
    cl->send_cmd(Command::DP_QUERY, t2m::proto::build_query(Version::V3_3, false, cl->target(), TIMESTAMP));
    REQUIRE(run_until(&h.loop, [&] { return h.counters(p33).decode_errors > before; }));
    run_for(&h.loop, 100);
    CHECK(cl->received.empty());
    CHECK_FALSE(cl->closed);
  }
  SUBCASE("reboot: dropped, refused while down, back with its initial state") {
    auto cl = h.connected(p33);
    cl->send_cmd(Command::CONTROL,
                 t2m::proto::build_control(Version::V3_3, cl->target(), TIMESTAMP, json{{"1", false}}));
    REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
    Fault f = fault(FaultKind::REBOOT);
    f.ms = 500;
    CHECK(h.sim->inject(p33, f).ok());
    REQUIRE(run_until(&h.loop, [&] { return cl->closed; }));
    auto during = h.client(p33);
    during->connect(h.sim->port_of(p33));
    REQUIRE(run_until(&h.loop, [&] { return during->closed || during->connected; }));
    CHECK_FALSE(during->connected);
    CHECK(during->connect_status == UV_ECONNREFUSED);
    CHECK(h.sim->state(p33).value()["1"] == true);
    run_for(&h.loop, 600);
    auto after = h.connected(p33);
    after->send_cmd(Command::DP_QUERY,
                    t2m::proto::build_query(Version::V3_3, false, after->target(), TIMESTAMP));
    REQUIRE(run_until(&h.loop, [&] { return after->received.size() == 1; }));
    CHECK(report_dps(after->received[0])["1"] == true);
  }
  SUBCASE("foreign: a STATUS for another device arrives on this connection") {
    auto cl = h.connected(p34);
    Fault f = fault(FaultKind::FOREIGN);
    f.other_id = "bfsomeoneelse0000001";
    CHECK(h.sim->inject(p34, f).ok());
    REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
    auto r = t2m::proto::parse_report(cl->with_cmd(Command::STATUS)[0].payload);
    REQUIRE(r.ok());
    // 3.4 reports carry no devId ({"protocol":4,"data":{"dps"}}), 3.3 ones do; check the 3.3 variant too.
    auto c33 = h.connected(p33);
    CHECK(h.sim->inject(p33, f).ok());
    REQUIRE(run_until(&h.loop, [&] { return c33->count(Command::STATUS) == 1; }));
    auto r33 = t2m::proto::parse_report(c33->with_cmd(Command::STATUS)[0].payload);
    REQUIRE(r33.ok());
    CHECK(r33->dev_id == f.other_id);
  }
  CHECK(h.sim->totals().faults >= 1);
  h.finish();
}

}  // namespace t2m_fault_test

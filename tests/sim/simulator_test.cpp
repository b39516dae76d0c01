#include "tests/sim/src/simulator.h"

#include <doctest/doctest.h>

#include <memory>
#include <set>

#include "common/uv_handle.h"
#include "protocol/discovery.h"
#include "tests/sim/sim_client.h"

using nlohmann::json;
using t2m::proto::Command;
using t2m::proto::Version;
using namespace t2m::sim;
using t2m::sim::testing::run_for;
using t2m::sim::testing::run_until;
using t2m::sim::testing::SimClient;

namespace {

constexpr int64_t T = 1700000000;

DeviceSpec dev(std::string id, std::string key, Version v, Profile p, bool device22 = false) {
  DeviceSpec d;
  d.id = std::move(id);
  d.key = std::move(key);
  d.version = v;
  d.profile = p;
  d.device22 = device22;
  d.host = "127.0.0.1";
  d.port = 0;  // a free port
  return d;
}

// A loop and a started simulator; finish() stops everything and checks that no handle is left.
struct Harness {
  uv_loop_t loop{};
  std::unique_ptr<Simulator> sim;
  std::vector<std::unique_ptr<SimClient>> clients;

  explicit Harness(SimConfig c) {
    REQUIRE(uv_loop_init(&loop) == 0);
    sim = std::make_unique<Simulator>(&loop, std::move(c));
    auto st = sim->start();
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
  }
  explicit Harness(std::vector<DeviceSpec> devices) : Harness(config(std::move(devices))) {}
  static SimConfig config(std::vector<DeviceSpec> devices) {
    SimConfig c;
    c.devices = std::move(devices);
    return c;
  }
  // Clients belong to the harness so that they are gone before the loop is drained.
  SimClient* client(const std::string& id, std::optional<std::string> key = {}) {
    const DeviceSpec* s = sim->spec(id);
    REQUIRE(s != nullptr);
    clients.push_back(std::make_unique<SimClient>(&loop, s->version, id, key.value_or(s->key), s->device22));
    return clients.back().get();
  }
  // Connects (and negotiates for 3.4/3.5); REQUIREs success.
  SimClient* connected(const std::string& id) {
    auto* c = client(id);
    uint64_t hs = counters(id).handshakes;
    bool needs_key = t2m::proto::needs_session_key(sim->spec(id)->version);
    c->connect(sim->port_of(id));
    // Both sides done: the client has its session key and the device has taken the FINISH frame.
    REQUIRE(run_until(&loop, [&] {
      return c->closed || (c->ready() && sim->connected(id) && (!needs_key || counters(id).handshakes > hs));
    }));
    REQUIRE(c->ready());
    return c;
  }
  Counters counters(const std::string& id) { return sim->counters(id).value(); }
  void finish() {
    clients.clear();
    sim->stop();
    sim.reset();
    CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
  }
};

json report_dps(const t2m::proto::Message& m) {
  auto r = t2m::proto::parse_report(m.payload);
  REQUIRE_MESSAGE(r.ok(), m.payload);
  return r->dps;
}

// Index of the first message with `cmd` (optionally non-empty), or -1.
int index_of(const SimClient& c, Command cmd, bool want_ack) {
  for (size_t i = 0; i < c.received.size(); ++i) {
    if (c.received[i].cmd == static_cast<uint32_t>(cmd) && c.received[i].is_ack() == want_ack) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void heartbeat(SimClient& c) {
  c.send_cmd(Command::HEART_BEAT, t2m::proto::build_heartbeat(c.target()));
}

}  // namespace

TEST_CASE("each protocol variant: query, control -> ACK then STATUS, heartbeat") {
  struct Case {
    const char* id;
    const char* key;
    Version v;
    Profile p;
    const char* dp;
    json value;
  };
  const Case cases[] = {
      {"bf31plug000000000001", "3.1plugKey000001", Version::V3_1, Profile::PLUG, "1", false},
      {"bf33plug000000000002", "3.3plug`Key^0002", Version::V3_3, Profile::PLUG, "1", false},
      {"bf34bulb000000000004", "3.4bulbKey{0004}", Version::V3_4, Profile::BULB, "22", 420},
      {"bf35curtain000000005", "3.5curtainKey005", Version::V3_5, Profile::CURTAIN, "5", "back"},
  };
  std::vector<DeviceSpec> devs;
  for (const auto& c : cases) devs.push_back(dev(c.id, c.key, c.v, c.p));
  Harness h(devs);
  for (const auto& c : cases) {
    CAPTURE(c.id);
    auto cl = h.connected(c.id);
    // Query.
    uint32_t qcmd = t2m::proto::query_command(c.v, false);
    cl->send(qcmd, t2m::proto::build_query(c.v, false, cl->target(), T));
    REQUIRE(run_until(&h.loop, [&] { return !cl->received.empty(); }));
    CHECK(cl->received[0].cmd == qcmd);
    json dps = report_dps(cl->received[0]);
    CHECK(dps == h.sim->state(c.id).value());
    CHECK(dps.contains(c.dp));
    // Control: an empty ACK with the same command, then a STATUS with the written DP.
    uint32_t ccmd = t2m::proto::control_command(c.v);
    cl->send(ccmd, t2m::proto::build_control(c.v, cl->target(), T, json{{c.dp, c.value}}));
    REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) >= 1; }));
    int ack = index_of(*cl, static_cast<Command>(ccmd), true);
    int status = index_of(*cl, Command::STATUS, false);
    REQUIRE(ack >= 0);
    CHECK(ack < status);
    CHECK(report_dps(cl->received[static_cast<size_t>(status)])[c.dp] == c.value);
    CHECK(h.sim->state(c.id).value()[c.dp] == c.value);
    REQUIRE(h.sim->writes().size() >= 1);
    CHECK(h.sim->writes().back().device == c.id);
    CHECK(h.sim->writes().back().dps == json{{c.dp, c.value}});
    // Heartbeat: an empty reply.
    heartbeat(*cl);
    REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::HEART_BEAT) == 1; }));
    CHECK(cl->with_cmd(Command::HEART_BEAT)[0].is_ack());
    CHECK(cl->decode_errors.empty());
    Counters k = h.counters(c.id);
    CHECK(k.accepted == 1);
    CHECK(k.writes == 1);
    CHECK(k.queries == 1);
    CHECK(k.heartbeats == 1);
    CHECK(k.pushes == 1);
    CHECK(k.handshakes == (t2m::proto::needs_session_key(c.v) ? 1u : 0u));
    CHECK(k.frames_in == k.handshakes * 2 + 3);
  }
  CHECK(h.sim->totals().writes == 4);
  h.finish();
}

TEST_CASE("UPDATEDPS: ACK, then a STATUS with only the re-sampled DPs") {
  Harness h({dev("bf33plug000000000002", "3.3plugKey000002", Version::V3_3, Profile::PLUG)});
  auto cl = h.connected("bf33plug000000000002");
  cl->send_cmd(Command::UPDATEDPS, t2m::proto::build_updatedps({18, 19, 20}));
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
  CHECK(index_of(*cl, Command::UPDATEDPS, true) == 0);
  json dps = report_dps(cl->with_cmd(Command::STATUS)[0]);
  CHECK(dps.size() == 3);
  CHECK(dps.contains("18"));
  CHECK(dps.contains("19"));
  CHECK(dps.contains("20"));
  h.finish();
}

TEST_CASE("device22: a plain DP_QUERY gets 'json obj data unvalid'; the null-DP CONTROL_NEW query works") {
  const std::string id = "bf22plug00000000000003";
  Harness h({dev(id, "dev22plugKey0003", Version::V3_3, Profile::PLUG, true)});
  auto cl = h.connected(id);
  cl->codec().set_device22(false);
  cl->send_cmd(Command::DP_QUERY, t2m::proto::build_query(Version::V3_3, false, cl->target(), T));
  REQUIRE(run_until(&h.loop, [&] { return cl->received.size() == 1; }));
  CHECK(t2m::proto::is_device22_error(cl->received[0].payload));
  cl->codec().set_device22(true);
  uint32_t q = t2m::proto::query_command(Version::V3_3, true);
  CHECK(q == static_cast<uint32_t>(Command::CONTROL_NEW));
  cl->send(q, t2m::proto::build_query(Version::V3_3, true, cl->target(), T, {"1", "19", "20", "55"}));
  REQUIRE(run_until(&h.loop, [&] { return cl->received.size() == 2; }));
  CHECK(cl->received[1].cmd == q);
  json dps = report_dps(cl->received[1]);
  CHECK(dps.size() == 3);
  CHECK(dps["1"] == true);
  CHECK(h.sim->writes().empty());  // a query is not a write
  // Writes still use CONTROL.
  cl->send_cmd(Command::CONTROL,
               t2m::proto::build_control(Version::V3_3, cl->target(), T, json{{"1", false}}));
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
  CHECK(h.sim->state(id).value()["1"] == false);
  h.finish();
}

TEST_CASE("one client at a time: a second connection is reset, the first keeps working") {
  const std::string id = "bf33plug000000000002";
  Harness h({dev(id, "3.3plugKey000002", Version::V3_3, Profile::PLUG)});
  auto first = h.connected(id);
  auto second = h.client(id);
  second->connect(h.sim->port_of(id));
  REQUIRE(run_until(&h.loop, [&] { return second->closed; }));
  CHECK(h.counters(id).refused == 1);
  heartbeat(*first);
  REQUIRE(run_until(&h.loop, [&] { return first->count(Command::HEART_BEAT) == 1; }));
  CHECK_FALSE(first->closed);
  first->close();
  REQUIRE(run_until(&h.loop, [&] { return !h.sim->connected(id); }));
  CHECK(h.connected(id)->ready());
  CHECK(h.counters(id).accepted == 2);
  h.finish();
}

TEST_CASE("a silent client is dropped after the idle timeout; a chatty one is kept") {
  auto quiet = dev("bf33quiet00000000001", "3.3quietKey00001", Version::V3_3, Profile::PLUG);
  auto chatty = dev("bf34chatty0000000001", "3.4chattyKey0001", Version::V3_4, Profile::PLUG);
  quiet.idle_timeout_ms = 300;
  chatty.idle_timeout_ms = 300;
  Harness h({quiet, chatty});
  auto q = h.connected(quiet.id);
  auto c = h.connected(chatty.id);
  for (int i = 0; i < 6; ++i) {
    heartbeat(*c);
    run_for(&h.loop, 100);
  }
  REQUIRE(run_until(
      &h.loop, [&] { return q->closed; }, 2000));
  CHECK_FALSE(c->closed);
  CHECK(c->count(Command::HEART_BEAT) == 6);
  CHECK(h.counters(quiet.id).idle_closes == 1);
  CHECK(h.counters(chatty.id).idle_closes == 0);
  h.finish();
}

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
    cl->send_cmd(Command::DP_QUERY, t2m::proto::build_query(Version::V3_3, false, cl->target(), T));
    REQUIRE(run_until(&h.loop, [&] { return h.counters(p33).decode_errors > before; }));
    run_for(&h.loop, 100);
    CHECK(cl->received.empty());
    CHECK_FALSE(cl->closed);
  }
  SUBCASE("reboot: dropped, refused while down, back with its initial state") {
    auto cl = h.connected(p33);
    cl->send_cmd(Command::CONTROL,
                 t2m::proto::build_control(Version::V3_3, cl->target(), T, json{{"1", false}}));
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
    after->send_cmd(Command::DP_QUERY, t2m::proto::build_query(Version::V3_3, false, after->target(), T));
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

TEST_CASE("Zigbee gateway: sub-devices addressed by cid") {
  const std::string gw = "bf34gateway000000007";
  auto spec = dev(gw, "3.4gatewayKey007", Version::V3_4, Profile::GATEWAY);
  spec.sub_devices.push_back({"a4c138000000sw01", "switch", Profile::SWITCH, json::object()});
  spec.sub_devices.push_back({"a4c138000000th02", "sensor", Profile::SENSOR, json::object()});
  Harness h({spec});
  auto cl = h.connected(gw);
  const std::string sw = "a4c138000000sw01", th = "a4c138000000th02";
  cl->send_cmd(Command::DP_QUERY_NEW, t2m::proto::build_query(Version::V3_4, false, cl->target(th), T));
  REQUIRE(run_until(&h.loop, [&] { return cl->received.size() == 1; }));
  auto r = t2m::proto::parse_report(cl->received[0].payload);
  REQUIRE(r.ok());
  CHECK(r->cid == th);
  CHECK(r->dps.contains("1"));  // va_temperature
  cl->send_cmd(Command::CONTROL_NEW,
               t2m::proto::build_control(Version::V3_4, cl->target(sw), T, json{{"1", true}}));
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
  auto st = t2m::proto::parse_report(cl->with_cmd(Command::STATUS)[0].payload);
  REQUIRE(st.ok());
  CHECK(st->cid == sw);
  CHECK(st->dps == json{{"1", true}});
  CHECK(h.sim->state(gw, sw).value()["1"] == true);
  CHECK(h.sim->writes().back().cid == sw);
  // An unknown cid gets the device's error string.
  size_t n = cl->received.size();
  cl->send_cmd(Command::DP_QUERY_NEW, t2m::proto::build_query(Version::V3_4, false, cl->target("nope"), T));
  REQUIRE(run_until(&h.loop, [&] { return cl->received.size() == n + 1; }));
  CHECK(t2m::proto::classify_payload(cl->received.back().payload) == t2m::proto::PayloadKind::DEVICE_ERROR);
  // Sub-device online state (LAN_EXT_STREAM).
  cl->send_cmd(Command::LAN_EXT_STREAM, t2m::proto::build_subdev_online_query());
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::LAN_EXT_STREAM) == 1; }));
  json ext = json::parse(cl->with_cmd(Command::LAN_EXT_STREAM)[0].payload);
  CHECK(ext["data"]["online"] == json::array({sw, th}));
  // A change pushed by the control surface carries the cid.
  CHECK(h.sim->set_dps(gw, th, json{{"2", 77}}).ok());
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 2; }));
  auto push = t2m::proto::parse_report(cl->with_cmd(Command::STATUS)[1].payload);
  REQUIRE(push.ok());
  CHECK(push->cid == th);
  CHECK(push->dps == json{{"2", 77}});
  CHECK_FALSE(h.sim->set_dps(gw, std::string("nope"), json{{"1", 1}}).ok());
  h.finish();
}

TEST_CASE("pushes: external changes, spontaneous drift at a configurable rate, curtain travel") {
  auto plug = dev("bf33plug000000000002", "3.3plugKey000002", Version::V3_3, Profile::PLUG);
  plug.push_interval_ms = 50;
  auto curtain = dev("bf35curtain000000005", "3.5curtainKey005", Version::V3_5, Profile::CURTAIN);
  curtain.travel_ms = 1000;
  Harness h({plug, curtain});
  auto p = h.connected(plug.id);
  REQUIRE(run_until(&h.loop, [&] { return p->count(Command::STATUS) >= 5; }));
  CHECK(report_dps(p->with_cmd(Command::STATUS)[0]).contains("20"));
  CHECK(h.sim->set_push_interval(plug.id, 0).ok());
  run_for(&h.loop, 120);
  size_t before = p->count(Command::STATUS);
  CHECK(h.sim->set_dps(plug.id, std::nullopt, json{{"1", false}}).ok());
  REQUIRE(run_until(&h.loop, [&] { return p->count(Command::STATUS) == before + 1; }));
  CHECK(report_dps(p->with_cmd(Command::STATUS).back()) == json{{"1", false}});
  run_for(&h.loop, 150);
  CHECK(p->count(Command::STATUS) == before + 1);  // drift is off now

  auto c = h.connected(curtain.id);
  c->send_cmd(Command::CONTROL_NEW,
              t2m::proto::build_control(Version::V3_5, c->target(), T, json{{"1", "open"}}));
  REQUIRE(run_until(
      &h.loop, [&] { return h.sim->state(curtain.id).value()["3"] == 100; }, 3000));
  REQUIRE(run_until(&h.loop, [&] { return report_dps(c->with_cmd(Command::STATUS).back()).contains("1"); }));
  auto pushes = c->with_cmd(Command::STATUS);
  CHECK(pushes.size() >= 3);
  CHECK(report_dps(pushes[0])["7"] == "opening");
  int last = -1;
  for (size_t i = 1; i < pushes.size(); ++i) {
    json d = report_dps(pushes[i]);
    if (!d.contains("3")) continue;
    CHECK(d["3"].get<int>() > last);
    last = d["3"].get<int>();
  }
  CHECK(last == 100);
  CHECK(report_dps(pushes.back())["1"] == "stop");
  h.finish();
}

TEST_CASE("countdown: the plug switches itself off when its countdown runs out") {
  Harness h({dev("bf33plug000000000002", "3.3plugKey000002", Version::V3_3, Profile::PLUG)});
  auto* cl = h.connected("bf33plug000000000002");
  cl->send_cmd(Command::CONTROL, t2m::proto::build_control(Version::V3_3, cl->target(), T, json{{"9", 1}}));
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
  CHECK(h.sim->state("bf33plug000000000002").value()["1"] == true);
  REQUIRE(run_until(
      &h.loop, [&] { return cl->count(Command::STATUS) == 2; }, 3000));
  CHECK(report_dps(cl->with_cmd(Command::STATUS)[1]) == json{{"1", false}, {"9", 0}});
  h.finish();
}

TEST_CASE("discovery: broadcasts reach only the configured loopback port; 3.5 answers a request") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  struct Rx {
    std::vector<t2m::proto::Announcement> got;
    int bad = 0;
  } rx;
  OwnedHandle<uv_udp_t> sock;
  REQUIRE(sock.init([&](uv_udp_t* u) { return uv_udp_init(&loop, u); }) == 0);
  sock.get()->data = &rx;
  sockaddr_in any{};
  uv_ip4_addr("127.0.0.1", 0, &any);
  REQUIRE(uv_udp_bind(sock.get(), reinterpret_cast<const sockaddr*>(&any), 0) == 0);
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_udp_getsockname(sock.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  uint16_t port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  uv_udp_recv_start(
      sock.get(),
      [](uv_handle_t*, size_t, uv_buf_t* b) {
        static char buf[4096];
        *b = uv_buf_init(buf, sizeof buf);
      },
      [](uv_udp_t* u, ssize_t n, const uv_buf_t* b, const sockaddr*, unsigned) {
        auto* r = static_cast<Rx*>(u->data);
        if (!r || n <= 0) return;
        auto a = t2m::proto::decode_discovery(
            t2m::ByteView(reinterpret_cast<uint8_t*>(b->base), static_cast<size_t>(n)));
        if (a)
          r->got.push_back(*a);
        else
          r->bad++;
      });

  SimConfig cfg;
  cfg.devices = {dev("bf31plug000000000001", "3.1plugKey000001", Version::V3_1, Profile::PLUG),
                 dev("bf33plug000000000002", "3.3plugKey000002", Version::V3_3, Profile::PLUG),
                 dev("bf34bulb000000000004", "3.4bulbKey000004", Version::V3_4, Profile::BULB),
                 dev("bf35curtain000000005", "3.5curtainKey005", Version::V3_5, Profile::CURTAIN)};
  cfg.broadcast_to = Endpoint{"127.0.0.1", port};
  cfg.broadcast_interval_ms = 100;
  cfg.discovery_listen = Endpoint{"127.0.0.1", 0};
  {
    Simulator sim(&loop, cfg);
    REQUIRE(sim.start().ok());
    REQUIRE(run_until(&loop, [&] {
      std::set<std::string> ids;
      for (const auto& a : rx.got) ids.insert(a.gw_id);
      return ids.size() == 4;
    }));
    CHECK(rx.bad == 0);
    for (const auto& a : rx.got) {
      const DeviceSpec* s = sim.spec(a.gw_id);
      REQUIRE(s != nullptr);
      CHECK(a.version == s->version);
      CHECK(a.ip == "127.0.0.1");
      CHECK_FALSE(a.from_app);
    }
    // Now silence the broadcasts (a new simulator without them) and solicit 3.5 devices.
    sim.stop();
    cfg.broadcast_to.reset();
    Simulator quiet(&loop, cfg);
    REQUIRE(quiet.start().ok());
    auto at = quiet.discovery_endpoint();
    REQUIRE(at.has_value());
    CHECK(at->port != 0);
    rx.got.clear();
    t2m::Bytes iv(12, 0x42);
    t2m::Bytes req = t2m::proto::encode_discovery_request("127.0.0.1", iv);
    sockaddr_in to{};
    uv_ip4_addr("127.0.0.1", at->port, &to);
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(req.data()), static_cast<unsigned>(req.size()));
    REQUIRE(uv_udp_try_send(sock.get(), &b, 1, reinterpret_cast<const sockaddr*>(&to)) ==
            static_cast<int>(req.size()));
    REQUIRE(run_until(&loop, [&] { return !rx.got.empty(); }));
    run_for(&loop, 100);
    REQUIRE(rx.got.size() == 1);  // only the 3.5 device answers
    CHECK(rx.got[0].gw_id == "bf35curtain000000005");
    CHECK(rx.got[0].version == Version::V3_5);
    quiet.stop();
  }
  sock.close();
  CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
}

TEST_CASE("many devices on one loop: one address with many ports, every one answers") {
  GenerateOptions o;
  o.count = 300;
  o.versions = {"3.3", "3.4", "3.5", "3.1", "device22"};
  o.base_host = "127.0.0.1";
  o.base_port = 0;
  o.same_host = true;
  auto devs = generate_devices(o);
  REQUIRE(devs.ok());
  for (auto& d : *devs) d.port = 0;  // free ports in tests
  Harness h(*devs);
  std::vector<SimClient*> clients;
  for (const auto& d : *devs) {
    clients.push_back(h.client(d.id));
    clients.back()->connect(h.sim->port_of(d.id));
  }
  REQUIRE(run_until(
      &h.loop,
      [&] { return std::all_of(clients.begin(), clients.end(), [](const auto& c) { return c->ready(); }); },
      10000));
  for (auto& c : clients) heartbeat(*c);
  REQUIRE(run_until(
      &h.loop,
      [&] {
        return std::all_of(clients.begin(), clients.end(),
                           [](const auto& c) { return c->count(Command::HEART_BEAT) == 1; });
      },
      10000));
  Counters t = h.sim->totals();
  CHECK(t.accepted == 300);
  CHECK(t.heartbeats == 300);
  CHECK(t.handshakes == 120);  // 3.4 and 3.5: 2 of every 5
  clients.clear();
  h.finish();
}

TEST_CASE("one device per loopback address, all on the same port") {
  std::vector<DeviceSpec> devs;
  for (int i = 1; i <= 3; ++i) {
    auto d = dev("bfaddr00000000000" + std::to_string(100 + i), "addrKey000000" + std::to_string(100 + i),
                 Version::V3_3, Profile::PLUG);
    d.host = "127.0.3." + std::to_string(i);
    devs.push_back(d);
  }
  // The first one picks a free port; the others share it on their own addresses.
  Harness probe({devs[0]});
  uint16_t port = probe.sim->port_of(devs[0].id);
  probe.finish();
  for (auto& d : devs) d.port = port;
  Harness h(devs);
  for (const auto& d : devs) {
    CHECK(h.sim->port_of(d.id) == port);
    auto* c = h.client(d.id);
    c->connect(port, d.host);
    REQUIRE(run_until(&h.loop, [&] { return c->ready(); }));
    c->send_cmd(Command::DP_QUERY, t2m::proto::build_query(Version::V3_3, false, c->target(), T));
    REQUIRE(run_until(&h.loop, [&] { return c->received.size() == 1; }));
    auto r = t2m::proto::parse_report(c->received[0].payload);
    REQUIRE(r.ok());
    CHECK(r->dev_id == d.id);
  }
  h.finish();
}

// What a simulated device answers (device.cpp): each protocol variant, UPDATEDPS, device22, Zigbee
// sub-devices, countdowns.
#include <doctest/doctest.h>

#include "tests/sim/sim_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_device_test {

using nlohmann::json;
using t2m::proto::Command;
using t2m::proto::Version;
using namespace t2m::sim;
using namespace t2m::sim::testing;

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
    cl->send(qcmd, t2m::proto::build_query(c.v, false, cl->target(), TIMESTAMP));
    REQUIRE(run_until(&h.loop, [&] { return !cl->received.empty(); }));
    CHECK(cl->received[0].cmd == qcmd);
    json dps = report_dps(cl->received[0]);
    CHECK(dps == h.sim->state(c.id).value());
    CHECK(dps.contains(c.dp));
    // Control: an empty ACK with the same command, then a STATUS with the written DP.
    uint32_t ccmd = t2m::proto::control_command(c.v);
    cl->send(ccmd, t2m::proto::build_control(c.v, cl->target(), TIMESTAMP, json{{c.dp, c.value}}));
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
  cl->send_cmd(Command::DP_QUERY, t2m::proto::build_query(Version::V3_3, false, cl->target(), TIMESTAMP));
  REQUIRE(run_until(&h.loop, [&] { return cl->received.size() == 1; }));
  CHECK(t2m::proto::is_device22_error(cl->received[0].payload));
  cl->codec().set_device22(true);
  uint32_t q = t2m::proto::query_command(Version::V3_3, true);
  CHECK(q == static_cast<uint32_t>(Command::CONTROL_NEW));
  cl->send(q, t2m::proto::build_query(Version::V3_3, true, cl->target(), TIMESTAMP, {"1", "19", "20", "55"}));
  REQUIRE(run_until(&h.loop, [&] { return cl->received.size() == 2; }));
  CHECK(cl->received[1].cmd == q);
  json dps = report_dps(cl->received[1]);
  CHECK(dps.size() == 3);
  CHECK(dps["1"] == true);
  CHECK(h.sim->writes().empty());  // a query is not a write
  // Writes still use CONTROL.
  cl->send_cmd(Command::CONTROL,
               t2m::proto::build_control(Version::V3_3, cl->target(), TIMESTAMP, json{{"1", false}}));
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
  CHECK(h.sim->state(id).value()["1"] == false);
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
  cl->send_cmd(Command::DP_QUERY_NEW,
               t2m::proto::build_query(Version::V3_4, false, cl->target(th), TIMESTAMP));
  REQUIRE(run_until(&h.loop, [&] { return cl->received.size() == 1; }));
  auto r = t2m::proto::parse_report(cl->received[0].payload);
  REQUIRE(r.ok());
  CHECK(r->cid == th);
  CHECK(r->dps.contains("1"));  // va_temperature
  cl->send_cmd(Command::CONTROL_NEW,
               t2m::proto::build_control(Version::V3_4, cl->target(sw), TIMESTAMP, json{{"1", true}}));
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
  auto st = t2m::proto::parse_report(cl->with_cmd(Command::STATUS)[0].payload);
  REQUIRE(st.ok());
  CHECK(st->cid == sw);
  CHECK(st->dps == json{{"1", true}});
  CHECK(h.sim->state(gw, sw).value()["1"] == true);
  CHECK(h.sim->writes().back().cid == sw);
  // An unknown cid gets the device's error string.
  size_t n = cl->received.size();
  cl->send_cmd(Command::DP_QUERY_NEW,
               t2m::proto::build_query(Version::V3_4, false, cl->target("nope"), TIMESTAMP));
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

TEST_CASE("countdown: the plug switches itself off when its countdown runs out") {
  Harness h({dev("bf33plug000000000002", "3.3plugKey000002", Version::V3_3, Profile::PLUG)});
  auto* cl = h.connected("bf33plug000000000002");
  cl->send_cmd(Command::CONTROL,
               t2m::proto::build_control(Version::V3_3, cl->target(), TIMESTAMP, json{{"9", 1}}));
  REQUIRE(run_until(&h.loop, [&] { return cl->count(Command::STATUS) == 1; }));
  CHECK(h.sim->state("bf33plug000000000002").value()["1"] == true);
  REQUIRE(run_until(
      &h.loop, [&] { return cl->count(Command::STATUS) == 2; }, 3000));
  CHECK(report_dps(cl->with_cmd(Command::STATUS)[1]) == json{{"1", false}, {"9", 0}});
  h.finish();
}

}  // namespace t2m_device_test

// The simulator as a whole (simulator.cpp): many devices on one loop, and changes made through its API
// or its timers (set_dps, set_push_interval, drift, curtain travel) reaching the client.
#include <doctest/doctest.h>

#include <algorithm>
#include "tests/sim/sim_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_simulator_test {

using nlohmann::json;
using t2m::proto::Command;
using t2m::proto::Version;
using namespace t2m::sim;
using namespace t2m::sim::testing;

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
              t2m::proto::build_control(Version::V3_5, c->target(), TIMESTAMP, json{{"1", "open"}}));
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

}  // namespace t2m_simulator_test

// The simulator's TCP side (server.cpp): one client at a time, the idle timeout, listeners on many
// loopback addresses sharing one port.
#include <doctest/doctest.h>

#include "tests/sim/sim_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_server_test {

using nlohmann::json;
using t2m::proto::Command;
using t2m::proto::Version;
using namespace t2m::sim;
using namespace t2m::sim::testing;

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
    c->send_cmd(Command::DP_QUERY, t2m::proto::build_query(Version::V3_3, false, c->target(), TIMESTAMP));
    REQUIRE(run_until(&h.loop, [&] { return c->received.size() == 1; }));
    auto r = t2m::proto::parse_report(c->received[0].payload);
    REQUIRE(r.ok());
    CHECK(r->dev_id == d.id);
  }
  h.finish();
}

}  // namespace t2m_server_test

// Test support shared by the simulator's test files: a device spec on a free loopback port, a Harness (a
// loop and a started Simulator whose clients it owns) and helpers to read what a SimClient received.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/uv_handle.h"
#include "protocol/payload.h"
#include "tests/sim/sim_client.h"
#include "tests/sim/src/simulator.h"

namespace t2m::sim::testing {

// A fixed "t" (Unix seconds) for the requests the tests build.
inline constexpr int64_t TIMESTAMP = 1700000000;

inline DeviceSpec dev(std::string id, std::string key, proto::Version v, Profile p, bool device22 = false) {
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
    bool needs_key = proto::needs_session_key(sim->spec(id)->version);
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
    CHECK(uv_close_all_and_drain(&loop) == 0);
  }
};

inline nlohmann::json report_dps(const proto::Message& m) {
  auto r = proto::parse_report(m.payload);
  REQUIRE_MESSAGE(r.ok(), m.payload);
  return r->dps;
}

// Index of the first message with `cmd` (optionally non-empty), or -1.
inline int index_of(const SimClient& c, proto::Command cmd, bool want_ack) {
  for (size_t i = 0; i < c.received.size(); ++i) {
    if (c.received[i].cmd == static_cast<uint32_t>(cmd) && c.received[i].is_ack() == want_ack) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

inline void heartbeat(SimClient& c) {
  c.send_cmd(proto::Command::HEART_BEAT, proto::build_heartbeat(c.target()));
}

}  // namespace t2m::sim::testing

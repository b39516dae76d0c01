// Shared by the DeviceSession tests (device_session_test.cpp, device_session_queue_test.cpp): a session
// on FakeTimers and FakeTransports with everything its callbacks reported, and a helper that brings it
// online against a FakeDevice.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/timers.h"
#include "gateway/device_session.h"
#include "protocol/payload.h"
#include "tests/fakes/fake_timers.h"
#include "tests/gateway/fake_device.h"
#include "tests/gateway/fake_transport.h"

namespace t2m::gw::testing::session {

using nlohmann::json;

inline RandomSource counting_random() {
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

inline SessionOptions options(std::optional<proto::Version> v) {
  SessionOptions o;
  o.device_id = DEV;
  o.local_key = to_bytes(KEY);
  o.host = "127.0.1.1";
  o.version = v;
  o.known_dp_ids = {"1", "2"};
  return o;
}

// Connects and answers the resync query so the session is online.
inline void bring_online(Harness& h, FakeDevice& d, const json& dps = json{{"1", true}}) {
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

}  // namespace t2m::gw::testing::session

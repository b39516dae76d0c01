// The gateway (App) on mqtts:// with a CA and a client certificate (mosquitto requires one), including an
// encrypted client key whose password must stay out of the logs; and a clear error in the log for a CA
// that did not sign the broker's certificate or a CA file that does not exist.
#include <doctest/doctest.h>

#include <mutex>

#include "tests/support/gateway_fixture.h"
#include "tests/support/per_case.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_tls_test {

using namespace t2m;
using namespace t2m::test;
using nlohmann::json;

namespace {

struct Lines {
  std::mutex mu;
  std::vector<std::pair<LogLevel, std::string>> lines;
  int id;
  Lines() {
    log_set_stderr(false);
    id = log_add_sink([this](LogLevel lvl, std::string_view tag, std::string_view msg) {
      std::lock_guard<std::mutex> l(mu);
      lines.emplace_back(lvl, std::string(tag) + ": " + std::string(msg));
    });
  }
  ~Lines() {
    log_remove_sink(id);
    log_set_stderr(true);
  }
  bool any(LogLevel max_level, const std::string& needle) {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& [lvl, text] : lines)
      if (static_cast<int>(lvl) <= static_cast<int>(max_level) && text.find(needle) != std::string::npos)
        return true;
    return false;
  }
  std::string dump() {
    std::lock_guard<std::mutex> l(mu);
    std::string out;
    for (const auto& [lvl, text] : lines) out += text + "\n";
    return out;
  }
};

// Two plugs on `prefix`; the broker has a TLS listener that requires a client certificate (and the plain
// one, where the observer is: what it sees was published by the gateway over TLS).
FixtureOptions tls_options(const char* prefix) {
  FixtureOptions o;
  o.devices = plug_fleet(2, prefix);
  o.tls = true;
  o.level = LogLevel::INFO;
  return o;
}

}  // namespace

TEST_CASE("TLS: the gateway connects with a CA and a client certificate (plain and encrypted key)") {
  Lines logs;
  // One broker, PKI and simulator for both SUBCASEs; each starts and stops its own gateway.
  auto& f = test::per_case<GatewayFixture>(
      [] { return std::make_unique<GatewayFixture>(tls_options("127.0.13.")); });
  const TestPki& pki = *f.pki;
  SUBCASE("plain client key") {
    f.start_gateway(
        f.tls_gateway_config({{"ca", pki.ca_cert}, {"cert", pki.client_cert}, {"key", pki.client_key}}));
  }
  SUBCASE("encrypted client key with its password") {
    f.start_gateway(f.tls_gateway_config({{"ca", pki.ca_cert},
                                          {"cert", pki.client_cert},
                                          {"key", pki.client_key_encrypted},
                                          {"key_password", pki.key_password}}));
  }
  // The observer is on the plain listener: what it sees was published by the gateway over TLS.
  REQUIRE_MESSAGE(
      f.wait([&] { return f.all_online() && f.last["tuya2mqtt/bridge/state"] == R"({"state":"online"})"; },
             15000),
      logs.dump() << f.broker.log());
  const size_t mark = f.seen.size();
  f.publish("tuya2mqtt/" + fleet_name(0) + "/set", R"({"switch_1": false})");
  CHECK(f.next_json("tuya2mqtt/" + fleet_name(0) + "/set/result", mark)["status"] == "ok");
  f.stop_gateway();
  CHECK_FALSE(logs.any(LogLevel::VERBOSE, pki.key_password));
}

TEST_CASE("TLS: a CA that did not sign the broker's certificate gives a clear error in the log") {
  Lines logs;
  GatewayFixture f(tls_options("127.0.14."));
  const TestPki& pki = *f.pki;
  f.start_gateway(
      f.tls_gateway_config({{"ca", pki.other_ca_cert}, {"cert", pki.client_cert}, {"key", pki.client_key}}));
  const bool reported = f.wait([&] { return logs.any(LogLevel::ERROR, "certificate verify failed"); }, 10000);
  CHECK_MESSAGE(reported, logs.dump());
  CHECK(f.last.count("tuya2mqtt/bridge/state") == 0);  // never connected
}

TEST_CASE("TLS: a CA file that does not exist gives a clear error") {
  Lines logs;
  GatewayFixture f(tls_options("127.0.15."));
  const TestPki& pki = *f.pki;
  const std::string missing = f.pki_dir.file("no-such-ca.pem");
  const std::string refused = f.try_start_gateway(
      f.tls_gateway_config({{"ca", missing}, {"cert", pki.client_cert}, {"key", pki.client_key}}));
  if (!refused.empty()) {
    // Refused at configuration time or at start, naming the file: as good as a log line.
    CHECK_MESSAGE(refused.find("no-such-ca.pem") != std::string::npos, refused);
    return;
  }
  const bool reported = f.wait([&] { return logs.any(LogLevel::ERROR, "no-such-ca.pem"); }, 10000);
  CHECK_MESSAGE(reported, logs.dump());
  CHECK(f.last.count("tuya2mqtt/bridge/state") == 0);
}

}  // namespace t2m_tls_test

// The gateway (App) on mqtts:// with a CA and a client certificate (mosquitto requires one), including an
// encrypted client key whose password must stay out of the logs; and a clear error in the log for a CA
// that did not sign the broker's certificate or a CA file that does not exist.
#include <doctest/doctest.h>

#include <mutex>

#include "tests/faults/fleet.h"

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

struct TlsFleet {
  test::TempDir pki_dir{"t2m-pki"};
  TestPki pki;
  std::unique_ptr<Fleet> f;
  explicit TlsFleet(const char* prefix) {
    std::string err;
    auto p = make_test_pki(pki_dir.path(), &err);
    REQUIRE_MESSAGE(p.has_value(), err);
    pki = *p;
    FleetOptions o;
    o.plugs = 2;
    o.host_prefix = prefix;
    o.broker.tls = pki;
    o.broker.require_client_cert = true;
    o.level = LogLevel::INFO;
    f = std::make_unique<Fleet>(o);
  }
  json config(const json& tls) {
    json cfg = f->gateway_config();
    cfg["mqtt"]["server"] = "mqtts://127.0.0.1:" + std::to_string(f->broker.tls_port());
    cfg["mqtt"]["tls"] = tls;
    return cfg;
  }
};

}  // namespace

TEST_CASE("TLS: the gateway connects with a CA and a client certificate (plain and encrypted key)") {
  Lines logs;
  TlsFleet t("127.0.13.");
  Fleet& f = *t.f;
  SUBCASE("plain client key") {
    f.start_gateway(
        t.config({{"ca", t.pki.ca_cert}, {"cert", t.pki.client_cert}, {"key", t.pki.client_key}}));
  }
  SUBCASE("encrypted client key with its password") {
    f.start_gateway(t.config({{"ca", t.pki.ca_cert},
                              {"cert", t.pki.client_cert},
                              {"key", t.pki.client_key_encrypted},
                              {"key_password", t.pki.key_password}}));
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
  CHECK_FALSE(logs.any(LogLevel::VERBOSE, t.pki.key_password));
}

TEST_CASE("TLS: a CA that did not sign the broker's certificate gives a clear error in the log") {
  Lines logs;
  TlsFleet t("127.0.14.");
  Fleet& f = *t.f;
  f.start_gateway(
      t.config({{"ca", t.pki.other_ca_cert}, {"cert", t.pki.client_cert}, {"key", t.pki.client_key}}));
  const bool reported = f.wait([&] { return logs.any(LogLevel::ERROR, "certificate verify failed"); }, 10000);
  CHECK_MESSAGE(reported, logs.dump());
  CHECK(f.last.count("tuya2mqtt/bridge/state") == 0);  // never connected
}

TEST_CASE("TLS: a CA file that does not exist gives a clear error") {
  Lines logs;
  TlsFleet t("127.0.15.");
  Fleet& f = *t.f;
  const std::string missing = t.pki_dir.file("no-such-ca.pem");
  json cfg = t.config({{"ca", missing}, {"cert", t.pki.client_cert}, {"key", t.pki.client_key}});
  auto parsed = config::parse_config(cfg);
  if (!parsed.ok()) {
    // Refused at configuration time, naming the file: as good as a log line.
    std::string all;
    for (const auto& i : parsed.error()) all += i.to_string() + "\n";
    CHECK_MESSAGE(all.find("no-such-ca.pem") != std::string::npos, all);
    return;
  }
  config::LoadedConfig lc;
  lc.config = parsed.value();
  lc.path = f.dir.file("tuya2mqtt.json");
  f.app = std::make_unique<gw::App>(&f.loop, std::move(lc));
  auto st = f.app->start();
  if (!st.ok()) {
    // Refused at start, naming the file.
    CHECK_MESSAGE(st.error().message.find("no-such-ca.pem") != std::string::npos, st.error().message);
    return;
  }
  const bool reported = f.wait([&] { return logs.any(LogLevel::ERROR, "no-such-ca.pem"); }, 10000);
  CHECK_MESSAGE(reported, logs.dump());
  CHECK(f.last.count("tuya2mqtt/bridge/state") == 0);
}

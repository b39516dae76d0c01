// PahoClient against a real mosquitto (tests/support): loopback only, free ports, every wait bounded,
// every broker stopped by its RAII owner.
#include "mqtt/paho_client.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>

#include "common/log.h"
#include "tests/support/mosquitto.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_paho_client_test {

using t2m::Error;
using t2m::LoopExecutor;
using t2m::mqtt::ClientHandlers;
using t2m::mqtt::ConnectOptions;
using t2m::mqtt::Message;
using t2m::mqtt::PahoClient;
using t2m::mqtt::Qos;
using t2m::mqtt::TlsOptions;
using t2m::test::BrokerOptions;
using t2m::test::MosquittoBroker;

namespace {

constexpr int WAIT_MS = 8000;

// One uv loop + executor per test; checks that nothing leaks when the test ends.
struct Loop {
  uv_loop_t loop{};
  std::unique_ptr<LoopExecutor> ex;
  Loop() {
    REQUIRE(uv_loop_init(&loop) == 0);
    ex = std::make_unique<LoopExecutor>(&loop);
  }
  ~Loop() {
    ex->close();
    CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
  }
  bool until(const std::function<bool()>& done, int ms = WAIT_MS) {
    return t2m::test::run_loop_until(&loop, done, ms);
  }
  void run_for(int ms) { t2m::test::run_loop_for(&loop, ms); }
};

// A PahoClient plus everything its handlers reported, each checked to arrive on the loop thread.
struct Probe {
  Loop& l;
  PahoClient client;
  int connects = 0;
  int losses = 0;
  bool off_loop_callback = false;
  std::vector<Message> messages;
  std::vector<Error> errors;

  explicit Probe(Loop& loop) : l(loop), client(*loop.ex) {}
  ~Probe() {
    bool done = false;
    client.disconnect([&] { done = true; });
    l.until([&] { return done; }, 5000);
  }

  ClientHandlers handlers() {
    ClientHandlers h;
    h.on_connected = [this](bool) {
      off_loop_callback |= !l.ex->is_loop_thread();
      ++connects;
    };
    h.on_connection_lost = [this](const std::string&) {
      off_loop_callback |= !l.ex->is_loop_thread();
      ++losses;
    };
    h.on_message = [this](Message m) {
      off_loop_callback |= !l.ex->is_loop_thread();
      messages.push_back(std::move(m));
    };
    h.on_error = [this](const Error& e) {
      off_loop_callback |= !l.ex->is_loop_thread();
      errors.push_back(e);
    };
    return h;
  }

  t2m::Status start(ConnectOptions o) { return client.connect(o, handlers()); }

  size_t count_on(const std::string& topic) const {
    size_t n = 0;
    for (const auto& m : messages) n += m.topic == topic;
    return n;
  }
};

ConnectOptions options_for(const std::string& uri, const std::string& id) {
  ConnectOptions o;
  o.server_uri = uri;
  o.client_id = id;
  o.keep_alive_s = 5;
  o.reconnect_min_ms = 50;
  o.reconnect_max_ms = 400;
  return o;
}

// T2M_TEST_LOGS=1 keeps the client's log lines (debug level) for a failing run.
struct QuietLogs {
  bool verbose = std::getenv("T2M_TEST_LOGS") != nullptr;
  QuietLogs() {
    if (verbose)
      t2m::log_set_level(t2m::LogLevel::DEBUG);
    else
      t2m::log_set_stderr(false);
  }
  ~QuietLogs() { t2m::log_set_stderr(true); }
};

}  // namespace

TEST_SUITE("mqtt.paho_client") {
  TEST_CASE("connect, subscribe, publish and receive; every callback on the loop thread") {
    QuietLogs quiet;
    MosquittoBroker broker;
    REQUIRE_MESSAGE(broker.running(), broker.log());
    Loop l;
    Probe a(l);
    REQUIRE(a.start(options_for(broker.uri(), "t2m-rt")).ok());
    CHECK(a.client.subscribe("t2m/rt/#", Qos::AT_LEAST_ONCE).ok());  // before the connect completes
    REQUIRE(l.until([&] { return a.connects == 1; }));
    CHECK(a.client.connected());
    CHECK(a.client.publish(Message{"t2m/rt/one", "{\"x\":1}", Qos::AT_LEAST_ONCE, false}).ok());
    CHECK(a.client.publish(Message{"t2m/rt/two", "zero", Qos::AT_MOST_ONCE, false}).ok());
    REQUIRE(l.until([&] { return a.messages.size() == 2; }));
    CHECK(a.messages[0].topic == "t2m/rt/one");
    CHECK(a.messages[0].payload == "{\"x\":1}");
    CHECK(a.messages[1].payload == "zero");
    CHECK_FALSE(a.off_loop_callback);
    CHECK(a.client.stats().publishes == 2);
    CHECK(a.client.stats().messages_received == 2);
    CHECK(a.errors.empty());

    // A retained message comes back flagged as retained to a later subscription.
    CHECK(t2m::test::mqtt_publish(broker.port(), "t2m/ret/state", "ON", true));
    CHECK(a.client.subscribe("t2m/ret/#", Qos::AT_LEAST_ONCE).ok());
    REQUIRE(l.until([&] { return a.count_on("t2m/ret/state") == 1; }));
    CHECK(a.messages.back().retained);
    CHECK(a.messages.back().payload == "ON");

    CHECK(a.client.unsubscribe("t2m/rt/#").ok());
    CHECK_FALSE(a.client.publish(Message{"t2m/+/bad", "x"}).ok());
    CHECK_FALSE(a.client.connect(options_for(broker.uri(), "again"), {}).ok());
  }

  TEST_CASE("disconnect(done) is clean, runs done on the loop and publishes the will by hand") {
    QuietLogs quiet;
    MosquittoBroker broker;
    REQUIRE(broker.running());
    t2m::test::MqttSpy watcher(broker.port(), "t2m/bridge/state");
    REQUIRE_MESSAGE(watcher.ready(), watcher.output());
    Loop l;
    auto gw = std::make_unique<PahoClient>(*l.ex);
    auto o = options_for(broker.uri(), "t2m-gw");
    o.will = Message{"t2m/bridge/state", "{\"state\":\"offline\"}", Qos::AT_LEAST_ONCE, true};
    bool up = false;
    ClientHandlers h;
    h.on_connected = [&](bool) { up = true; };
    REQUIRE(gw->connect(o, std::move(h)).ok());
    REQUIRE(l.until([&] { return up; }));
    CHECK(gw->publish(Message{"t2m/bridge/state", "{\"state\":\"online\"}", Qos::AT_LEAST_ONCE, true}).ok());
    REQUIRE(l.until([&] { return watcher.count("t2m/bridge/state") == 1; }));

    bool done = false, done_on_loop = false;
    int calls = 0;
    gw->disconnect([&] {
      done = true;
      ++calls;
      done_on_loop = l.ex->is_loop_thread();
    });
    CHECK_FALSE(done);  // never synchronously inside disconnect()
    REQUIRE(l.until([&] { return done; }, 5000));
    CHECK(done_on_loop);
    CHECK_FALSE(gw->connected());
    REQUIRE(l.until([&] { return watcher.count("t2m/bridge/state") == 2; }));
    CHECK(watcher.last("t2m/bridge/state")->payload == "{\"state\":\"offline\"}");
    // Safe to call again: done still runs. Publishing afterwards is refused, not silently buffered.
    gw->disconnect([&] { ++calls; });
    REQUIRE(l.until([&] { return calls == 2; }));
    CHECK(gw->publish(Message{"t2m/x", "y", Qos::AT_LEAST_ONCE, false}).error().code == "mqtt_disconnected");
    gw.reset();
  }

  TEST_CASE("last will: the broker publishes it when the connection dies abruptly; the client reconnects") {
    QuietLogs quiet;
    MosquittoBroker broker;
    REQUIRE(broker.running());
    t2m::test::TcpProxy proxy(broker.port());
    REQUIRE(proxy.port() != 0);
    t2m::test::MqttSpy watcher(broker.port(), "t2m/lwt/#");
    REQUIRE_MESSAGE(watcher.ready(), watcher.output());
    Loop l;
    Probe gw(l);
    auto o = options_for(proxy.uri(), "t2m-gw-lwt");
    o.will = Message{"t2m/lwt/state", "offline", Qos::AT_LEAST_ONCE, true};
    REQUIRE(gw.start(o).ok());
    CHECK(gw.client.subscribe("t2m/lwt/cmd", Qos::AT_LEAST_ONCE).ok());
    REQUIRE(l.until([&] { return gw.connects == 1; }));
    CHECK(gw.client.publish(Message{"t2m/lwt/state", "online", Qos::AT_LEAST_ONCE, true}).ok());
    REQUIRE(l.until([&] { return watcher.count("t2m/lwt/state") == 1; }));

    proxy.cut();  // RST both ways: no DISCONNECT reaches the broker
    REQUIRE_MESSAGE(l.until([&] { return watcher.count("t2m/lwt/state") == 2; }), broker.log());
    CHECK(watcher.last("t2m/lwt/state")->payload == "offline");
    REQUIRE(l.until([&] { return gw.losses == 1; }));
    REQUIRE(l.until([&] { return gw.connects == 2; }));  // back through the proxy
    CHECK(gw.client.stats().connection_losses == 1);

    // The subscription made before the cut is restored by the client itself.
    bool got = l.until(
        [&] {
          if (gw.count_on("t2m/lwt/cmd") > 0) return true;
          (void)t2m::test::mqtt_publish(broker.port(), "t2m/lwt/cmd", "ping");
          l.run_for(100);
          return gw.count_on("t2m/lwt/cmd") > 0;
        },
        5000);
    CHECK(got);
    CHECK_FALSE(gw.off_loop_callback);
  }

  TEST_CASE("broker SIGKILL + restart: QoS 1 publishes made while down all arrive; subscriptions restored") {
    QuietLogs quiet;
    MosquittoBroker broker;
    REQUIRE(broker.running());
    Loop l;
    Probe gw(l);
    REQUIRE(gw.start(options_for(broker.uri(), "t2m-gw-kill")).ok());
    CHECK(gw.client.subscribe("t2m/kill/cmd", Qos::AT_LEAST_ONCE).ok());
    REQUIRE(l.until([&] { return gw.connects == 1; }));

    broker.kill();
    REQUIRE(l.until([&] { return gw.losses == 1; }));
    CHECK_FALSE(gw.client.connected());
    constexpr int N = 50;
    for (int i = 0; i < N; ++i)
      CHECK(gw.client
                .publish(
                    Message{"t2m/kill/buf/" + std::to_string(i), std::to_string(i), Qos::AT_LEAST_ONCE, true})
                .ok());
    CHECK(gw.client.publish(Message{"t2m/kill/qos0", "lost", Qos::AT_MOST_ONCE, false}).ok());
    CHECK(gw.client.stats().dropped_offline == 1);
    l.run_for(300);  // a few failed reconnect attempts with back-off
    CHECK(gw.client.stats().connect_failures >= 1);
    CHECK(gw.errors.empty());  // a broker that is down is not a configuration error

    REQUIRE(broker.start());
    REQUIRE(l.until([&] { return gw.connects == 2; }));

    t2m::test::MqttSpy reader(broker.port(), "t2m/kill/buf/#");
    REQUIRE_MESSAGE(reader.ready(), reader.output());
    std::set<std::string> seen;
    REQUIRE_MESSAGE(l.until([&] {
      for (const auto& m : reader.messages()) seen.insert(m.topic + "=" + m.payload);
      return seen.size() == N;
    }),
                    "received " << seen.size() << " of " << N);
    CHECK(seen.count("t2m/kill/buf/0=0") == 1);
    CHECK(seen.count("t2m/kill/buf/49=49") == 1);

    bool got = l.until(
        [&] {
          (void)t2m::test::mqtt_publish(broker.port(), "t2m/kill/cmd", "ping");
          l.run_for(100);
          return gw.count_on("t2m/kill/cmd") > 0;
        },
        5000);
    CHECK(got);
  }

  TEST_CASE("QoS 1 messages in flight when the broker dies are sent again after the restart") {
    QuietLogs quiet;
    MosquittoBroker broker;
    REQUIRE(broker.running());
    Loop l;
    Probe gw(l);
    auto o = options_for(broker.uri(), "t2m-gw-inflight");
    o.reconnect_min_ms = 1500;  // time to put the observer in place before the client is back
    o.reconnect_max_ms = 3000;
    REQUIRE(gw.start(o).ok());
    REQUIRE(l.until([&] { return gw.connects == 1; }));

    broker.pause();  // hung broker: publishes leave the client but are never acknowledged
    constexpr int N = 20;
    for (int i = 0; i < N; ++i)
      CHECK(gw.client.publish(Message{"t2m/inflight/" + std::to_string(i), "e", Qos::AT_LEAST_ONCE, false})
                .ok());
    l.run_for(200);
    broker.kill();
    REQUIRE(l.until([&] { return gw.losses == 1; }));
    REQUIRE(broker.start());
    t2m::test::MqttSpy spy(broker.port(), "t2m/inflight/#");
    REQUIRE_MESSAGE(spy.ready(), spy.output());
    std::set<std::string> seen;
    REQUIRE_MESSAGE(l.until([&] {
      for (const auto& m : spy.messages()) seen.insert(m.topic);
      return seen.size() == N;
    }),
                    "received " << seen.size() << " of " << N << "; resent " << gw.client.stats().resent);
    CHECK(gw.client.stats().resent >= 1);
  }

  TEST_CASE("offline buffer: publishes before the first connect are delivered; past max_buffered they fail") {
    QuietLogs quiet;
    uint16_t port = t2m::test::free_port();
    REQUIRE(port != 0);
    Loop l;
    Probe gw(l);
    auto o = options_for("tcp://127.0.0.1:" + std::to_string(port), "t2m-gw-buf");
    o.max_buffered = 5;
    REQUIRE(gw.start(o).ok());
    CHECK(gw.client.max_buffered() == 5);
    for (int i = 0; i < 5; ++i)
      CHECK(gw.client.publish(Message{"t2m/buf/" + std::to_string(i), "v", Qos::AT_LEAST_ONCE, true}).ok());
    auto full = gw.client.publish(Message{"t2m/buf/5", "v", Qos::AT_LEAST_ONCE, true});
    REQUIRE_FALSE(full.ok());
    CHECK(full.error().code == "mqtt_buffer_full");
    CHECK(gw.client.stats().publish_failures == 1);

    BrokerOptions bo;
    bo.port = port;
    MosquittoBroker broker(bo);
    REQUIRE(broker.running());
    REQUIRE(l.until([&] { return gw.connects == 1; }));
    t2m::test::MqttSpy reader(broker.port(), "t2m/buf/#");
    REQUIRE_MESSAGE(reader.ready(), reader.output());
    REQUIRE(l.until([&] { return reader.messages().size() >= 5; }));
    l.run_for(200);
    CHECK(reader.messages().size() == 5);
  }

  TEST_CASE("username/password: accepted, and a wrong password gives one clear error without the password") {
    QuietLogs quiet;
    BrokerOptions bo;
    bo.users = {{"alice", "correct-horse-42"}};
    MosquittoBroker broker(bo);
    REQUIRE_MESSAGE(broker.running(), broker.log());
    Loop l;
    {
      Probe ok(l);
      auto o = options_for(broker.uri(), "t2m-auth-ok");
      o.username = "alice";
      o.password = "correct-horse-42";
      REQUIRE(ok.start(o).ok());
      REQUIRE(l.until([&] { return ok.connects == 1; }));
      CHECK(ok.errors.empty());
    }
    Probe bad(l);
    auto o = options_for(broker.uri(), "t2m-auth-bad");
    o.username = "alice";
    o.password = "wrong-password-77";
    REQUIRE(bad.start(o).ok());
    REQUIRE(l.until([&] { return !bad.errors.empty(); }));
    // Retries go on, the error is reported once.
    CHECK(l.until([&] { return bad.client.stats().connect_failures >= 3; }));
    CHECK(bad.errors.size() == 1);
    CHECK(bad.connects == 0);
    const Error& e = bad.errors[0];
    CHECK(e.code == "mqtt_auth_refused");
    CHECK(e.message.find("refused") != std::string::npos);
    CHECK(e.message.find("alice") != std::string::npos);
    CHECK(e.message.find("wrong-password-77") == std::string::npos);
    MESSAGE(e.message);
    CHECK_FALSE(bad.off_loop_callback);
  }

  TEST_CASE("TLS: server authentication with the test CA, client certificates, bad CA, missing files") {
    QuietLogs quiet;
    t2m::test::TempDir pki_dir("t2m-pki");
    std::string why;
    auto pki = t2m::test::make_test_pki(pki_dir.path(), &why);
    REQUIRE_MESSAGE(pki.has_value(), why);

    SUBCASE("server auth, then a round trip") {
      BrokerOptions bo;
      bo.tls = *pki;
      MosquittoBroker broker(bo);
      REQUIRE_MESSAGE(broker.running(), broker.log());
      Loop l;
      Probe c(l);
      auto o = options_for(broker.tls_uri(), "t2m-tls");
      o.tls = TlsOptions{pki->ca_cert, "", "", "", true};
      REQUIRE(c.start(o).ok());
      CHECK(c.client.subscribe("t2m/tls", Qos::AT_LEAST_ONCE).ok());
      REQUIRE_MESSAGE(l.until([&] { return c.connects == 1 || !c.errors.empty(); }), broker.log());
      REQUIRE_MESSAGE(c.errors.empty(), c.errors[0].message);
      CHECK(c.client.publish(Message{"t2m/tls", "secure", Qos::AT_LEAST_ONCE, false}).ok());
      REQUIRE(l.until([&] { return c.messages.size() == 1; }));
      CHECK(c.messages[0].payload == "secure");
    }

    SUBCASE("mqtts:// is accepted as ssl://") {
      BrokerOptions bo;
      bo.tls = *pki;
      MosquittoBroker broker(bo);
      REQUIRE(broker.running());
      Loop l;
      Probe c(l);
      auto o = options_for("mqtts://127.0.0.1:" + std::to_string(broker.tls_port()), "t2m-mqtts");
      o.tls = TlsOptions{pki->ca_cert, "", "", "", true};
      REQUIRE(c.start(o).ok());
      REQUIRE(l.until([&] { return c.connects == 1 || !c.errors.empty(); }));
      CHECK(c.errors.empty());
    }

    SUBCASE("a CA that did not sign the broker's certificate gives one clear error") {
      BrokerOptions bo;
      bo.tls = *pki;
      MosquittoBroker broker(bo);
      REQUIRE(broker.running());
      Loop l;
      Probe c(l);
      auto o = options_for(broker.tls_uri(), "t2m-badca");
      o.tls = TlsOptions{pki->other_ca_cert, "", "", "", true};
      REQUIRE(c.start(o).ok());
      REQUIRE(l.until([&] { return !c.errors.empty(); }));
      l.run_for(300);
      CHECK(c.errors.size() == 1);
      CHECK(c.connects == 0);
      CHECK(c.errors[0].code == "mqtt_tls_failed");
      MESSAGE(c.errors[0].message);
      CHECK(c.errors[0].message.find("TLS handshake with " + broker.tls_uri() + " failed") !=
            std::string::npos);
      CHECK(c.errors[0].message.find("certificate verify failed") != std::string::npos);
    }

    SUBCASE("mutual TLS: a client certificate with an encrypted key is accepted; none is refused") {
      BrokerOptions bo;
      bo.tls = *pki;
      bo.require_client_cert = true;
      MosquittoBroker broker(bo);
      REQUIRE(broker.running());
      Loop l;
      // One client at a time: Paho serves a process's clients from one poll thread (slow second connects).
      {
        Probe good(l);
        auto o = options_for(broker.tls_uri(), "t2m-mtls");
        o.tls =
            TlsOptions{pki->ca_cert, pki->client_cert, pki->client_key_encrypted, pki->key_password, true};
        REQUIRE(good.start(o).ok());
        REQUIRE_MESSAGE(l.until([&] { return good.connects == 1 || !good.errors.empty(); }), broker.log());
        REQUIRE_MESSAGE(good.errors.empty(), good.errors[0].message);
      }
      {
        Probe plain_key(l);  // an unencrypted key needs no password (the dummy one is ignored)
        auto pk = options_for(broker.tls_uri(), "t2m-mtls-plain");
        pk.tls = TlsOptions{pki->ca_cert, pki->client_cert, pki->client_key, "", true};
        REQUIRE(plain_key.start(pk).ok());
        REQUIRE(l.until([&] { return plain_key.connects == 1 || !plain_key.errors.empty(); }));
        REQUIRE_MESSAGE(plain_key.errors.empty(), plain_key.errors[0].message);
      }
      {
        Probe wrong_pass(l);
        auto w = options_for(broker.tls_uri(), "t2m-mtls-wrongpass");
        w.tls = TlsOptions{pki->ca_cert, pki->client_cert, pki->client_key_encrypted, "not-the-pass-phrase",
                           true};
        REQUIRE(wrong_pass.start(w).ok());
        REQUIRE(l.until([&] { return !wrong_pass.errors.empty() || wrong_pass.connects > 0; }));
        CHECK(wrong_pass.connects == 0);
        REQUIRE(wrong_pass.errors.size() == 1);
        MESSAGE(wrong_pass.errors[0].message);
        CHECK(wrong_pass.errors[0].message.find("client key") != std::string::npos);
        CHECK(wrong_pass.errors[0].message.find("not-the-pass-phrase") == std::string::npos);
      }
      {
        Probe anon(l);
        auto a = options_for(broker.tls_uri(), "t2m-mtls-anon");
        a.tls = TlsOptions{pki->ca_cert, "", "", "", true};
        REQUIRE(anon.start(a).ok());
        REQUIRE(l.until([&] { return !anon.errors.empty(); }));
        CHECK(anon.connects == 0);
        CHECK(anon.errors[0].code == "mqtt_tls_failed");
        MESSAGE(anon.errors[0].message);
        CHECK(anon.errors[0].message.find(pki->key_password) == std::string::npos);
      }
    }

    SUBCASE("nothing listening on the TLS port is not a TLS error: retries, no on_error") {
      uint16_t port = t2m::test::free_port();
      Loop l;
      Probe c(l);
      auto o = options_for("ssl://127.0.0.1:" + std::to_string(port), "t2m-tls-down");
      o.tls = TlsOptions{pki->ca_cert, "", "", "", true};
      REQUIRE(c.start(o).ok());
      CHECK(l.until([&] { return c.client.stats().connect_failures >= 3; }));
      l.run_for(200);  // let a probe finish
      CHECK(c.errors.empty());
      CHECK(c.connects == 0);
    }

    SUBCASE("unreadable certificate files are refused synchronously") {
      Loop l;
      PahoClient c(*l.ex);
      auto o = options_for("ssl://127.0.0.1:1", "t2m-nofile");
      o.tls = TlsOptions{pki_dir.file("missing-ca.crt"), "", "", "", true};
      auto st = c.connect(o, {});
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == "mqtt_tls_file");
      CHECK(st.error().message.find("missing-ca.crt") != std::string::npos);
    }
  }

  TEST_CASE("invalid options are refused synchronously") {
    Loop l;
    PahoClient c(*l.ex);
    CHECK(c.connect(options_for("http://127.0.0.1:1883", "x"), {}).error().code == "mqtt_config_invalid");
    PahoClient d(*l.ex);
    auto o = options_for("tcp://127.0.0.1:1883", "x");
    o.tls = TlsOptions{};
    CHECK(d.connect(o, {}).error().code == "mqtt_config_invalid");
    PahoClient w(*l.ex);
    auto wo = options_for("tcp://127.0.0.1:1883", "x");
    wo.will = Message{"", "offline"};
    CHECK(w.connect(wo, {}).error().code == "mqtt_config_invalid");
    PahoClient e(*l.ex);
    CHECK(e.publish(Message{"a", "b"}).error().code == "mqtt_not_started");
    bool done = false;
    e.disconnect([&] { done = true; });  // never connected: still completes
    CHECK(l.until([&] { return done; }, 1000));
  }
}

}  // namespace t2m_paho_client_test

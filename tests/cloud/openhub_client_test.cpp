#include "cloud/openhub_client.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <deque>
#include <vector>

#include "common/log.h"
#include "common/loop_executor.h"
#include "common/uv_handle.h"
#include "mqtt/paho_client.h"
#include "tests/fakes/fake_mqtt_client.h"
#include "tests/fakes/fake_timers.h"
#include "tests/support/mosquitto.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_openhub_client_test {

using namespace t2m;
using namespace t2m::cloud;
using namespace t2m::cloud::push;

namespace {

constexpr std::string_view PASSWORD = "9f2a5c1e7b3d4f60a8c2e4b6d8f0a1c3";
constexpr std::string_view TOPIC = "cloud/token/in/abc";

struct RecordingSink : PushSink {
  std::vector<PushMessage> got;
  std::vector<bool> channel;
  std::vector<Error> errors;
  void on_push(const PushMessage& m) override { got.push_back(m); }
  void on_push_channel(std::string_view, bool up) override { channel.push_back(up); }
  void on_push_error(std::string_view, const Error& e) override { errors.push_back(e); }
};

nlohmann::json config_json(std::string_view password = PASSWORD, int64_t expire = 7200) {
  return {{"url", "tcp://127.0.0.1:1883"},
          {"client_id", "cloud_0123abcd"},
          {"username", "cloud_0123abcd"},
          {"password", password},
          {"expire_time", expire},
          {"source_topic", {{"device", TOPIC}}},
          {"sink_topic", {{"device", "cloud/token/out/abc"}}}};
}

// A scripted fetcher: each call pops the next answer; calls are recorded.
struct ScriptedFetcher {
  std::deque<Result<OpenhubConfig>> answers;
  size_t calls = 0;
  OpenhubConfigFetcher fn() {
    return [this](OpenhubConfigDone done) {
      ++calls;
      if (answers.empty()) {
        done(fail("http", "no answer scripted"));
        return;
      }
      auto a = std::move(answers.front());
      answers.pop_front();
      done(std::move(a));
    };
  }
};

struct Factory {
  std::vector<mqtt::FakeMqttClient*> made;
  MqttClientFactory fn() {
    return [this]() -> mqtt::ClientPtr {
      auto c = std::make_unique<mqtt::FakeMqttClient>();
      made.push_back(c.get());
      return c;
    };
  }
};

OpenhubConfig cfg(std::string_view version = OPENHUB_V1, int64_t expire = 7200,
                  std::string_view password = PASSWORD) {
  auto c = parse_openhub_config(config_json(password, expire), version);
  REQUIRE(c.ok());
  return c.value();
}

std::string envelope_v1(int protocol, std::string_view plain, uint64_t t) {
  return make_envelope(protocol, encrypt_ecb_data(plain, *openhub_key(PASSWORD)), t);
}

}  // namespace

TEST_SUITE("openhub_client") {
  TEST_CASE("config request body and result parsing") {
    auto body = openhub_config_request("bay1", "t2m.1234", OPENHUB_V1);
    CHECK(
        body.dump() ==
        R"({"link_id":"t2m.1234","link_type":"mqtt","msg_encrypted_version":"1.0","topics":"device","uid":"bay1"})");
    auto c = parse_openhub_config(config_json(), OPENHUB_V2);
    REQUIRE(c.ok());
    CHECK(c->url == "tcp://127.0.0.1:1883");
    CHECK(c->client_id == "cloud_0123abcd");
    CHECK(c->expire_time_s == 7200);
    CHECK(c->source_topics == std::vector<std::string>{std::string(TOPIC)});
    CHECK(c->msg_encrypted_version == "2.0");
    auto bad = config_json();
    bad.erase("source_topic");
    CHECK(parse_openhub_config(bad, OPENHUB_V1).error().code == "openhub.config");
    CHECK_FALSE(parse_openhub_config(config_json("short"), OPENHUB_V1).ok());
    auto http = config_json();
    http["url"] = "http://x";
    CHECK_FALSE(parse_openhub_config(http, OPENHUB_V1).ok());
    CHECK_FALSE(parse_openhub_config(config_json(), "3.0").ok());
    CHECK_FALSE(parse_openhub_config(nlohmann::json::array(), OPENHUB_V1).ok());
  }

  TEST_CASE("connects with the config, subscribes, decrypts 1.0 messages into events") {
    FakeTimers timers;
    RecordingSink sink;
    ScriptedFetcher fetcher;
    Factory factory;
    fetcher.answers.push_back(cfg());
    OpenhubClient oh(timers, sink, fetcher.fn(), factory.fn());
    REQUIRE(oh.start().ok());
    REQUIRE(factory.made.size() == 1);
    auto* c = factory.made[0];
    CHECK(c->options().client_id == "cloud_0123abcd");
    CHECK(c->options().username == "cloud_0123abcd");
    CHECK(c->options().password == PASSWORD);
    CHECK_FALSE(c->options().tls.has_value());
    CHECK(oh.state() == OpenhubState::CONNECTING);
    c->simulate_connect();
    CHECK(oh.state() == OpenhubState::CONNECTED);
    CHECK(c->subscriptions.count(std::string(TOPIC)) == 1);
    CHECK(sink.channel == std::vector<bool>{true});
    c->inject(std::string(TOPIC), envelope_v1(20, R"({"devId":"d1","bizCode":"online"})", 1700000000123));
    c->inject(
        std::string(TOPIC),
        envelope_v1(4, R"({"dataId":"x","devId":"d1","status":[{"code":"switch_1","value":true,"t":5}]})",
                    1700000000124));
    c->inject(std::string(TOPIC), "not an envelope");
    REQUIRE(sink.got.size() == 2);
    CHECK(std::holds_alternative<Online>(sink.got[0].event));
    CHECK(std::get<StatusReport>(sink.got[1].event).items.at(0).t_ms == 5000);
    CHECK(oh.counters().by_reason.at(std::string(ERR_BAD_ENVELOPE)) == 1);
    c->simulate_connection_lost();
    CHECK(sink.channel == std::vector<bool>{true, false});
    c->simulate_connect();  // the MQTT client reconnected by itself
    CHECK(sink.channel == std::vector<bool>{true, false, true});
    CHECK(oh.stats().connection_losses == 1);
  }

  TEST_CASE("2.0 messages verify with either AAD form") {
    FakeTimers timers;
    RecordingSink sink;
    ScriptedFetcher fetcher;
    Factory factory;
    fetcher.answers.push_back(cfg(OPENHUB_V2));
    OpenhubClient oh(timers, sink, fetcher.fn(), factory.fn());
    REQUIRE(oh.start().ok());
    factory.made[0]->simulate_connect();
    Bytes key = *openhub_key(PASSWORD);
    Bytes iv = hex_literal("a0a1a2a3a4a5a6a7a8a9aaab");
    std::string plain = R"({"devId":"d1","bizCode":"offline"})";
    factory.made[0]->inject(
        std::string(TOPIC),
        make_envelope(20, encrypt_openhub_gcm_data(plain, key, iv, AadForm::DECIMAL_TEXT, 17), 17));
    factory.made[0]->inject(
        std::string(TOPIC),
        make_envelope(20, encrypt_openhub_gcm_data(plain, key, iv, AadForm::BE48, 18), 18));
    CHECK(sink.got.size() == 2);
    CHECK(oh.counters().aad_forms.at("decimal-text") == 1);
    CHECK(oh.counters().aad_forms.at("be48") == 1);
  }

  TEST_CASE("config rotation before expiry: new client connects, then the old one is dropped") {
    FakeTimers timers;
    RecordingSink sink;
    ScriptedFetcher fetcher;
    Factory factory;
    fetcher.answers.push_back(cfg(OPENHUB_V1, 300));
    fetcher.answers.push_back(cfg(OPENHUB_V1, 300, "ffffffff7b3d4f60a8c2e4b6d8f0a1c3"));
    OpenhubClient oh(timers, sink, fetcher.fn(), factory.fn());
    REQUIRE(oh.start().ok());
    factory.made[0]->simulate_connect();
    timers.advance(239'000);
    CHECK(fetcher.calls == 1);
    timers.advance(1'000);  // 300 s - 60 s margin
    CHECK(fetcher.calls == 2);
    REQUIRE(factory.made.size() == 2);
    CHECK(oh.clients() == 2);
    CHECK(factory.made[0]->disconnect_calls == 0);  // still serving until the new one is up
    factory.made[1]->simulate_connect();
    CHECK(factory.made[0]->disconnect_calls == 1);
    CHECK(oh.stats().rotations == 1);
    timers.advance(1);
    CHECK(oh.clients() == 1);
    CHECK(sink.channel == std::vector<bool>{true});  // no gap was reported
    CHECK(oh.state() == OpenhubState::CONNECTED);
  }

  TEST_CASE("refused credentials fetch a new config at once; fetch failures back off") {
    FakeTimers timers;
    RecordingSink sink;
    ScriptedFetcher fetcher;
    Factory factory;
    OpenhubOptions o;
    o.jitter_seed = 7;
    fetcher.answers.push_back(fail("http", "HTTP 500"));
    fetcher.answers.push_back(cfg());
    fetcher.answers.push_back(cfg());
    OpenhubClient oh(timers, sink, fetcher.fn(), factory.fn(), o);
    REQUIRE(oh.start().ok());
    CHECK(fetcher.calls == 1);
    CHECK(oh.state() == OpenhubState::WAITING_RETRY);
    CHECK(oh.stats().last_retry_delay_ms >= 800);
    CHECK(oh.stats().last_retry_delay_ms <= 1200);
    timers.advance(1200);
    CHECK(fetcher.calls == 2);
    REQUIRE(factory.made.size() == 1);
    factory.made[0]->simulate_error(Error{"mqtt_auth", "not authorised (rc 5)"});
    CHECK(oh.stats().auth_errors == 1);
    REQUIRE(sink.errors.size() == 1);
    CHECK(factory.made[0]->disconnect_calls == 1);
    timers.advance(1200);
    CHECK(fetcher.calls == 3);
    REQUIRE(factory.made.size() == 2);
    factory.made[1]->simulate_connect();
    CHECK(oh.state() == OpenhubState::CONNECTED);
  }

  TEST_CASE("stop disconnects every client and reports completion") {
    FakeTimers timers;
    RecordingSink sink;
    ScriptedFetcher fetcher;
    Factory factory;
    fetcher.answers.push_back(cfg());
    OpenhubClient oh(timers, sink, fetcher.fn(), factory.fn());
    REQUIRE(oh.start().ok());
    factory.made[0]->simulate_connect();
    bool done = false;
    oh.stop([&] { done = true; });
    CHECK(factory.made[0]->disconnect_calls == 1);
    timers.advance(1);
    CHECK(done);
    CHECK(oh.clients() == 0);
    CHECK(oh.state() == OpenhubState::STOPPED);
    CHECK(sink.channel == std::vector<bool>{true, false});
    CHECK(timers.pending() == 0);
  }
}

// ---- Against a real mosquitto standing in for Tuya's broker (§7), through PahoClient ----

namespace {

constexpr int BROKER_WAIT_MS = 10000;

struct QuietLogs {
  QuietLogs() { log_set_stderr(std::getenv("T2M_TEST_LOGS") != nullptr); }
  ~QuietLogs() { log_set_stderr(true); }
};

}  // namespace

TEST_SUITE("openhub_client") {
  TEST_CASE("real broker: refused credentials, new config, then encrypted envelopes become events") {
    QuietLogs quiet;
    const std::string user = "cloud_0123abcd";
    const std::string good = std::string(PASSWORD);
    const std::string bad = "00000000" + good.substr(8);  // same key, wrong broker password
    test::BrokerOptions bo;
    bo.users = {{user, good}, {"fake-cloud", "publisher-pass"}};
    test::MosquittoBroker broker(bo);
    REQUIRE_MESSAGE(broker.running(), broker.log());

    uv_loop_t loop{};
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      auto executor = std::make_unique<LoopExecutor>(&loop);
      UvTimers timers(&loop);
      RecordingSink sink;
      ScriptedFetcher fetcher;
      auto with_password = [&](const std::string& pw) {
        auto j = config_json(pw, 7200);
        j["url"] = broker.uri();
        j["client_id"] = "cloud_test_client";
        j["username"] = user;
        auto c = parse_openhub_config(j, OPENHUB_V1);
        REQUIRE(c.ok());
        return c.value();
      };
      fetcher.answers.push_back(with_password(bad));
      fetcher.answers.push_back(with_password(good));
      OpenhubOptions o;
      o.fetch_backoff_min_ms = 50;
      o.reconnect_min_ms = 50;
      o.reconnect_max_ms = 400;
      o.keep_alive_s = 5;
      o.jitter_seed = 3;
      auto oh = std::make_unique<OpenhubClient>(
          timers, sink, fetcher.fn(),
          [&]() -> mqtt::ClientPtr { return std::make_unique<mqtt::PahoClient>(*executor); }, o);
      REQUIRE(oh->start().ok());
      REQUIRE(test::run_loop_until(
          &loop, [&] { return oh->state() == OpenhubState::CONNECTED; }, BROKER_WAIT_MS));
      CHECK(oh->stats().auth_errors == 1);
      REQUIRE_FALSE(sink.errors.empty());
      CHECK(sink.errors[0].code == "mqtt_auth_refused");
      CHECK(fetcher.calls == 2);

      // The fake cloud publishes encrypted envelopes on the device's source topic.
      mqtt::PahoClient pub(*executor);
      mqtt::ConnectOptions po;
      po.server_uri = broker.uri();
      po.client_id = "fake-cloud-publisher";
      po.username = "fake-cloud";
      po.password = "publisher-pass";
      bool pub_up = false;
      mqtt::ClientHandlers ph;
      ph.on_connected = [&](bool) { pub_up = true; };
      REQUIRE(pub.connect(po, std::move(ph)).ok());
      REQUIRE(test::run_loop_until(
          &loop, [&] { return pub_up; }, BROKER_WAIT_MS));
      const std::string topic(TOPIC);
      CHECK(
          pub.publish(
                 {topic,
                  envelope_v1(
                      4,
                      R"({"dataId":"r1","devId":"d1","status":[{"code":"switch_1","value":true,"t":1700000000000}]})",
                      1700000000123),
                  mqtt::Qos::AT_LEAST_ONCE, false})
              .ok());
      CHECK(pub.publish({topic,
                         envelope_v1(20, R"({"devId":"d1","bizCode":"nameUpdate","bizData":{"name":"Desk"}})",
                                     1700000000124),
                         mqtt::Qos::AT_LEAST_ONCE, false})
                .ok());
      CHECK(pub.publish({topic, "garbage", mqtt::Qos::AT_LEAST_ONCE, false}).ok());
      REQUIRE(test::run_loop_until(
          &loop, [&] { return sink.got.size() == 2 && oh->counters().errors == 1; }, BROKER_WAIT_MS));
      CHECK(std::get<StatusReport>(sink.got[0].event).items.at(0).value == true);
      CHECK(std::get<NameUpdate>(sink.got[1].event).name == "Desk");

      bool oh_done = false, pub_done = false;
      oh->stop([&] { oh_done = true; });
      pub.disconnect([&] { pub_done = true; });
      REQUIRE(test::run_loop_until(
          &loop, [&] { return oh_done && pub_done; }, BROKER_WAIT_MS));
      CHECK(oh->clients() == 0);
      oh.reset();
      executor->close();
    }
    CHECK(uv_close_all_and_drain(&loop) == 0);
  }
}

}  // namespace t2m_openhub_client_test

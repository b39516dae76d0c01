#include "cloud/pulsar_client.h"

#include <doctest/doctest.h>

#include <functional>
#include <vector>

#include "cloud/pulsar_lws.h"
#include "common/uv_handle.h"
#include "protocol/crypto.h"
#include "tests/fakecloud/fake_pulsar.h"
#include "tests/fakes/fake_timers.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_pulsar_client_test {

using namespace t2m;
using namespace t2m::cloud;
using namespace t2m::cloud::push;

namespace {

constexpr std::string_view ACCESS_ID = "1KAD46OrT9HafiKdsXeg";
constexpr std::string_view ACCESS_SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC";
constexpr uint64_t WAIT_MS = 5000;  // every wait is bounded

struct RecordingSink : PushSink {
  std::vector<PushMessage> got;
  std::vector<bool> channel;
  std::vector<Error> errors;
  void on_push(const PushMessage& m) override { got.push_back(m); }
  void on_push_channel(std::string_view, bool up) override { channel.push_back(up); }
  void on_push_error(std::string_view, const Error& e) override { errors.push_back(e); }
  template <class T>
  size_t count() const {
    size_t n = 0;
    for (auto& m : got) n += std::holds_alternative<T>(m.event) ? 1 : 0;
    return n;
  }
};

// Runs the loop until `done()` or `timeout_ms` passes; returns done().
bool run_until(uv_loop_t* loop, const std::function<bool()>& done, uint64_t timeout_ms = WAIT_MS) {
  uint64_t deadline = uv_now(loop) + timeout_ms;
  while (!done() && uv_now(loop) < deadline) {
    uv_run(loop, UV_RUN_ONCE);
    uv_update_time(loop);
  }
  return done();
}

// Lets the loop spin for `ms` (to show that something does NOT happen).
void run_for(uv_loop_t* loop, uint64_t ms) {
  uint64_t until = uv_now(loop) + ms;
  run_until(
      loop, [&] { return uv_now(loop) >= until; }, ms + 100);
}

struct Fixture {
  uv_loop_t loop{};
  std::unique_ptr<UvTimers> timers;
  RecordingSink sink;
  std::unique_ptr<fakecloud::FakePulsar> fake;
  std::unique_ptr<PulsarClient> client;

  Fixture() {
    REQUIRE(uv_loop_init(&loop) == 0);
    timers = std::make_unique<UvTimers>(&loop);
    fake = std::make_unique<fakecloud::FakePulsar>(&loop, *timers);
    REQUIRE(fake->start().ok());
  }
  PulsarOptions options(std::string_view secret = ACCESS_SECRET) const {
    PulsarOptions o;
    o.url = fake->url();
    o.access_id = std::string(ACCESS_ID);
    o.access_secret = std::string(secret);
    o.reconnect_min_ms = 50;
    o.reconnect_max_ms = 400;
    o.jitter_seed = 42;
    return o;
  }
  void start_client(PulsarOptions o) {
    client = std::make_unique<PulsarClient>(&loop, *timers, sink, std::move(o));
    REQUIRE(client->start().ok());
  }
  ~Fixture() {
    client.reset();
    fake.reset();
    timers.reset();
    // lws finishes closing on later iterations: let it, before the close-walk.
    CHECK(lws_drain(&loop));
    CHECK(lws_contexts_finishing() == 0);
    CHECK_FALSE(uv_loop_alive(&loop));
    CHECK(uv_close_all_and_drain(&loop) == 0);
  }
};

}  // namespace

TEST_SUITE("pulsar_client") {
  TEST_CASE("region table (§3)") {
    CHECK(pulsar_url_for_region("us") == "wss://mqe.tuyaus.com:8285/");
    CHECK(pulsar_url_for_region("eu") == "wss://mqe.tuyaeu.com:8285/");
    CHECK(pulsar_url_for_region("cn") == "wss://mqe.tuyacn.com:8285/");
    CHECK(pulsar_url_for_region("in") == "wss://mqe.tuyain.com:8285/");
    CHECK(pulsar_url_for_region("sg") == "wss://mqe-sg.iotbing.com:8285/");
    CHECK_FALSE(pulsar_url_for_region("mars").has_value());
  }

  TEST_CASE("request path and option validation") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      FakeTimers timers;
      RecordingSink sink;
      PulsarOptions o;
      o.access_id = std::string(ACCESS_ID);
      o.access_secret = "short";
      PulsarClient a(&loop, timers, sink, o);
      auto s = a.start();
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().code == "pulsar.config");
      o.access_secret = std::string(ACCESS_SECRET);
      o.url = "https://mqe.tuyaus.com/";
      PulsarClient b(&loop, timers, sink, o);
      CHECK_FALSE(b.start().ok());
      o.url = "wss://mqe.tuyaus.com:8285";
      o.env = "prod";
      PulsarClient c(&loop, timers, sink, o);
      CHECK_FALSE(c.start().ok());
      CHECK(c.state() == PulsarState::STOPPED);
    }
    CHECK(uv_close_all_and_drain(&loop) == 0);
  }

  TEST_CASE("connects with the §6.c credentials, decodes ECB and GCM frames of every kind, acks each") {
    Fixture f;
    f.start_client(f.options());
    REQUIRE(run_until(&f.loop, [&] { return f.client->state() == PulsarState::CONNECTED; }));
    CHECK(f.client->request_path() ==
          f.fake->expected_path() + "?ackTimeoutMillis=3000&subscriptionType=Failover");
    CHECK(f.fake->auth_rejections() == 0);

    // Protocol 4 code variant (ECB), dpId-only variant (GCM), out-of-order (older, GCM), newer (ECB).
    f.fake->publish(
        4,
        R"({"dataId":"d1","devId":"dev1","status":[{"code":"switch_1","value":true,"t":2000,"1":"true"}]})",
        EM_AES_ECB);
    f.fake->publish(4, R"({"dataId":"d2","devId":"dev1","status":[{"dpId":2,"value":55,"t":2000}]})",
                    EM_AES_GCM);
    f.fake->publish(4,
                    R"({"dataId":"d3","devId":"dev1","status":[{"code":"switch_1","value":false,"t":1000}]})",
                    EM_AES_GCM);
    f.fake->publish(
        4, R"({"dataId":"d4","devId":"dev1","status":[{"code":"switch_1","value":false,"t":"3000"}]})",
        EM_AES_ECB);
    // Every protocol-20 bizCode, alternating ciphers.
    const char* biz[] = {
        R"({"devId":"dev1","bizCode":"online","bizData":{"time":1700000000},"ts":1700000000123})",
        R"({"devId":"dev1","bizCode":"offline","bizData":{"time":1700000000}})",
        R"({"devId":"dev1","bizCode":"nameUpdate","bizData":{"devId":"dev1","name":"Kitchen lamp"}})",
        R"({"devId":"dev1","bizCode":"dpNameUpdate","bizData":{"devId":"dev1","dpId":"1","name":"Left"}})",
        R"({"devId":"dev2","bizCode":"bindUser","bizData":{"devId":"dev2","uid":"ay1","ownerId":"123","token":"t"}})",
        R"({"devId":"dev2","bizCode":"delete","bizData":{"devId":"dev2","uid":"ay1","ownerId":"123"}})",
        R"({"devId":"dev1","bizCode":"upgradeStatus","bizData":{"devId":"dev1","upgradeStatus":2,"progress":40}})",
    };
    int i = 0;
    for (const char* b : biz) f.fake->publish(20, b, (i++ % 2) ? EM_AES_GCM : EM_AES_ECB);
    f.fake->publish(25,
                    R"({"bizCode":"sceneExecute","bizData":{"id":"sc1","name":"Good night"},"actions":[]})",
                    EM_AES_GCM);
    f.fake->publish(99, R"({"bizCode":"future"})", EM_AES_ECB);
    // Undecryptable: garbage ciphertext inside a valid envelope; and a payload that is not base64.
    f.fake->publish_payload(
        proto::crypto::base64_encode(as_bytes(make_envelope(4, "AAAAAAAAAAAAAAAAAAAAAA==", 1))), EM_AES_ECB);
    f.fake->publish_payload("%%%", EM_AES_GCM);
    f.fake->send_raw("this is not a frame");

    const size_t published = 4 + 7 + 1 + 1 + 2;
    REQUIRE(
        run_until(&f.loop, [&] { return f.fake->acked().size() == published && f.fake->unacked() == 0; }));
    // Delivered: 3 status reports (the t=1000 one is stale), 7 device events, the scene, the unknown one.
    CHECK(f.sink.count<StatusReport>() == 3);
    CHECK(f.sink.count<Online>() == 1);
    CHECK(f.sink.count<Offline>() == 1);
    CHECK(f.sink.count<NameUpdate>() == 1);
    CHECK(f.sink.count<DpNameUpdate>() == 1);
    CHECK(f.sink.count<BindUser>() == 1);
    CHECK(f.sink.count<Delete>() == 1);
    CHECK(f.sink.count<push::UpgradeStatus>() == 1);
    CHECK(f.sink.count<SceneRun>() == 1);
    CHECK(f.sink.count<Unknown>() == 1);
    CHECK(std::get<StatusReport>(f.sink.got[1].event).items.at(0).dp_id == 2);
    CHECK(std::get<StatusReport>(f.sink.got[2].event).items.at(0).t_ms == 3000000);
    const auto& c = f.client->counters();
    CHECK(c.stale_reports == 1);
    CHECK(c.by_reason.at(std::string(ERR_DECRYPT)) == 1);
    CHECK(c.by_reason.at(std::string(ERR_BAD_BASE64)) == 1);
    CHECK(c.by_reason.at(std::string(ERR_BAD_FRAME)) == 1);
    CHECK(c.unknown == 1);
    CHECK(f.client->stats().acks_sent == published);
    CHECK(f.sink.channel == std::vector<bool>{true});
  }

  TEST_CASE("lost acks: the fake redelivers, the client acks again and delivers once") {
    Fixture f;
    f.start_client(f.options());
    REQUIRE(run_until(&f.loop, [&] { return f.client->state() == PulsarState::CONNECTED; }));
    f.fake->lose_next_acks(2);
    f.fake->publish(20, R"({"devId":"dev1","bizCode":"online"})", EM_AES_GCM);
    REQUIRE(run_until(&f.loop, [&] { return f.fake->unacked() == 0; }));
    // Two redeliveries at least (more only if the machine is slower than ackTimeoutMillis).
    CHECK(f.fake->redeliveries() >= 2);
    CHECK(f.client->stats().acks_sent == f.fake->redeliveries() + 1);
    CHECK(f.sink.got.size() == 1);
    CHECK(f.client->counters().duplicates == f.fake->redeliveries());
  }

  TEST_CASE("dropped connection: the client reconnects with back-off and resumes") {
    Fixture f;
    f.start_client(f.options());
    REQUIRE(run_until(&f.loop, [&] { return f.client->state() == PulsarState::CONNECTED; }));
    f.fake->publish(20, R"({"devId":"dev1","bizCode":"online"})", EM_AES_ECB);
    REQUIRE(run_until(&f.loop, [&] { return f.sink.got.size() == 1; }));
    f.fake->drop_connections();
    REQUIRE(run_until(&f.loop, [&] { return f.client->state() != PulsarState::CONNECTED; }));
    CHECK(f.client->stats().disconnects == 1);
    CHECK(f.client->stats().last_retry_delay_ms >= 40);  // 50 ms +- 20 %
    CHECK(f.client->stats().last_retry_delay_ms <= 60);
    // Published while disconnected: delivered after the reconnect.
    f.fake->publish(20, R"({"devId":"dev1","bizCode":"offline"})", EM_AES_GCM);
    REQUIRE(run_until(&f.loop, [&] { return f.sink.got.size() == 2; }));
    CHECK(f.client->state() == PulsarState::CONNECTED);
    CHECK(f.fake->accepted_total() == 2);
    CHECK(f.client->stats().connects == 2);
    CHECK(std::holds_alternative<Offline>(f.sink.got[1].event));
    CHECK(f.sink.channel == std::vector<bool>{true, false, true});
    REQUIRE(run_until(&f.loop, [&] { return f.fake->unacked() == 0; }));
  }

  TEST_CASE("refused credentials: a clear error, counted, retried at the longest back-off") {
    Fixture f;
    f.start_client(f.options("4OHBOnWOqaECxxxxxxxxxxxxxxxxxxxx"));
    REQUIRE(run_until(
        &f.loop, [&] { return f.fake->auth_rejections() >= 1 && f.client->stats().connect_failures >= 1; }));
    CHECK(f.client->state() != PulsarState::CONNECTED);
    CHECK(f.sink.channel.empty());
    CHECK(f.fake->connections() == 0);
    CHECK(f.client->stats().auth_failures >= 1);
    REQUIRE_FALSE(f.sink.errors.empty());
    CHECK(f.sink.errors[0].code == "pulsar.auth");
    CHECK(f.sink.errors[0].message.find("HTTP 401") != std::string::npos);
    CHECK(f.client->stats().last_retry_delay_ms >= 320);  // the 400 ms maximum - 20 % jitter
  }

  TEST_CASE("oversized messages are dropped and counted, the connection survives") {
    Fixture f;
    auto o = f.options();
    o.max_message_bytes = 512;
    f.start_client(o);
    REQUIRE(run_until(&f.loop, [&] { return f.client->state() == PulsarState::CONNECTED; }));
    f.fake->send_raw(R"({"messageId":"big","payload":")" + std::string(4000, 'A') + "\"}");
    f.fake->publish(20, R"({"devId":"dev1","bizCode":"online"})", EM_AES_ECB);
    REQUIRE(run_until(&f.loop, [&] { return f.sink.got.size() == 1; }));
    CHECK(f.client->stats().oversize == 1);
    CHECK(f.client->state() == PulsarState::CONNECTED);
  }

  TEST_CASE("stop() from inside a PushSink callback is safe (the context is released next turn)") {
    Fixture f;
    struct StoppingSink : RecordingSink {
      PulsarClient* client = nullptr;
      void on_push(const PushMessage& m) override {
        RecordingSink::on_push(m);
        client->stop();
      }
    } stopping;
    auto o = f.options();
    f.client = std::make_unique<PulsarClient>(&f.loop, *f.timers, stopping, o);
    stopping.client = f.client.get();
    REQUIRE(f.client->start().ok());
    REQUIRE(run_until(&f.loop, [&] { return f.client->state() == PulsarState::CONNECTED; }));
    f.fake->publish(20, R"({"devId":"dev1","bizCode":"online"})", EM_AES_ECB);
    f.fake->publish(20, R"({"devId":"dev1","bizCode":"offline"})", EM_AES_ECB);
    REQUIRE(run_until(&f.loop, [&] { return f.fake->connections() == 0; }));
    CHECK(f.client->state() == PulsarState::STOPPED);
    CHECK(stopping.got.size() == 1);
    run_for(&f.loop, 100);
    CHECK(f.fake->accepted_total() == 1);
  }

  TEST_CASE("stop() closes the connection, cancels retries and leaves nothing on the loop") {
    Fixture f;
    f.start_client(f.options());
    REQUIRE(run_until(&f.loop, [&] { return f.client->state() == PulsarState::CONNECTED; }));
    f.client->stop();
    CHECK(f.client->state() == PulsarState::STOPPED);
    REQUIRE(run_until(&f.loop, [&] { return f.fake->connections() == 0; }));
    run_for(&f.loop, 200);
    CHECK(f.fake->accepted_total() == 1);  // no reconnect after stop
    CHECK(f.sink.channel == std::vector<bool>{true, false});
    // And it can start again.
    REQUIRE(f.client->start().ok());
    REQUIRE(run_until(&f.loop, [&] { return f.client->state() == PulsarState::CONNECTED; }));
    CHECK(f.fake->accepted_total() == 2);
  }
}

}  // namespace t2m_pulsar_client_test

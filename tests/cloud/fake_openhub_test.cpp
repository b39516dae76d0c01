// The fake open-hub (docs/cloud.md §6.b, §7): the fake OpenAPI answers the access-config call only to
// signed, well-formed requests, and the fake broker accepts the credentials it hands out and carries
// envelopes that decrypt with password[8..24) in both message versions.
#include "tests/fakecloud/fake_openhub.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <vector>

#include "cloud/openhub_client.h"
#include "cloud/push_envelope.h"
#include "common/log.h"
#include "common/loop_executor.h"
#include "common/uv_handle.h"
#include "mqtt/paho_client.h"
#include "tests/cloud/cloud_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_fake_openhub_test {

using namespace t2m;
using namespace t2m::cloud;
using nlohmann::json;

namespace {

constexpr int BROKER_WAIT_MS = 10000;

fakecloud::OpenhubAccess sample_access() {
  fakecloud::OpenhubAccess a;
  a.url = "tcp://127.0.0.1:18830";
  a.client_id = "cloud_abc";
  a.username = "cloud_user";
  a.password = "9f2a5c1e7b3d4f60a8c2e4b6d8f0a1c3";
  a.expire_time_s = 600;
  a.source_topic = "cloud/token/in/abc";
  return a;
}

std::optional<Result<json>> post(testing::Env& env, std::string_view path, const json& body) {
  return env.wait<json>(
      [&](Callback<json> cb) { env.channel().post(std::string(path), body, std::move(cb)); });
}

}  // namespace

TEST_SUITE("fake_openhub") {
  TEST_CASE("the fake OpenAPI answers the open-hub config call on both paths") {
    testing::Env env;
    auto uid = env.wait<std::string>([&](Callback<std::string> cb) { env.channel().connect(std::move(cb)); });
    REQUIRE(uid);
    REQUIRE(uid->ok());
    const json good = openhub_config_request(uid->value(), "tuya2mqtt.test");

    SUBCASE("not enabled: permission denied") {
      auto r = post(env, OPENHUB_CONFIG_PATH_INDUSTRY, good);
      REQUIRE(r);
      REQUIRE_FALSE(r->ok());
      CHECK(r->error().message.find("1106") != std::string::npos);
      CHECK(env.cloud.openhub_requests().empty());
    }
    SUBCASE("enabled: the result parses into the handed-out access") {
      env.cloud.set_openhub(sample_access());
      for (auto path : {OPENHUB_CONFIG_PATH_INDUSTRY, OPENHUB_CONFIG_PATH_SMART_HOME}) {
        auto r = post(env, path, good);
        REQUIRE(r);
        REQUIRE_MESSAGE(r->ok(), r->error().message);
        auto c = parse_openhub_config(r->value(), push::OPENHUB_V1);
        REQUIRE_MESSAGE(c.ok(), c.error().message);
        CHECK(c->url == "tcp://127.0.0.1:18830");
        CHECK(c->client_id == "cloud_abc");
        CHECK(c->username == "cloud_user");
        CHECK(c->password == "9f2a5c1e7b3d4f60a8c2e4b6d8f0a1c3");
        CHECK(c->expire_time_s == 600);
        CHECK(c->source_topics == std::vector<std::string>{"cloud/token/in/abc"});
      }
      REQUIRE(env.cloud.openhub_requests().size() == 2);
      CHECK(env.cloud.openhub_requests()[0] == good);
    }
    SUBCASE("malformed bodies and a foreign uid are refused") {
      env.cloud.set_openhub(sample_access());
      json bad_type = good;
      bad_type["link_type"] = "ws";
      json bad_version = good;
      bad_version["msg_encrypted_version"] = "3.0";
      json no_link = good;
      no_link.erase("link_id");
      for (const json& body : {bad_type, bad_version, no_link}) {
        auto r = post(env, OPENHUB_CONFIG_PATH_INDUSTRY, body);
        REQUIRE(r);
        REQUIRE_FALSE(r->ok());
        CHECK_MESSAGE(r->error().message.find("1109") != std::string::npos, body.dump());
      }
      auto r = post(env, OPENHUB_CONFIG_PATH_INDUSTRY, openhub_config_request("ay-someone-else", "l1"));
      REQUIRE(r);
      REQUIRE_FALSE(r->ok());
      CHECK(r->error().message.find("1106") != std::string::npos);
      CHECK(env.cloud.openhub_requests().empty());
    }
  }

  TEST_CASE("the fake broker takes the handed-out credentials and carries 1.0 and 2.0 envelopes") {
    log_set_stderr(std::getenv("T2M_TEST_LOGS") != nullptr);
    fakecloud::FakeOpenhub hub;
    REQUIRE(hub.start().ok());
    const fakecloud::OpenhubAccess access = hub.access();
    CHECK(access.url == hub.broker().uri());
    const auto key = push::openhub_key(access.password);
    REQUIRE(key);

    uv_loop_t loop{};
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      LoopExecutor executor(&loop);
      mqtt::PahoClient sub(executor);
      std::vector<std::string> got;
      bool up = false;
      std::vector<Error> errors;
      mqtt::ConnectOptions co;
      co.server_uri = access.url;
      co.client_id = access.client_id;
      co.username = access.username;
      co.password = access.password;
      mqtt::ClientHandlers h;
      h.on_connected = [&](bool) { up = true; };
      h.on_message = [&](mqtt::Message m) {
        if (m.topic == access.source_topic) got.push_back(m.payload);
      };
      h.on_error = [&](const Error& e) { errors.push_back(e); };
      REQUIRE(sub.connect(co, std::move(h)).ok());
      REQUIRE(test::run_loop_until(
          &loop, [&] { return up; }, BROKER_WAIT_MS));
      REQUIRE(sub.subscribe(access.source_topic, mqtt::Qos::AT_LEAST_ONCE).ok());
      test::run_loop_for(&loop, 100);  // the SUBACK

      const std::string plain = R"({"devId":"d1","status":[{"code":"switch_1","value":true,"t":1}]})";
      REQUIRE(hub.publish(4, plain, push::OPENHUB_V1, 1700000000123).ok());
      REQUIRE(hub.publish(4, plain, push::OPENHUB_V2, 1700000000124).ok());
      REQUIRE(hub.publish_raw("junk").ok());
      CHECK(hub.published() == 3);
      REQUIRE(test::run_loop_until(
          &loop, [&] { return got.size() == 3; }, BROKER_WAIT_MS));
      CHECK(errors.empty());

      const std::string_view versions[] = {push::OPENHUB_V1, push::OPENHUB_V2};
      for (size_t i = 0; i < 2; ++i) {
        auto env = push::parse_envelope(got[i]);
        REQUIRE(env.ok());
        CHECK(env->protocol == 4);
        auto text = push::decrypt_openhub_data(*env, versions[i], *key);
        REQUIRE_MESSAGE(text.ok(), text.error().message);
        CHECK(text->text == plain);
      }
      CHECK(got[2] == "junk");
      CHECK_FALSE(hub.publish(4, plain, "3.0").ok());

      bool closed = false;
      sub.disconnect([&] { closed = true; });
      test::run_loop_until(
          &loop, [&] { return closed; }, BROKER_WAIT_MS);
      executor.close();
    }
    test::run_loop_for(&loop, 20);
    CHECK(uv_close_all_and_drain(&loop) == 0);
    log_set_stderr(true);
  }
}

}  // namespace t2m_fake_openhub_test

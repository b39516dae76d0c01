// The OpenAPI channel: regions, signing, the token lifecycle, retries and back-off, clock skew, account
// problems that stop the client, rate buckets, bounded concurrency and cancellation. Requests are made
// through a few typed calls of the catalogue, the simplest way to get a signed call with a known answer.
#include "cloud/openapi_channel.h"

#include <doctest/doctest.h>

#include "cloud/openapi.h"
#include "tests/cloud/cloud_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_openapi_channel_test {

using namespace t2m;
using namespace t2m::cloud;
using nlohmann::json;
using t2m::cloud::testing::Env;

namespace {

const char* const BULB = "bf0000000000000bulb1";
const char* const PLUG = "bf0000000000000plug1";
const char* const GATEWAY = "bf00000000000000gw01";

std::string header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "<none>";
}

}  // namespace

TEST_CASE("regions map to OpenAPI base URLs and unknown regions are refused") {
  CHECK(*region_base_url("cn") == "https://openapi.tuyacn.com");
  CHECK(*region_base_url("us") == "https://openapi.tuyaus.com");
  CHECK(*region_base_url("us-e") == "https://openapi-ueaz.tuyaus.com");
  CHECK(*region_base_url("eu") == "https://openapi.tuyaeu.com");
  CHECK(*region_base_url("eu-w") == "https://openapi-weaz.tuyaeu.com");
  CHECK(*region_base_url("in") == "https://openapi.tuyain.com");
  CHECK(*region_base_url("sg") == "https://openapi-sg.iotbing.com");
  CHECK(*region_base_url("az") == *region_base_url("us"));
  CHECK_FALSE(region_base_url("mars").ok());
  CHECK(known_regions().size() == 7);
  for (const auto& r : known_regions()) CHECK(region_base_url(r).ok());
}

TEST_CASE("first call fetches a token, signs with nonce, and the fake verifies every signature") {
  Env e;
  auto r = e.get_device(BULB);
  REQUIRE(r.has_value());
  REQUIRE(r->ok());
  CHECK(r->value().local_key == "k3yBulb0000000001");
  CHECK(r->value().name == "Desk Lamp");
  CHECK(e.cloud.grants() == 1);
  CHECK(e.cloud.sign_rejects() == 0);
  REQUIRE(e.http.sent().size() == 2);
  const HttpRequest& tok = e.http.sent()[0];
  CHECK(tok.url == "http://fake.invalid/v1.0/token?grant_type=1");
  CHECK(header(tok, "access_token") == "<none>");
  CHECK(header(tok, "nonce") == "nonce1");
  CHECK(header(tok, "sign_method") == "HMAC-SHA256");
  CHECK(header(tok, "sign").size() == 64);
  const HttpRequest& dev = e.http.sent()[1];
  CHECK(header(dev, "access_token").rfind("fake-at-", 0) == 0);
  CHECK(header(dev, "t").size() == 13);
  CHECK(e.channel().project_uid() == e.cloud.options().project_uid);
}

TEST_CASE("concurrent calls share one token fetch") {
  Env e;
  int done = 0;
  for (int i = 0; i < 5; ++i) {
    e.api->get_device(BULB, [&](Result<DeviceInfo> r) { done += r.ok() ? 1 : 100; });
  }
  CHECK(e.run_until([&] { return done >= 5; }));
  CHECK(done == 5);
  CHECK(e.cloud.grants() == 1);
  CHECK(e.cloud.count("GET /v1.0/token") == 1);
}

TEST_CASE("token is refreshed before expiry, with the single-use refresh token") {
  fakecloud::FakeCloud::Options o;
  o.expire_time_s = 10;
  Env e(o);
  REQUIRE(e.get_device(BULB)->ok());
  e.timers.advance(6000);  // inside the refresh margin (half the lifetime for short tokens)
  REQUIRE(e.get_device(BULB)->ok());
  CHECK(e.cloud.grants() == 1);
  CHECK(e.cloud.refreshes() == 1);
  e.timers.advance(6000);
  REQUIRE(e.get_device(BULB)->ok());
  CHECK(e.cloud.refreshes() == 2);
  CHECK(e.channel().stats().token_refreshes == 2);
}

TEST_CASE("token expired server-side mid-run: refresh and retry once") {
  Env e;
  REQUIRE(e.get_device(BULB)->ok());
  e.cloud.expire_all_tokens();
  auto r = e.get_device(PLUG);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.cloud.refreshes() == 1);
  CHECK(e.cloud.count("GET /v1.0/devices/" + std::string(PLUG)) == 2);
}

TEST_CASE("token invalid (1011): a fresh grant and one retry") {
  Env e;
  REQUIRE(e.get_device(BULB)->ok());
  e.cloud.revoke_all_tokens();
  auto r = e.get_device(BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.cloud.grants() == 2);
}

TEST_CASE("a token that keeps failing is retried only once") {
  Env e;
  REQUIRE(e.get_device(BULB)->ok());
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{1011, "token invalid", 0, false, false, 5});
  auto r = e.get_device(BULB);
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ERR_TOKEN);
  CHECK(e.cloud.count("GET /v1.0/devices/") == 3);  // first, then exactly one retry
}

TEST_CASE("a refused refresh falls back to a new grant") {
  fakecloud::FakeCloud::Options o;
  o.expire_time_s = 10;
  Env e(o);
  REQUIRE(e.get_device(BULB)->ok());
  e.cloud.revoke_all_tokens();  // the refresh token is gone too
  e.timers.advance(8000);
  auto r = e.get_device(BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.cloud.grants() == 2);
  CHECK(e.cloud.refreshes() == 0);
}

TEST_CASE("clock skew (1013) is corrected from the server's t") {
  fakecloud::FakeCloud::Options o;
  o.clock_offset_ms = 20 * 60 * 1000;
  Env e(o);
  auto r = e.get_device(BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.channel().clock_offset_ms() >= 20 * 60 * 1000 - 100);
  CHECK(e.channel().clock_offset_ms() <= 20 * 60 * 1000 + 100);
}

TEST_CASE("throttling codes back off and retry") {
  Env e;
  e.cloud.fail("GET /v1.0/devices/",
               fakecloud::Failure{1199, "your requests are too frequent", 0, false, false, 2});
  const uint64_t start = e.timers.now_ms();
  auto r = e.get_device(BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.channel().stats().throttled == 2);
  CHECK(e.timers.now_ms() - start >= 3000);  // 1 s then 2 s

  e.cloud.fail("GET /v1.0/devices/",
               fakecloud::Failure{1110, "concurrent request over limit", 0, false, false, 10});
  r = e.get_device(BULB);
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ERR_THROTTLED);
  CHECK(e.cloud.count("GET /v1.0/devices/") == 3 + 4);
}

TEST_CASE("server errors: code 500 and HTTP 5xx retried for GET, not for POST") {
  Env e;
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{500, "system error", 0, false, false, 1});
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{0, "", 503, false, false, 1});
  auto r = e.get_device(BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  e.cloud.fail("POST /v1.0/devices/", fakecloud::Failure{0, "", 502, false, false, 1});
  auto w = e.wait<bool>([&](Callback<bool> cb) {
    e.api->send_commands(BULB, {{"switch_led", true}}, std::move(cb));
  });
  REQUIRE(w.has_value());
  REQUIRE_FALSE(w->ok());
  CHECK(w->error().code == ERR_TRANSPORT);
  CHECK(e.cloud.count("POST /v1.0/devices/") == 1);
}

TEST_CASE("malformed answers and time-outs become errors, not crashes") {
  Env e;
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{0, "", 0, true, false, 1});
  auto r = e.get_device(BULB);
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ERR_MALFORMED);

  e.config.max_retries = 1;
  e.config.request_timeout_ms = 2000;
  e.make_api();
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{0, "", 0, false, true, 5});
  r = e.get_device(BULB);
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ERR_TRANSPORT);
  CHECK(r->error().message.find("timed out") != std::string::npos);

  // A well-formed envelope with a result of the wrong shape.
  e.cloud.clear_failures();
  auto f = e.wait<std::vector<FirmwareInfo>>([&](auto cb) { e.api->get_firmware(GATEWAY, std::move(cb)); });
  REQUIRE(f.has_value());
  CHECK(f->ok());  // empty list is fine
}

TEST_CASE("account problems stop the client with an actionable message") {
  SUBCASE("trial expired") {
    Env e;
    e.cloud.fail("GET /v1.0/token",
                 fakecloud::Failure{
                     28841002, "No permissions. Your subscription to cloud development plan has expired.", 0,
                     false, false, 1});
    auto r = e.get_device(BULB);
    REQUIRE(r.has_value());
    REQUIRE_FALSE(r->ok());
    CHECK(r->error().code == ERR_TRIAL_EXPIRED);
    CHECK(r->error().message.find("extend") != std::string::npos);
    REQUIRE(e.channel().stopped().has_value());
    const size_t before = e.cloud.request_log().size();
    r = e.get_device(BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_STOPPED);
    CHECK(e.cloud.request_log().size() == before);  // nothing sent
    e.channel().resume();
    CHECK(e.get_device(BULB)->ok());
  }
  SUBCASE("quota used up on a business call") {
    Env e;
    e.cloud.fail("GET /v1.0/devices/",
                 fakecloud::Failure{28841004, "Your quota of Trial Edition is used up", 0, false, false, 1});
    auto r = e.get_device(BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_QUOTA);
    CHECK(e.channel().stopped().has_value());
  }
  SUBCASE("wrong secret") {
    Env e;
    e.config.access_secret = "not-the-secret-0000000000000000";
    e.make_api();
    auto r = e.get_device(BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_SIGN);
    CHECK(e.channel().stopped().has_value());
    CHECK(e.cloud.sign_rejects() == 1);
  }
  SUBCASE("wrong access id") {
    Env e;
    e.config.access_id = "someoneelse000000000";
    e.make_api();
    auto r = e.get_device(BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_CONFIG);
  }
  SUBCASE("API not authorised is per API and does not stop") {
    Env e;
    e.cloud.fail(
        "GET /v1.0/devices/",
        fakecloud::Failure{28841105, "No permissions. This project is not authorized to call this API", 0,
                           false, false, 1});
    auto r = e.get_device(BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_NOT_AUTHORIZED);
    CHECK(r->error().message.find("authorise") != std::string::npos);
    CHECK_FALSE(e.channel().stopped().has_value());
  }
  SUBCASE("configuration errors without network") {
    Env e;
    e.config.access_id.clear();
    e.make_api();
    auto r = e.get_device(BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_CONFIG);
    CHECK(e.http.sent().empty());
  }
}

TEST_CASE("per-API rate limits space out calls") {
  Env e;
  int done = 0;
  for (int i = 0; i < 8; ++i) {
    e.api->issue_properties(BULB, {{"switch_led", i % 2 == 0}},
                            [&](Result<bool> r) { done += r.ok() ? 1 : 100; });
  }
  REQUIRE(e.run_until([&] { return done >= 8; }));
  CHECK(done == 8);
  std::vector<uint64_t> at;
  for (size_t i = 0; i < e.http.sent().size(); ++i) {
    if (e.http.sent()[i].url.find("/shadow/properties/issue") != std::string::npos)
      at.push_back(e.http.sent_at()[i]);
  }
  REQUIRE(at.size() == 8);
  for (size_t i = 1; i < at.size(); ++i) CHECK(at[i] - at[i - 1] >= 250);  // 4 per second
  CHECK(e.cloud.writes().size() == 8);
}

TEST_CASE("concurrency is bounded") {
  Env e;
  e.config.max_concurrent = 2;
  e.config.default_qps = 1000;
  e.make_api();
  int done = 0;
  for (int i = 0; i < 10; ++i)
    e.api->get_device(BULB, [&](Result<DeviceInfo> r) { done += r.ok() ? 1 : 100; });
  REQUIRE(e.run_until([&] { return done >= 10; }));
  CHECK(done == 10);
  CHECK(e.http.peak_in_flight() <= 2);
}

TEST_CASE("connect obtains a token and cancel_all fails pending calls") {
  Env e;
  auto c = e.wait<std::string>([&](auto cb) { e.channel().connect(std::move(cb)); });
  REQUIRE(c->ok());
  CHECK(c->value() == e.cloud.options().project_uid);
  CHECK(e.channel().has_token());
  std::optional<Result<DeviceInfo>> out;
  e.api->get_device(BULB, [&](Result<DeviceInfo> r) { out.emplace(std::move(r)); });
  e.channel().cancel_all();
  REQUIRE(out.has_value());
  CHECK(out->error().code == ERR_CANCELLED);
  e.timers.advance(1000);
  CHECK(e.http.in_flight() == 0);
}

}  // namespace t2m_openapi_channel_test

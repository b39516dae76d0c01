#include "cloud/openapi.h"

#include <doctest/doctest.h>

#include <set>

#include "tests/cloud/cloud_test_util.h"

using namespace t2m;
using namespace t2m::cloud;
using nlohmann::json;
using t2m::cloud::testing::Env;

namespace {

const char* const BULB = "bf0000000000000bulb1";
const char* const PLUG = "bf0000000000000plug1";
const char* const GATEWAY = "bf00000000000000gw01";
const char* const OWNER = "ay1700000000000owner";

std::optional<Result<DeviceInfo>> get_device(Env& e, const std::string& id) {
  return e.wait<DeviceInfo>([&](Callback<DeviceInfo> cb) { e.api->get_device(id, std::move(cb)); });
}

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

TEST_CASE("error codes map to the reference's actions") {
  CHECK(classify_tuya_code(1010).action == CodeAction::REFRESH_TOKEN);
  CHECK(classify_tuya_code(1011).action == CodeAction::NEW_TOKEN);
  CHECK(classify_tuya_code(1400).action == CodeAction::NEW_TOKEN);
  CHECK(classify_tuya_code(1013).action == CodeAction::CLOCK_SKEW);
  for (int c : {500, 1110, 1111, 1112, 1199})
    CHECK(classify_tuya_code(c).action == CodeAction::RETRY_BACKOFF);
  for (int c : {1001, 1005, 1008, 28841002, 28841004})
    CHECK(classify_tuya_code(c).action == CodeAction::STOP);
  for (int c : {1000, 2002, 2003, 2005, 2006, 2010})
    CHECK(std::string(classify_tuya_code(c).error_code) == ERR_NOT_FOUND);
  CHECK(std::string(classify_tuya_code(2001).error_code) == ERR_OFFLINE);
  CHECK(std::string(classify_tuya_code(28841105).error_code) == ERR_NOT_AUTHORIZED);
  CHECK(classify_tuya_code(28841105).action == CodeAction::FAIL);
  CHECK(std::string(classify_tuya_code(1106).hint).find("data center") != std::string::npos);
  CHECK(std::string(classify_tuya_code(424242).error_code) == ERR_OTHER);
  CHECK(tuya_code_of(Error{"x", "[1106] permission deny"}) == 1106);
  CHECK(tuya_code_of(Error{"x", "no code"}) == 0);
}

TEST_CASE("first call fetches a token, signs with nonce, and the fake verifies every signature") {
  Env e;
  auto r = get_device(e, BULB);
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
  CHECK(e.api->project_uid() == e.cloud.options().project_uid);
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
  REQUIRE(get_device(e, BULB)->ok());
  e.timers.advance(6000);  // inside the refresh margin (half the lifetime for short tokens)
  REQUIRE(get_device(e, BULB)->ok());
  CHECK(e.cloud.grants() == 1);
  CHECK(e.cloud.refreshes() == 1);
  e.timers.advance(6000);
  REQUIRE(get_device(e, BULB)->ok());
  CHECK(e.cloud.refreshes() == 2);
  CHECK(e.api->stats().token_refreshes == 2);
}

TEST_CASE("token expired server-side mid-run: refresh and retry once") {
  Env e;
  REQUIRE(get_device(e, BULB)->ok());
  e.cloud.expire_all_tokens();
  auto r = get_device(e, PLUG);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.cloud.refreshes() == 1);
  CHECK(e.cloud.count("GET /v1.0/devices/" + std::string(PLUG)) == 2);
}

TEST_CASE("token invalid (1011): a fresh grant and one retry") {
  Env e;
  REQUIRE(get_device(e, BULB)->ok());
  e.cloud.revoke_all_tokens();
  auto r = get_device(e, BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.cloud.grants() == 2);
}

TEST_CASE("a token that keeps failing is retried only once") {
  Env e;
  REQUIRE(get_device(e, BULB)->ok());
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{1011, "token invalid", 0, false, false, 5});
  auto r = get_device(e, BULB);
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ERR_TOKEN);
  CHECK(e.cloud.count("GET /v1.0/devices/") == 3);  // first, then exactly one retry
}

TEST_CASE("a refused refresh falls back to a new grant") {
  fakecloud::FakeCloud::Options o;
  o.expire_time_s = 10;
  Env e(o);
  REQUIRE(get_device(e, BULB)->ok());
  e.cloud.revoke_all_tokens();  // the refresh token is gone too
  e.timers.advance(8000);
  auto r = get_device(e, BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.cloud.grants() == 2);
  CHECK(e.cloud.refreshes() == 0);
}

TEST_CASE("clock skew (1013) is corrected from the server's t") {
  fakecloud::FakeCloud::Options o;
  o.clock_offset_ms = 20 * 60 * 1000;
  Env e(o);
  auto r = get_device(e, BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.api->clock_offset_ms() >= 20 * 60 * 1000 - 100);
  CHECK(e.api->clock_offset_ms() <= 20 * 60 * 1000 + 100);
}

TEST_CASE("throttling codes back off and retry") {
  Env e;
  e.cloud.fail("GET /v1.0/devices/",
               fakecloud::Failure{1199, "your requests are too frequent", 0, false, false, 2});
  const uint64_t start = e.timers.now_ms();
  auto r = get_device(e, BULB);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK(e.api->stats().throttled == 2);
  CHECK(e.timers.now_ms() - start >= 3000);  // 1 s then 2 s

  e.cloud.fail("GET /v1.0/devices/",
               fakecloud::Failure{1110, "concurrent request over limit", 0, false, false, 10});
  r = get_device(e, BULB);
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ERR_THROTTLED);
  CHECK(e.cloud.count("GET /v1.0/devices/") == 3 + 4);
}

TEST_CASE("server errors: code 500 and HTTP 5xx retried for GET, not for POST") {
  Env e;
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{500, "system error", 0, false, false, 1});
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{0, "", 503, false, false, 1});
  auto r = get_device(e, BULB);
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
  auto r = get_device(e, BULB);
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->ok());
  CHECK(r->error().code == ERR_MALFORMED);

  e.config.max_retries = 1;
  e.config.request_timeout_ms = 2000;
  e.make_api();
  e.cloud.fail("GET /v1.0/devices/", fakecloud::Failure{0, "", 0, false, true, 5});
  r = get_device(e, BULB);
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
    auto r = get_device(e, BULB);
    REQUIRE(r.has_value());
    REQUIRE_FALSE(r->ok());
    CHECK(r->error().code == ERR_TRIAL_EXPIRED);
    CHECK(r->error().message.find("extend") != std::string::npos);
    REQUIRE(e.api->stopped().has_value());
    const size_t before = e.cloud.request_log().size();
    r = get_device(e, BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_STOPPED);
    CHECK(e.cloud.request_log().size() == before);  // nothing sent
    e.api->resume();
    CHECK(get_device(e, BULB)->ok());
  }
  SUBCASE("quota used up on a business call") {
    Env e;
    e.cloud.fail("GET /v1.0/devices/",
                 fakecloud::Failure{28841004, "Your quota of Trial Edition is used up", 0, false, false, 1});
    auto r = get_device(e, BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_QUOTA);
    CHECK(e.api->stopped().has_value());
  }
  SUBCASE("wrong secret") {
    Env e;
    e.config.access_secret = "not-the-secret-0000000000000000";
    e.make_api();
    auto r = get_device(e, BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_SIGN);
    CHECK(e.api->stopped().has_value());
    CHECK(e.cloud.sign_rejects() == 1);
  }
  SUBCASE("wrong access id") {
    Env e;
    e.config.access_id = "someoneelse000000000";
    e.make_api();
    auto r = get_device(e, BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_CONFIG);
  }
  SUBCASE("API not authorised is per API and does not stop") {
    Env e;
    e.cloud.fail(
        "GET /v1.0/devices/",
        fakecloud::Failure{28841105, "No permissions. This project is not authorized to call this API", 0,
                           false, false, 1});
    auto r = get_device(e, BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_NOT_AUTHORIZED);
    CHECK(r->error().message.find("authorise") != std::string::npos);
    CHECK_FALSE(e.api->stopped().has_value());
  }
  SUBCASE("configuration errors without network") {
    Env e;
    e.config.access_id.clear();
    e.make_api();
    auto r = get_device(e, BULB);
    REQUIRE(r.has_value());
    CHECK(r->error().code == ERR_CONFIG);
    CHECK(e.http.sent().empty());
  }
}

TEST_CASE("not found, offline and unsupported map to their own codes") {
  Env e;
  auto r = get_device(e, "doesnotexist");
  REQUIRE(r.has_value());
  CHECK(r->error().code == ERR_NOT_FOUND);
  e.cloud.device(PLUG)->online = false;
  auto w = e.wait<bool>([&](Callback<bool> cb) {
    e.api->send_commands(PLUG, {{"switch_1", false}}, std::move(cb));
  });
  REQUIRE(w.has_value());
  CHECK(w->error().code == ERR_OFFLINE);
  e.cloud.device(PLUG)->online = true;
  w = e.wait<bool>([&](Callback<bool> cb) {
    e.api->send_commands(PLUG, {{"cur_voltage", 1}}, std::move(cb));
  });
  CHECK(w->error().code == ERR_UNSUPPORTED);
  w = e.wait<bool>([&](Callback<bool> cb) {
    e.api->send_commands(PLUG, {{"switch_1", "true"}}, std::move(cb));
  });
  CHECK(w->error().code == ERR_TYPE);
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

TEST_CASE("device listings walk every page and merge by id") {
  Env e;
  for (int i = 0; i < 130; ++i) {
    fakecloud::FakeDevice d;
    char id[32];
    std::snprintf(id, sizeof(id), "bfx%017d", i);
    d.id = id;
    d.name = "dev " + std::to_string(i);
    d.local_key = "key" + std::to_string(i) + "abcdefghijk";
    d.uid = i < 110 ? OWNER : "ay-other-account";
    e.cloud.add_device(d);
  }
  SUBCASE("v1.3 has_more/last_row_key") {
    auto r = e.wait<std::vector<DeviceInfo>>(
        [&](auto cb) { e.api->list_devices_with(OpenApi::Listing::IOT03_V13, OWNER, std::move(cb)); });
    REQUIRE(r.has_value());
    REQUIRE(r->ok());
    CHECK(r->value().size() == 110 + 4);  // the demo devices share the owner
    CHECK(e.cloud.count("GET /v1.3/iot-03/devices") == 2);
  }
  SUBCASE("v2.0 thing list pages of 20 by last_id") {
    auto r = e.wait<std::vector<DeviceInfo>>(
        [&](auto cb) { e.api->list_devices_with(OpenApi::Listing::THING_V2, "", std::move(cb)); });
    REQUIRE(r->ok());
    CHECK(r->value().size() == 134);
    CHECK(e.cloud.count("GET /v2.0/cloud/thing/device") == 7);
  }
  SUBCASE("associated users") {
    auto r = e.wait<std::vector<DeviceInfo>>(
        [&](auto cb) { e.api->list_devices_with(OpenApi::Listing::ASSOCIATED_USERS, "", std::move(cb)); });
    REQUIRE(r->ok());
    CHECK(r->value().size() == 134);
  }
  SUBCASE("everything merged, no duplicates; the project uid is refused by user listings") {
    auto r = e.wait<std::vector<DeviceInfo>>([&](auto cb) { e.api->list_devices(OWNER, std::move(cb)); });
    REQUIRE(r->ok());
    std::set<std::string> ids;
    for (const auto& d : r->value()) ids.insert(d.id);
    CHECK(ids.size() == r->value().size());
    CHECK(ids.size() == 134);
    auto p = e.wait<std::vector<DeviceInfo>>([&](auto cb) {
      e.api->list_devices_with(OpenApi::Listing::USER_V1, e.cloud.options().project_uid, std::move(cb));
    });
    CHECK(p->error().code == ERR_PERMISSION);
  }
  SUBCASE("v1.3 refused: falls back to the legacy per-user listing") {
    e.cloud.fail("GET /v1.3/", fakecloud::Failure{1108, "uri path invalid", 0, false, false, 1});
    e.cloud.fail("GET /v2.0/cloud/thing/device",
                 fakecloud::Failure{28841105, "not authorized", 0, false, false, 1});
    e.cloud.fail("GET /v1.0/iot-01/", fakecloud::Failure{28841105, "not authorized", 0, false, false, 1});
    auto r = e.wait<std::vector<DeviceInfo>>([&](auto cb) { e.api->list_devices(OWNER, std::move(cb)); });
    REQUIRE(r->ok());
    CHECK(r->value().size() == 114);
    CHECK(e.cloud.count("GET /v1.0/users/") == 1);
  }
}

TEST_CASE("specifications: dp ids, types, ranges, scale, units, enums") {
  Env e;
  auto r = e.wait<Specification>([&](auto cb) { e.api->get_specification(PLUG, std::move(cb)); });
  REQUIRE(r.has_value());
  REQUIRE(r->ok());
  auto all = r->value().merged();
  REQUIRE(all.size() == 2);
  CHECK(all[0].code == "switch_1");
  CHECK(all[0].dp_id == 1);
  CHECK(all[0].mode == "rw");
  CHECK(all[1].code == "cur_voltage");
  CHECK(all[1].dp_id == 20);
  CHECK(all[1].mode == "ro");
  CHECK(all[1].scale == 1);
  CHECK(all[1].unit == "V");
  CHECK(all[1].max.value_or(0) == 5000);

  auto b = e.wait<Specification>([&](auto cb) { e.api->get_specification(BULB, std::move(cb)); });
  REQUIRE(b->ok());
  bool enum_seen = false;
  for (const auto& d : b->value().functions) {
    if (d.code == "work_mode") {
      enum_seen = true;
      CHECK(d.dp_id == 21);
      CHECK(d.range == std::vector<std::string>{"white", "colour", "scene"});
    }
  }
  CHECK(enum_seen);

  auto g = e.wait<Specification>([&](auto cb) { e.api->get_specification(GATEWAY, std::move(cb)); });
  REQUIRE(g->ok());  // 2009: no DPs is not an error
  CHECK(g->value().merged().empty());
}

TEST_CASE("specifications fall back to iot-03 and fill dp ids from the thing model, then the shadow") {
  Env e;
  e.cloud.fail("GET /v1.1/devices/", fakecloud::Failure{1108, "uri path invalid", 0, false, false, 1});
  auto r = e.wait<Specification>([&](auto cb) { e.api->get_specification(BULB, std::move(cb)); });
  REQUIRE(r->ok());
  CHECK(e.cloud.count("GET /v1.0/iot-03/devices/") == 1);
  CHECK(e.cloud.count("GET /v2.0/cloud/thing/" + std::string(BULB) + "/model") == 1);
  for (const auto& d : r->value().merged()) CHECK(d.dp_id != 0);

  e.cloud.fail("GET /v1.1/devices/", fakecloud::Failure{1106, "permission deny", 0, false, false, 1});
  e.cloud.fail("GET /v2.0/cloud/thing/" + std::string(BULB) + "/model",
               fakecloud::Failure{28841105, "no", 0, false, false, 1});
  r = e.wait<Specification>([&](auto cb) { e.api->get_specification(BULB, std::move(cb)); });
  REQUIRE(r->ok());
  CHECK(e.cloud.count("GET /v2.0/cloud/thing/" + std::string(BULB) + "/shadow/properties") == 1);
  for (const auto& d : r->value().merged()) CHECK(d.dp_id != 0);
}

TEST_CASE("shadow properties, status, commands with iot-03 fallback") {
  Env e;
  auto s = e.wait<std::vector<ShadowProperty>>([&](auto cb) {
    e.api->get_shadow_properties(BULB, {"switch_led", "bright_value_v2"}, std::move(cb));
  });
  REQUIRE(s->ok());
  REQUIRE(s->value().size() == 2);
  CHECK(s->value()[0].dp_id == 20);

  e.cloud.fail("POST /v1.0/devices/", fakecloud::Failure{1106, "permission deny", 0, false, false, 1});
  auto w = e.wait<bool>([&](Callback<bool> cb) {
    e.api->send_commands(BULB, {{"switch_led", true}}, std::move(cb));
  });
  REQUIRE(w->ok());
  CHECK(e.cloud.count("POST /v1.0/iot-03/devices/") == 1);
  CHECK(e.cloud.writes().back()["value"] == true);

  auto batch = e.wait<std::map<std::string, json>>([&](auto cb) {
    e.api->get_statuses({BULB, PLUG}, std::move(cb));
  });
  REQUIRE(batch->ok());
  CHECK(batch->value().size() == 2);
  CHECK(batch->value().at(PLUG)[1]["value"] == 2230);

  auto st = e.wait<json>([&](JsonCallback cb) { e.api->get_status(BULB, std::move(cb)); });
  REQUIRE(st->ok());
  CHECK(st->value().is_array());
  CHECK(st->value()[0]["value"] == true);
}

TEST_CASE("refresh_local_key returns the current key; factory infos normalise MACs") {
  Env e;
  e.cloud.device(BULB)->local_key = "newKeyAfterRepair";
  auto k = e.wait<std::string>([&](auto cb) { e.api->refresh_local_key(BULB, std::move(cb)); });
  REQUIRE(k->ok());
  CHECK(k->value() == "newKeyAfterRepair");
  auto f = e.wait<std::vector<FactoryInfo>>([&](auto cb) {
    e.api->factory_infos({BULB, PLUG}, std::move(cb));
  });
  REQUIRE(f->ok());
  REQUIRE(f->value().size() == 2);
  CHECK(f->value()[1].mac == "a4:cf:12:00:00:02");
  // The comma in device_ids is percent-encoded on the wire and signed unencoded.
  bool seen = false;
  for (const auto& r : e.http.sent())
    seen |= r.url.find("device_ids=" + std::string(BULB) + "%2C") != std::string::npos;
  CHECK(seen);
}

TEST_CASE("connect obtains a token and cancel_all fails pending calls") {
  Env e;
  auto c = e.wait<std::string>([&](auto cb) { e.api->connect(std::move(cb)); });
  REQUIRE(c->ok());
  CHECK(c->value() == e.cloud.options().project_uid);
  CHECK(e.api->has_token());
  std::optional<Result<DeviceInfo>> out;
  e.api->get_device(BULB, [&](Result<DeviceInfo> r) { out.emplace(std::move(r)); });
  e.api->cancel_all();
  REQUIRE(out.has_value());
  CHECK(out->error().code == ERR_CANCELLED);
  e.timers.advance(1000);
  CHECK(e.http.in_flight() == 0);
}

// The endpoint catalogue: each typed call's path, parameters, parsing, pagination and fallbacks
// between API families, against the fake cloud on fake time.
#include "cloud/openapi.h"

#include <doctest/doctest.h>

#include <set>

#include "tests/cloud/cloud_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_openapi_test {

using namespace t2m;
using namespace t2m::cloud;
using nlohmann::json;
using t2m::cloud::testing::Env;

namespace {

const char* const BULB = "bf0000000000000bulb1";
const char* const PLUG = "bf0000000000000plug1";
const char* const GATEWAY = "bf00000000000000gw01";
const char* const OWNER = "ay1700000000000owner";

}  // namespace

TEST_CASE("not found, offline and unsupported map to their own codes") {
  Env e;
  auto r = e.get_device("doesnotexist");
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

}  // namespace t2m_openapi_test

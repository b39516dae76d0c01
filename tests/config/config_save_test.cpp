// config_save.cpp: writing back (round trip, defaults omitted), saving, and the run-time device changes.
#include "config/config.h"

#include <doctest/doctest.h>

#include "tests/config/config_test_support.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_config_save_test {

using nlohmann::json;
using namespace t2m::config;
using namespace t2m::config::testing;
using namespace std::chrono_literals;

TEST_SUITE("config") {
  TEST_CASE("round trip keeps values and unknown keys, omits defaults") {
    const json doc = json::parse(R"({
      "mqtt": {"server": "mqtt://127.0.0.1:1883", "my_note": "kept", "keepalive": 60},
      "homeassistant": {"enabled": false},
      "cloud": {"access_id": "id1", "access_secret": "secret-value-1", "region": "eu"},
      "custom_top": {"x": 1},
      "devices": [
        {"id": "a", "local_key": "0123456789abcdef", "name": "plug", "vendor_note": "keep me",
         "dps": {"19": {"scale": 2, "unit": "W"}}, "write_pacing": "250ms"},
        {"key": "fedcba9876543210", "id": "b", "ip": "127.0.1.2"}
      ]})");
    auto r = parse_config(doc);
    REQUIRE(r.ok());
    const json out = to_json(*r);
    CHECK(out["mqtt"]["my_note"] == "kept");
    CHECK(out["mqtt"]["keepalive"] == 60);  // written by the user: kept even though it is the default
    CHECK_FALSE(out["mqtt"].contains("base_topic"));  // default, not written
    CHECK(out["custom_top"]["x"] == 1);
    CHECK(out["devices"][0]["vendor_note"] == "keep me");
    CHECK(out["devices"][0]["write_pacing"] == "250ms");
    CHECK(out["devices"][0]["dps"]["19"]["scale"] == 2);
    CHECK_FALSE(out["devices"][0].contains("port"));
    // aliases are written once, under the canonical name
    CHECK(out["devices"][1]["local_key"] == "fedcba9876543210");
    CHECK_FALSE(out["devices"][1].contains("key"));
    CHECK(out["devices"][1]["address"] == "127.0.1.2");
    auto again = parse_config(out);
    REQUIRE(again.ok());
    CHECK(again->mqtt == r->mqtt);
    CHECK(again->homeassistant == r->homeassistant);
    CHECK(again->cloud == r->cloud);
    CHECK(again->discovery == r->discovery);
    REQUIRE(again->devices.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      DeviceConfig a = again->devices[i];
      DeviceConfig b = r->devices[i];
      a.extra = b.extra = nullptr;  // the written form differs (aliases renamed), the values do not
      CHECK(a == b);
    }
    CHECK(to_json(*again) == out);  // stable
  }

  TEST_CASE("changes made at run time are persisted (rename, options, add, remove)") {
    auto r = parse_config(json::parse(MINIMAL));
    REQUIRE(r.ok());
    Config c = *r;
    c.devices[0].name = "kitchen_plug";
    c.devices[0].max_dps_per_write = 1;
    auto added =
        parse_device(json::parse(R"({"id":"new1","local_key":"0123456789abcdef","address":"127.0.1.9"})"));
    REQUIRE(added.ok());
    c.devices.push_back(*added);
    CHECK(validate(c).empty());
    json out = to_json(c);
    CHECK(out["devices"][0]["name"] == "kitchen_plug");
    CHECK(out["devices"][0]["max_dps_per_write"] == 1);
    CHECK(out["devices"][1]["id"] == "new1");
    CHECK(remove_device(c, "new1"));
    CHECK_FALSE(remove_device(c, "new1"));
    CHECK(to_json(c)["devices"].size() == 1);
    // A bad device is refused with paths relative to the request.
    auto bad = parse_device(json::parse(R"({"id":"x","local_key":"short"})"), "options");
    REQUIRE_FALSE(bad.ok());
    CHECK(texts(bad.error()) == std::vector<std::string>{"options.local_key: must be 16 characters (got 5)"});
    // Duplicates introduced at run time are caught by validate().
    c.devices.push_back(c.devices[0]);
    CHECK_FALSE(validate(c).empty());
  }

  TEST_CASE("update_device and add_device validate against the whole config before changing it") {
    auto r = parse_config(json::parse(R"({"devices":[
      {"id":"a","local_key":"0123456789abcdef","name":"plug","my_note":1},
      {"id":"b","local_key":"0123456789abcdef","name":"lamp"}]})"));
    REQUIRE(r.ok());
    Config c = *r;
    auto u = update_device(c, "plug", json::parse(R"({"name":"kitchen_plug","max_dps_per_write":1})"));
    REQUIRE(u.ok());
    CHECK(u->name == "kitchen_plug");
    CHECK(c.find_device("kitchen_plug")->max_dps_per_write == 1);
    json out = to_json(c);
    CHECK(
        out["devices"][0] ==
        json::parse(
            R"({"id":"a","local_key":"0123456789abcdef","name":"kitchen_plug","my_note":1,"max_dps_per_write":1})"));
    const Config before = c;
    auto clash = update_device(c, "a", json::parse(R"({"name":"lamp"})"));
    REQUIRE_FALSE(clash.ok());
    CHECK(texts(clash.error()) ==
          std::vector<std::string>{"devices[1].name: duplicate name \"lamp\" (also devices[0])"});
    auto badkey = update_device(c, "a", json::parse(R"({"local_key":"S3c"})"));
    REQUIRE_FALSE(badkey.ok());
    CHECK(texts(badkey.error()) ==
          std::vector<std::string>{"options.local_key: must be 16 characters (got 3)"});
    CHECK(texts(update_device(c, "a", json::parse(R"({"id":"zz"})")).error()) ==
          std::vector<std::string>{"options.id: the id of a device cannot change"});
    CHECK_FALSE(update_device(c, "nope", json::object()).ok());
    CHECK(to_json(c) == to_json(before));  // refused changes leave the config as it was
    // New key under tinytuya's name replaces the old one.
    REQUIRE(update_device(c, "a", json::parse(R"({"key":"fedcba9876543210"})")).ok());
    CHECK(c.find_device("a")->local_key == "fedcba9876543210");
    auto added = add_device(c, json::parse(R"({"id":"c","local_key":"0123456789abcdef","name":"lamp"})"));
    REQUIRE_FALSE(added.ok());
    CHECK(texts(added.error()) ==
          std::vector<std::string>{"device.name: duplicate name \"lamp\" (also devices[1])"});
    auto added2 = add_device(c, json::parse(R"({"id":"c","local_key":"0123456789abcdef","name":"fan"})"));
    REQUIRE(added2.ok());
    CHECK(c.devices.size() == 3);
    CHECK(c.devices[2].source_path == "devices[2]");
  }

  TEST_CASE("save_config writes an owner-only file that loads back") {
    TempDir dir;
    auto r = parse_config(json::parse(MINIMAL));
    REQUIRE(r.ok());
    const std::string p = (dir.path / "saved.json").string();
    REQUIRE(save_config(*r, p).ok());
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto back = load_config(p);
    REQUIRE(back.ok());
    CHECK(back->warnings.empty());
    CHECK(back->config.devices[0].local_key == "0123456789abcdef");
  }
}

}  // namespace t2m_config_save_test

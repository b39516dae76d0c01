// device_fields.cpp: the device field table read, checked and written back, tinytuya's names, listed
// devices written as what differs from the list.
#include "config/config_internal.h"

#include <doctest/doctest.h>

#include "tests/config/config_test_support.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_device_fields_test {

using nlohmann::json;
using namespace t2m::config;
using namespace t2m::config::testing;

namespace {

// Every field of the table set to a value other than its default (a sub-device may hold a key too).
json every_field() {
  return json::parse(R"({
    "id": "bfsub0000000000000a1", "local_key": "0123456789abcdef", "address": "127.0.1.5", "port": 6669,
    "version": "3.4", "device22": true, "name": "lab/plug", "enabled": false, "poll_interval": 30,
    "heartbeat_interval": 20, "update_dps_interval": 60, "write_pacing": "250ms", "max_dps_per_write": 2,
    "max_dps": 64,
    "update_dps": [18, 19], "cid": "a4c138", "parent": "bfhub0000000000000a0", "category": "cz",
    "product_id": "p1", "product_name": "Plug", "plain_topics": true, "retain": false, "passive": true,
    "invert_position": true, "kelvin_min": 2000, "kelvin_max": 6000,
    "dps": {"1": {"name": "Power"}},
    "mapping": {"1": {"code": "switch_1", "type": "Boolean", "values": {}}}})");
}

}  // namespace

TEST_SUITE("config") {
  TEST_CASE("every field of the device table is read and written back as it was") {
    const json entry = every_field();
    // A field added to the table must be added to the sample too.
    for (const auto& f : detail::device_fields()) CHECK_MESSAGE(entry.contains(f.key), std::string(f.key));
    CHECK(entry.size() == detail::device_fields().size());
    auto d = parse_device(entry);
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().front().to_string()));
    CHECK(d->port == 6669);
    CHECK(d->device22);
    CHECK_FALSE(d->enabled);
    CHECK(d->write_pacing == std::chrono::milliseconds(250));
    CHECK(d->retain == std::optional<bool>(false));
    CHECK(d->mapping.contains("1"));
    CHECK(device_to_json(*d) == entry);
    // The same values set in code (nothing written by a user) give the same entry.
    DeviceConfig copy = *d;
    copy.extra = json::object();
    CHECK(device_to_json(copy) == entry);
  }

  TEST_CASE("a device with default values is written as its id and key") {
    auto d = parse_device(json{{"id", "a"}, {"local_key", "0123456789abcdef"}});
    REQUIRE(d.ok());
    DeviceConfig copy = *d;
    copy.extra = json::object();
    CHECK(device_to_json(copy) == json{{"id", "a"}, {"local_key", "0123456789abcdef"}});
  }

  TEST_CASE("tinytuya's field names are read, named in issues and written once under the config's name") {
    auto d = parse_device(json::parse(
        R"({"id": "s1", "key": "0123456789abcdef", "ip": "127.0.1.6", "node_id": "n1", "parent": "hub"})"));
    REQUIRE(d.ok());
    CHECK(d->local_key == "0123456789abcdef");
    CHECK(d->address == "127.0.1.6");
    CHECK(d->cid == "n1");
    CHECK(device_to_json(*d) == json::parse(R"({"id": "s1", "local_key": "0123456789abcdef",
                                                 "address": "127.0.1.6", "cid": "n1", "parent": "hub"})"));
    CHECK(detail::find_device_field("key") == detail::find_device_field("local_key"));
    CHECK(detail::find_device_field("node_id")->key == "cid");
    CHECK(detail::find_device_field("nonsense") == nullptr);
    auto bad = parse_device(json::parse(R"({"id": "x", "key": "short"})"));
    REQUIRE_FALSE(bad.ok());
    CHECK(texts(bad.error()) == std::vector<std::string>{"device.key: must be 16 characters (got 5)"});
  }

  TEST_CASE("keys of a devices entry that are no field are warnings") {
    json doc = json::parse(MINIMAL);
    doc["devices"][0]["vendor_note"] = "x";
    doc["devices"][0]["ip"] = "127.0.1.7";
    ConfigWarnings warnings;
    REQUIRE(parse_config(doc, nullptr, &warnings).ok());
    CHECK(warnings == std::vector<std::string>{"devices[0].vendor_note: unknown key, ignored"});
  }

  TEST_CASE("max_dps is 1..255, as many ids as the protocol can name") {
    for (const int bad : {0, 256, -1}) {
      CAPTURE(bad);
      json doc = json::parse(MINIMAL);
      doc["devices"][0]["max_dps"] = bad;
      auto r = parse_config(doc);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().front().to_string() == "devices[0].max_dps: must be 1..255");
    }
    json doc = json::parse(MINIMAL);
    doc["devices"][0]["max_dps"] = 12;
    auto r = parse_config(doc);
    REQUIRE(r.ok());
    CHECK(r->devices[0].max_dps == 12);
  }

  TEST_CASE("a listed device is written as the fields that differ from its device list entry") {
    const json list = json::parse(R"([{"id": "bflist000000000000001", "key": "0123456789abcdef",
                                        "ip": "127.0.1.8", "version": "3.3", "name": "Kitchen"}])");
    json doc = json::parse(R"({"devices": [{"id": "bflist000000000000001", "name": "pantry", "note": 1}]})");
    auto c = parse_config(doc, list);
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().front().to_string()));
    REQUIRE(c->devices.size() == 1);
    CHECK(c->devices[0].local_key == "0123456789abcdef");
    CHECK(c->devices[0].name == "pantry");
    CHECK(to_json(*c)["devices"] ==
          json::parse(R"([{"id": "bflist000000000000001", "name": "pantry", "note": 1}])"));
    // A problem with a field only the list sets points into the list.
    json bad = list;
    bad[0]["key"] = "short";
    auto r = parse_config(doc, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(has(texts(r.error()), "device_list[0].key: must be 16 characters (got 5)"));
  }
}

}  // namespace t2m_device_fields_test

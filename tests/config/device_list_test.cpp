#include "config/device_list.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_device_list_test {

using nlohmann::json;
using namespace t2m::config;
namespace fs = std::filesystem;

namespace {

json sample() {
  std::ifstream in(std::string(T2M_SOURCE_DIR) + "/tests/config/data/devices.json");
  REQUIRE(in.good());
  return json::parse(in);
}

bool contains(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(),
                     [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

}  // namespace

TEST_SUITE("device_list") {
  TEST_CASE("tinytuya devices.json is imported as it is") {
    const auto imp = import_device_list(sample());
    CHECK(imp.issues.empty());
    REQUIRE(imp.entries.size() == 6);
    const json& plug = imp.entries[0].entry;
    CHECK(imp.entries[0].path == "device_list[0]");
    CHECK(plug["id"] == "bf0123456789abcdefgh");
    CHECK(plug["local_key"] == "k3y`With^Punct{1");
    CHECK(plug["address"] == "192.168.1.20");
    CHECK(plug["version"] == "3.3");
    CHECK(plug["category"] == "cz");
    CHECK(plug["product_id"] == "keyjup78v54myhan");
    CHECK(plug["mapping"]["19"]["code"] == "cur_power");
    CHECK_FALSE(plug.contains("mac"));  // unused fields dropped
    const json& bulb = imp.entries[1].entry;
    CHECK_FALSE(bulb.contains("address"));  // "" = not found on the LAN -> auto
    CHECK(bulb["version"] == 3.5);
    const json& door = imp.entries[3].entry;
    CHECK(door["cid"] == "a4c1380123456789");
    CHECK(door["parent"] == "bf99887766554433hub1");
    CHECK_FALSE(door.contains("local_key"));  // sub-devices use their gateway's key
    // No gateway_id: the parent is the non-sub device with the same local key (tinytuya's guess).
    CHECK(imp.entries[4].entry["parent"] == "bf99887766554433hub1");
    // A second "Kitchen Plug" falls back to its id, with a warning.
    CHECK_FALSE(imp.entries[5].entry.contains("name"));
    CHECK(contains(imp.warnings, "device_list[5].name: \"Kitchen Plug\" is used by an earlier device"));
  }

  TEST_CASE("a config with a device list: list first, config entries override and extend") {
    const json doc = json::parse(R"({
      "device_list": "devices.json",
      "devices": [
        {"id": "bf0123456789abcdefgh", "name": "kitchen_plug", "update_dps": [18, 19, 20],
         "dps": {"17": {"scale": 2}}},
        {"id": "extra1", "local_key": "0123456789abcdef", "address": "127.0.1.5"}
      ]})");
    ConfigWarnings warnings;
    auto r = parse_config(doc, sample(), &warnings);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().front().to_string()));
    const Config& c = *r;
    REQUIRE(c.devices.size() == 7);
    const DeviceConfig& plug = c.devices[0];
    CHECK(plug.name == "kitchen_plug");
    CHECK(plug.local_key == "k3y`With^Punct{1");  // from the list
    CHECK(plug.address == "192.168.1.20");
    CHECK(plug.update_dps == std::vector<int>{18, 19, 20});
    CHECK(plug.dps.at(17).scale == 2);
    CHECK(plug.mapping["17"]["code"] == "add_ele");
    CHECK(plug.origin == DeviceOrigin::CONFIG);
    CHECK(c.devices[1].version == "3.5");
    CHECK(c.devices[1].origin == DeviceOrigin::DEVICE_LIST);
    CHECK(c.devices[3].is_sub_device());
    CHECK(c.devices[6].id == "extra1");
    // Serialised back: only what the config says about listed devices, never the list's keys.
    const json out = to_json(c);
    REQUIRE(out["devices"].size() == 2);
    CHECK(out["devices"][0]["id"] == "bf0123456789abcdefgh");
    CHECK_FALSE(out["devices"][0].contains("local_key"));
    CHECK_FALSE(out["devices"][0].contains("mapping"));
    CHECK(out["devices"][0]["name"] == "kitchen_plug");
    auto again = parse_config(out, sample());
    REQUIRE(again.ok());
    CHECK(again->devices[0] == c.devices[0]);
    // Options on a listed device: the config records the change, never the list's key.
    Config c3 = c;
    auto u = update_device(c3, "Desk Bulb", json::parse(R"({"name":"desk_bulb","kelvin_min":2200})"));
    REQUIRE(u.ok());
    CHECK(u->local_key == "0123456789abcdef");
    const json out3 = to_json(c3);
    REQUIRE(out3["devices"].size() == 3);
    CHECK(out3["devices"][1] ==
          json::parse(R"({"id":"bf11aa22bb33cc44dd55","name":"desk_bulb","kelvin_min":2200})"));
    auto back = parse_config(out3, sample());
    REQUIRE(back.ok());
    CHECK(back->find_device("desk_bulb")->kelvin_min == 2200);
    CHECK(back->find_device("desk_bulb")->mapping == c.devices[1].mapping);
    // Removing a listed device keeps it removed.
    Config c2 = c;
    REQUIRE(remove_device(c2, "bf11aa22bb33cc44dd55"));
    auto reread = parse_config(to_json(c2), sample());
    REQUIRE(reread.ok());
    CHECK_FALSE(reread->find_device("bf11aa22bb33cc44dd55")->enabled);
  }

  TEST_CASE("problems in the list point into the list, with tinytuya's field names") {
    json list = sample();
    list[1]["key"] = "tooShort";
    list[2]["ip"] = "bad host!";
    list.push_back(json{{"name", "no id"}});
    auto r = parse_config(json::object(), list);
    REQUIRE_FALSE(r.ok());
    std::vector<std::string> got;
    for (const auto& i : r.error()) got.push_back(i.to_string());
    CHECK(std::find(got.begin(), got.end(), "device_list[1].key: must be 16 characters (got 8)") !=
          got.end());
    CHECK(std::find(
              got.begin(), got.end(),
              "device_list[2].ip: must be an IPv4 address, a host name or \"auto\" (got \"bad host!\")") !=
          got.end());
    CHECK(std::find(got.begin(), got.end(), "device_list[6].id: is required") != got.end());
    for (const auto& g : got) CHECK(g.find("tooShort") == std::string::npos);
  }

  TEST_CASE("load_config reads the list relative to the config and warns about its permissions") {
    const fs::path dir = fs::temp_directory_path() / ("t2m_devlist_test_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    {
      std::ofstream(dir / "devices.json") << sample().dump();
      std::ofstream(dir / "config.json") << R"({"device_list":"devices.json"})";
    }
    ::chmod((dir / "config.json").c_str(), 0600);
    ::chmod((dir / "devices.json").c_str(), 0640);
    auto r = load_config((dir / "config.json").string());
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().front().to_string()));
    CHECK(r->config.devices.size() == 6);
    CHECK(r->device_list_path == (dir / "devices.json").string());
    CHECK(contains(r->warnings, "devices.json: readable by group/others (mode 0640)"));
    CHECK(contains(r->warnings, "is used by an earlier device"));
    fs::remove_all(dir);
  }

  TEST_CASE("not a list") {
    CHECK(import_device_list(json::object()).issues.size() == 1);
    auto imp = import_device_list(json::parse(R"({"devices":[{"id":"x","key":"0123456789abcdef"}, 5]})"));
    CHECK(imp.entries.size() == 1);
    REQUIRE(imp.issues.size() == 1);
    CHECK(imp.issues[0].to_string() == "device_list[1]: must be an object");
  }
}

}  // namespace t2m_device_list_test

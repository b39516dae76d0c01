// dp_override.cpp: per-DP overrides read from a device's "dps" and written back, with their problems.
#include "config/config_internal.h"

#include <doctest/doctest.h>

#include "tests/config/config_test_support.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_dp_override_test {

using nlohmann::json;
using namespace t2m::config;
using namespace t2m::config::testing;

namespace {

std::vector<std::string> dp_issues(const json& override) {
  json entry = {{"id", "a"}, {"local_key", "0123456789abcdef"}, {"dps", {{"5", override}}}};
  auto d = parse_device(entry);
  return d.ok() ? std::vector<std::string>{} : texts(d.error());
}

}  // namespace

TEST_SUITE("config") {
  TEST_CASE("every DP override field is read and written back") {
    const json o = json::parse(R"({"code": "night_mode", "type": "integer", "scale": 1, "unit": "W",
      "min": 0, "max": 100, "step": 5, "values": ["a", "b"], "max_len": 10, "read_only": true,
      "device_class": "power", "state_class": "measurement", "component": "sensor", "name": "Night",
      "note": "kept"})");
    json entry = {{"id", "a"}, {"local_key", "0123456789abcdef"}, {"dps", {{"5", o}}}};
    ConfigWarnings warnings;
    json doc = {{"devices", json::array({entry})}};
    auto c = parse_config(doc, nullptr, &warnings);
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().front().to_string()));
    CHECK(warnings == std::vector<std::string>{"devices[0].dps.5.note: unknown key, ignored"});
    const DpOverride& read = c->devices[0].dps.at(5);
    CHECK(read.code == "night_mode");
    CHECK(read.type == t2m::proto::DpType::INTEGER);
    CHECK(read.scale == 1);
    CHECK(read.values == std::vector<std::string>{"a", "b"});
    CHECK(read.max_len == size_t{10});
    CHECK(read.read_only == true);
    CHECK(read.component == "sensor");
    CHECK(to_json(*c)["devices"][0]["dps"]["5"] == o);
    // Written from nothing, only the fields that are set appear.
    DpOverride only_unit;
    only_unit.unit = "kWh";
    CHECK(detail::override_to_json(only_unit, json()) == json{{"unit", "kWh"}});
  }

  TEST_CASE("bad DP override values name their path") {
    CHECK(dp_issues({{"code", "a b"}}) ==
          std::vector<std::string>{R"(device.dps.5.code: must be letters, digits and '_' (got "a b"))"});
    CHECK(dp_issues({{"code", "state"}}) ==
          std::vector<std::string>{R"(device.dps.5.code: "state" is reserved)"});
    CHECK(dp_issues({{"scale", 12}}) ==
          std::vector<std::string>{"device.dps.5.scale: must be 0..9 (got 12)"});
    CHECK(dp_issues({{"min", 5}, {"max", 1}}) ==
          std::vector<std::string>{"device.dps.5.min: must not be greater than max"});
    CHECK(dp_issues({{"max_len", -1}}) ==
          std::vector<std::string>{"device.dps.5.max_len: must not be negative"});
    CHECK(dp_issues({{"values", json::array()}}) ==
          std::vector<std::string>{"device.dps.5.values: must be a non-empty array of strings"});
    CHECK(dp_issues({{"values", {1}}}) ==
          std::vector<std::string>{"device.dps.5.values[0]: must be a string"});
    CHECK(dp_issues({{"component", "gauge"}}) ==
          std::vector<std::string>{"device.dps.5.component: must be one of none, sensor, binary_sensor, "
                                   "switch, number, select, text, "
                                   "light, cover, fan, climate, button (got \"gauge\")"});
    CHECK(dp_issues(json(3)) == std::vector<std::string>{"device.dps.5: must be an object"});
  }
}

}  // namespace t2m_dp_override_test

// MQTT set commands -> DPs (command_to_dps, model/convert_command.cpp), per kind of device: values,
// ranges, TOGGLE, the raw escape hatch, and every problem reported in one error.
#include "model/convert.h"

#include <doctest/doctest.h>

#include "tests/model/model_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_convert_command_test {

using nlohmann::json;
using namespace t2m::model;
using namespace t2m::model::testing;
using namespace t2m::config;

namespace {

// Runs a command that must succeed and returns the wire dps.
json ok(const DerivedModel& m, const char* command, const json& current = nullptr) {
  auto r = command_to_dps(m, j(command), current);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  return *r;
}

t2m::Error err(const DerivedModel& m, const char* command, const json& current = nullptr) {
  auto r = command_to_dps(m, j(command), current);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_SUITE("convert") {
  TEST_CASE("plug commands") {
    const DerivedModel m = derive_model(device("cz"));
    const json current = j(R"({"1":true,"9":0})");
    CHECK(ok(m, R"({"state":"OFF"})") == j(R"({"1":false})"));
    CHECK(ok(m, R"({"switch_1":"ON","countdown_1":60})") == j(R"({"1":true,"9":60})"));
    CHECK(ok(m, R"({"1":false})") == j(R"({"1":false})"));  // by DP id
    CHECK(ok(m, R"({"state":"TOGGLE"})", current) == j(R"({"1":false})"));
    CHECK(err(m, R"({"state":"TOGGLE"})").code == "state_unknown");
    auto single = command_to_dps(m, "switch_1", json("off"), current);
    REQUIRE(single.ok());
    CHECK(*single == j(R"({"1":false})"));
    const auto ro = err(m, R"({"cur_power":5})");
    CHECK(ro.code == "read_only");
    CHECK(ro.message == "DP cur_power (19) is read-only");
    const auto unknown = err(m, R"({"brightness":5})");
    CHECK(unknown.code == "unknown_property");
    CHECK(unknown.message ==
          "no property \"brightness\" on this device; writable: countdown_1, state, switch_1");
    const auto range = err(m, R"({"countdown_1":90000})");
    CHECK(range.code == "dp_range");
    CHECK(range.message == "DP countdown_1: 90000 is out of range; expected a number in 0..86400 (s)");
    // Several problems are reported together.
    const auto many = err(m, R"({"countdown_1":-1,"cur_voltage":1,"state":"maybe"})");
    CHECK(many.message.find("DP countdown_1") != std::string::npos);
    CHECK(many.message.find("cur_voltage (20) is read-only") != std::string::npos);
    CHECK(many.message.find("\"maybe\" is not a boolean") != std::string::npos);
    CHECK(err(m, "[1,2]").code == "bad_payload");
  }

  TEST_CASE("raw escape hatch: {\"dps\":{...}}") {
    const DerivedModel m = derive_model(device("cz"), j(R"({"1":true,"19":0,"101":1})"));
    CHECK(ok(m, R"({"dps":{"1":false,"101":"x"}})") == j(R"({"1":false,"101":"x"})"));
    CHECK(err(m, R"({"dps":{"1":"yes"}})").code == "dp_type");
    CHECK(err(m, R"({"dps":{"19":5}})").code == "read_only");
    CHECK(err(m, R"({"dps":{"abc":5}})").code == "unknown_property");
    CHECK(err(m, R"({"dps":5})").code == "bad_payload");
    CHECK(ok(m, R"({"101":42})") == j(R"({"101":42})"));  // unknown DP by id: raw
  }

  TEST_CASE("v2 light commands") {
    const DerivedModel m = derive_model(device("dj"));
    const json colour = j(R"({"20":true,"21":"colour","22":500,"23":500,"24":"00f003e801f4"})");
    const json white = j(R"({"20":true,"21":"white","22":500,"23":500,"24":"00f003e801f4"})");
    CHECK(ok(m, R"({"state":"ON","color":{"h":120,"s":50},"brightness":255})", colour) ==
          j(R"({"20":true,"24":"007801f403e8","21":"colour"})"));
    // colour without brightness keeps the current V
    CHECK(ok(m, R"({"color":{"hue":0,"saturation":100}})", colour) ==
          j(R"({"24":"000003e801f4","21":"colour"})"));
    CHECK(ok(m, R"({"color":{"r":0,"g":0,"b":255}})", colour) == j(R"({"24":"00f003e801f4","21":"colour"})"));
    CHECK(ok(m, R"({"color_temp":3000})", colour) == j(R"({"23":79,"21":"white"})"));
    CHECK(ok(m, R"({"color_temp":250})", colour) == j(R"({"23":342,"21":"white"})"));  // mireds -> 4000 K
    CHECK(ok(m, R"({"color_temp":4600,"brightness":128})", colour) ==
          j(R"({"23":500,"22":502,"21":"white"})"));
    // brightness alone: V of the colour in colour mode, white brightness otherwise
    CHECK(ok(m, R"({"brightness":128})", colour) == j(R"({"24":"00f003e801f6"})"));
    CHECK(ok(m, R"({"brightness":128})", white) == j(R"({"22":502})"));
    CHECK(ok(m, R"({"brightness":1})", white) == j(R"({"22":10})"));
    CHECK(ok(m, R"({"state":"ON","transition":2})", white) == j(R"({"20":true})"));
    const auto k = err(m, R"({"color_temp":7000})", white);
    CHECK(k.code == "dp_range");
    CHECK(k.message == "color_temp: 7000 K is out of range; expected 2700..6500 K");
    CHECK(err(m, R"({"brightness":300})", white).message ==
          "brightness: 300 is not allowed; expected a number in 0..255");
    CHECK(err(m, R"({"color":{"h":400,"s":10}})", white).code == "bad_payload");
    // the colour DP written directly, in any colour form, goes out in the device's current form
    CHECK(ok(m, R"({"colour_data_v2":{"h":1,"s":2,"v":3}})", colour) == j(R"({"24":"000100020003"})"));
    CHECK(ok(m, R"({"work_mode":"scene"})", colour) == j(R"({"21":"scene"})"));
  }

  TEST_CASE("v1 light commands (DPs 1-5, 14-hex colour)") {
    const json dps = j(R"({"1":true,"2":"colour","3":255,"4":128,"5":"00ff000078ffff"})");
    const DerivedModel m = derive_model(device("dj"), dps);
    CHECK(ok(m, R"({"color":{"h":240,"s":100},"brightness":128})", dps) ==
          j(R"({"5":"00008000f0ff80","2":"colour"})"));
    CHECK(ok(m, R"({"color_temp":4600})", dps) == j(R"({"4":128,"2":"white"})"));
    const json white = j(R"({"1":true,"2":"white","3":100,"4":0,"5":"00ff000078ffff"})");
    CHECK(ok(m, R"({"brightness":10})", white) == j(R"({"3":25})"));
  }

  TEST_CASE("dimmer gangs use suffixed command keys") {
    const DerivedModel m = derive_model(device("tgkg"));
    CHECK(ok(m, R"({"state_light_2":"ON","brightness_light_2":255})") == j(R"({"7":true,"8":1000})"));
  }

  TEST_CASE("cover commands") {
    const DerivedModel m = derive_model(device("cl"));
    CHECK(ok(m, R"({"state":"OPEN"})") == j(R"({"1":"open"})"));
    CHECK(ok(m, R"({"state":"stop"})") == j(R"({"1":"stop"})"));
    CHECK(ok(m, R"({"state":"CLOSE"})") == j(R"({"1":"close"})"));
    CHECK(ok(m, R"({"position":30})") == j(R"({"2":30})"));
    CHECK(err(m, R"({"state":"UP"})").message ==
          "state: \"UP\" is not allowed; expected OPEN, CLOSE or STOP");
    CHECK(err(m, R"({"position":101})").code == "dp_range");
    DeviceConfig inv = device("cl");
    inv.invert_position = true;
    const DerivedModel mi = derive_model(inv);
    CHECK(ok(mi, R"({"position":30})") == j(R"({"2":70})"));
    // Covers whose control DP uses another vocabulary (localtuya's fz/zz/stop sets).
    DeviceConfig fz = device("cl");
    DpOverride o;
    o.values = std::vector<std::string>{"fz", "stop", "zz"};
    fz.dps[1] = o;
    CHECK(ok(derive_model(fz), R"({"state":"OPEN"})") == j(R"({"1":"fz"})"));
  }

  TEST_CASE("values that are not UTF-8 (bare MQTT bytes) are refused with a message, never thrown") {
    // A bare value on <name>/set/<dp> is taken as it is; 0x8A is not UTF-8. Found by fuzz_mqtt_command.
    const std::string bad = "hello\x8a\x8a";
    const DerivedModel cover = derive_model(device("cl"));
    auto r = command_to_dps(cover, json{{"state", bad}});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD in the quote
    const DerivedModel light = derive_model(device("dj"));
    CHECK_FALSE(command_to_dps(light, json{{"brightness", bad}}).ok());
    CHECK_FALSE(command_to_dps(light, json{{"color", {{"h", bad}}}}).ok());
  }

  TEST_CASE("thermostat commands: scaled target, power") {
    const DerivedModel m = derive_model(device("wk"));
    CHECK(ok(m, R"({"temp_set":21.5})") == j(R"({"2":215})"));
    CHECK(ok(m, R"({"temp_set":"22"})") == j(R"({"2":220})"));
    CHECK(ok(m, R"({"state":"OFF","mode":"auto"})") == j(R"({"1":false,"4":"auto"})"));
    const auto e = err(m, R"({"temp_set":40})");
    CHECK(e.code == "dp_range");
    CHECK(e.message ==
          "DP temp_set: 40 is out of range; expected a number in 5.0..35.0 in steps of 0.5 (°C)");
    CHECK(err(m, R"({"mode":"turbo"})").message ==
          "DP mode: \"turbo\" is not allowed; expected one of [auto, manual]");
  }

  TEST_CASE("fan commands") {
    const DerivedModel fan = derive_model(device("fs"));
    CHECK(ok(fan, R"({"state":"OFF","fan_speed_percent":70})") == j(R"({"1":false,"3":70})"));
  }
}

}  // namespace t2m_convert_command_test

// Device DPs -> MQTT state (state_from_dps, model/convert.cpp), per kind of device. The command
// direction is tested in convert_command_test.cpp.
#include "model/convert.h"

#include <doctest/doctest.h>

#include "tests/model/model_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_convert_test {

using nlohmann::json;
using namespace t2m::model;
using namespace t2m::model::testing;
using namespace t2m::config;

TEST_SUITE("convert") {
  TEST_CASE("plug state: codes, real units, main state, raw dps; unknown DPs by id") {
    const DerivedModel m = derive_model(device("cz"));
    const json dps = j(R"({"1":true,"17":3215,"18":520,"19":1234,"20":2301,"101":7})");
    std::vector<t2m::Error> problems;
    const json s = state_from_dps(m, dps, &problems);
    CHECK(problems.empty());
    CHECK(s["state"] == "ON");
    CHECK(s["switch_1"] == true);
    CHECK(s["cur_power"].dump() == "123.4");
    CHECK(s["cur_voltage"].dump() == "230.1");
    CHECK(s["cur_current"] == 520);
    CHECK(s["add_ele"].dump() == "3.215");
    CHECK(s["101"] == 7);
    CHECK(s["dps"] == dps);
    CHECK(state_from_dps(m, j(R"({"1":false})"))["state"] == "OFF");
  }

  TEST_CASE("unreadable values are kept raw and reported, never refused") {
    const DerivedModel m = derive_model(device("cz"));
    std::vector<t2m::Error> problems;
    const json s = state_from_dps(m, j(R"({"19":"lots","1":true})"), &problems);
    CHECK(s["cur_power"] == "lots");
    CHECK(s["state"] == "ON");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].code == "dp_type");
  }

  TEST_CASE("v2 light state (DPs 20-24, 12-hex colour)") {
    const DerivedModel m = derive_model(device("dj"));
    json s = state_from_dps(m, j(R"({"20":true,"21":"colour","22":500,"23":500,"24":"00f003e801f4"})"));
    CHECK(s["state"] == "ON");
    CHECK(s["color_mode"] == "hs");
    CHECK(s["brightness"] == 128);
    CHECK(s["color"] == j(R"({"h":240,"s":100.0})"));
    CHECK(s["color_temp"] == 4600);
    CHECK(s["work_mode"] == "colour");
    CHECK(s["bright_value_v2"] == 500);
    s = state_from_dps(m, j(R"({"20":false,"21":"white","22":1000,"23":0,"24":"00f003e801f4"})"));
    CHECK(s["state"] == "OFF");
    CHECK(s["color_mode"] == "color_temp");
    CHECK(s["brightness"] == 255);
    CHECK(s["color_temp"] == 2700);
    // colour as JSON (cloud form) is read too
    s = state_from_dps(m, j(R"({"20":true,"21":"colour","24":"{\"h\":120,\"s\":500,\"v\":1000}"})"));
    CHECK(s["color"] == j(R"({"h":120,"s":50.0})"));
    CHECK(s["brightness"] == 255);
  }

  TEST_CASE("v1 light state (DPs 1-5, 14-hex colour)") {
    const json dps = j(R"({"1":true,"2":"colour","3":255,"4":128,"5":"00ff000078ffff"})");
    const DerivedModel m = derive_model(device("dj"), dps);
    json s = state_from_dps(m, dps);
    CHECK(s["state"] == "ON");
    CHECK(s["color_mode"] == "hs");
    CHECK(s["color"] == j(R"({"h":120,"s":100.0})"));
    CHECK(s["brightness"] == 255);
    CHECK(s["color_temp"] == 4607);
    const json white = j(R"({"1":true,"2":"white","3":100,"4":0,"5":"00ff000078ffff"})");
    s = state_from_dps(m, white);
    CHECK(s["brightness"] == 100);
    CHECK(s["color_mode"] == "color_temp");
  }

  TEST_CASE("dimmer gangs use suffixed state keys") {
    const DerivedModel m = derive_model(device("tgkg"));
    const json s = state_from_dps(m, j(R"({"1":true,"2":1000,"7":false,"8":10})"));
    CHECK(s["state"] == "ON");
    CHECK(s["brightness"] == 255);
    CHECK(s["color_mode"] == "brightness");
    CHECK(s["state_light_2"] == "OFF");
    CHECK(s["brightness_light_2"] == 3);
  }

  TEST_CASE("cover state") {
    const DerivedModel m = derive_model(device("cl"));
    CHECK(state_from_dps(m, j(R"({"1":"open","2":50,"3":40,"7":"opening"})"))["state"] == "opening");
    CHECK(state_from_dps(m, j(R"({"1":"open","2":50,"3":40,"7":"opening"})"))["position"] == 40);
    CHECK(state_from_dps(m, j(R"({"3":100,"7":"opening"})"))["state"] == "open");
    CHECK(state_from_dps(m, j(R"({"3":0,"7":"closing"})"))["state"] == "closed");
    CHECK(state_from_dps(m, j(R"({"3":30})"))["state"] == "open");
    CHECK(state_from_dps(m, j(R"({"1":"stop"})"))["state"] == "stopped");
    DeviceConfig inv = device("cl");
    inv.invert_position = true;
    const DerivedModel mi = derive_model(inv);
    CHECK(state_from_dps(mi, j(R"({"3":40})"))["position"] == 60);
  }

  TEST_CASE("thermostat state: scaled target, power") {
    const DerivedModel m = derive_model(device("wk"));
    const json s = state_from_dps(m, j(R"({"1":true,"2":215,"3":198,"4":"manual"})"));
    CHECK(s["temp_set"].dump() == "21.5");
    CHECK(s["temp_current"].dump() == "19.8");
    CHECK(s["state"] == "ON");
  }

  TEST_CASE("binary sensor and fan state") {
    const DerivedModel door = derive_model(device("mcs"));
    CHECK(state_from_dps(door, j(R"({"1":true,"2":80})")) ==
          j(R"({"doorcontact_state":true,"battery_percentage":80,"dps":{"1":true,"2":80}})"));
    const DerivedModel fan = derive_model(device("fs"));
    const json s = state_from_dps(fan, j(R"({"1":true,"3":40,"2":"sleep"})"));
    CHECK(s["state"] == "ON");
    CHECK(s["fan_speed_percent"] == 40);
  }
}

}  // namespace t2m_convert_test

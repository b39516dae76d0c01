// Entity grouping rules (model/entity_rules.cpp), through derive_model: which HA entities each kind of
// device gets from its category template, cloud mapping and overrides.
#include <doctest/doctest.h>

#include <algorithm>

#include "model/derived_model.h"
#include "tests/model/model_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_entity_rules_test {

using nlohmann::json;
using namespace t2m::model;
using namespace t2m::model::testing;
using namespace t2m::config;
using t2m::proto::DpType;

TEST_SUITE("models") {
  TEST_CASE("plug with metering (cz): switch, energy dashboard sensors") {
    const DerivedModel m = derive_model(device("cz"));
    CHECK(m.template_name == "cz");
    CHECK(summary(m) == V{"sensor:cur_power", "sensor:cur_voltage", "sensor:cur_current", "sensor:add_ele",
                          "switch:switch_1", "number:countdown_1"});
    const Entity& sw = entity(m, "switch_1");
    CHECK(sw.main);
    CHECK(sw.name.empty());
    CHECK(sw.device_class == "outlet");
    CHECK(sw.state_keys.at("value") == "state");
    CHECK(sw.command_key == "state");
    CHECK(sw.payload_on == "ON");
    const Entity& power = entity(m, "cur_power");
    CHECK(power.device_class == "power");
    CHECK(power.state_class == "measurement");
    CHECK(power.unit == "W");
    CHECK(power.precision == 1);
    CHECK(power.state_keys.at("value") == "cur_power");
    CHECK_FALSE(power.writable);
    const Entity& energy = entity(m, "add_ele");
    CHECK(energy.device_class == "energy");
    CHECK(energy.state_class == "total_increasing");
    CHECK(energy.unit == "kWh");
    CHECK(entity(m, "cur_current").unit == "mA");
    CHECK(entity(m, "cur_voltage").device_class == "voltage");
    const Entity& cd = entity(m, "countdown_1");
    CHECK(cd.entity_category == "config");
    CHECK(cd.max == 86400.0);
    CHECK(cd.unit == "s");
  }

  TEST_CASE("power strip (pc) and wall switch (kg)") {
    CHECK(summary(derive_model(device("pc"))) == V{"sensor:cur_power", "sensor:cur_voltage",
                                                   "sensor:cur_current", "sensor:add_ele", "switch:switch_1",
                                                   "switch:switch_2", "switch:switch_3", "switch:switch_4",
                                                   "switch:switch_usb1"});
    const DerivedModel kg = derive_model(device("kg"));
    CHECK(summary(kg) == V{"switch:switch_1", "switch:switch_2", "switch:switch_3", "switch:switch_4",
                           "number:countdown_1"});
    CHECK(entity(kg, "switch_2").state_keys.at("value") == "switch_2");
    CHECK(entity(kg, "switch_2").payload_on == true);
    CHECK(entity(kg, "switch_2").device_class.empty());
    // Once the device reported its DPs, template DPs it does not have are dropped.
    CHECK(summary(derive_model(device("kg"), json::parse(R"({"1":true})"))) == V{"switch:switch_1"});
  }

  TEST_CASE("dimmers (tgkg, tgq): one light per gang") {
    const DerivedModel m = derive_model(device("tgkg"));
    CHECK(summary(m) == V{"light:light", "light:light_2", "number:brightness_min_1", "select:led_type_1"});
    const Entity& l = entity(m, "light");
    CHECK(l.main);
    CHECK(l.dps.at("state") == 1);
    CHECK(l.dps.at("brightness") == 2);
    CHECK(l.light.color_modes == V{"brightness"});
    CHECK(l.light.brightness_min == 10);
    CHECK(l.light.brightness_max == 1000);
    const Entity& l2 = entity(m, "light_2");
    CHECK(l2.state_keys.at("state") == "state_light_2");
    CHECK(l2.state_keys.at("brightness") == "brightness_light_2");
    CHECK(l2.name == "Light 2");
    CHECK(summary(derive_model(device("tgq"))) == summary(m));
  }

  TEST_CASE("colour lights, v2 layout (DPs 20-26)") {
    const DerivedModel m = derive_model(device("dj"));
    CHECK(summary(m) == V{"light:light", "number:countdown_1"});
    const Entity& l = entity(m, "light");
    CHECK(l.dps.at("state") == 20);
    CHECK(l.dps.at("mode") == 21);
    CHECK(l.dps.at("brightness") == 22);
    CHECK(l.dps.at("color_temp") == 23);
    CHECK(l.dps.at("color") == 24);
    CHECK(l.light.color_modes == V{"hs", "color_temp"});
    CHECK(l.light.colour_format == ColourFormat::HEX12);
    CHECK(l.light.temp_max == 1000);
    CHECK(l.light.kelvin_min == 2700);
    CHECK(l.light.kelvin_max == 6500);
    CHECK(l.state_keys.at("color_mode") == "color_mode");
    CHECK(l.state_keys.at("color") == "color");
    // LED strip: no white channel.
    CHECK(entity(derive_model(device("dd")), "light").light.color_modes == V{"hs"});
  }

  TEST_CASE("colour lights, v1 layout (DPs 1-5) picked from the reported DPs") {
    DeviceConfig d = device("dj");
    d.kelvin_min = 2200;
    const DerivedModel m =
        derive_model(d, json::parse(R"({"1":true,"2":"white","3":255,"4":0,"5":"ff00000000ffff"})"));
    CHECK(m.template_name == "dj_v1");
    const Entity& l = entity(m, "light");
    CHECK(l.dps.at("state") == 1);
    CHECK(l.dps.at("color") == 5);
    CHECK(l.light.colour_format == ColourFormat::HEX14);
    CHECK(l.light.brightness_min == 25);
    CHECK(l.light.brightness_max == 255);
    CHECK(l.light.temp_max == 255);
    CHECK(l.light.kelvin_min == 2200);
  }

  TEST_CASE("curtain (cl)") {
    DeviceConfig d = device("cl");
    d.invert_position = true;
    const DerivedModel m = derive_model(d);
    CHECK(summary(m) == V{"cover:cover", "select:control_back"});
    const Entity& c = entity(m, "cover");
    CHECK(c.main);
    CHECK(c.dps.at("control") == 1);
    CHECK(c.dps.at("position") == 2);
    CHECK(c.dps.at("position_state") == 3);
    CHECK(c.dps.at("work_state") == 7);
    CHECK(c.state_keys.at("state") == "state");
    CHECK(c.state_keys.at("position") == "position");
    CHECK(c.device_class == "curtain");
    CHECK(c.invert);
    CHECK(entity(m, "control_back").entity_category == "config");
  }

  TEST_CASE("fan (fs) and thermostat (wk)") {
    const DerivedModel fan = derive_model(device("fs"));
    CHECK(summary(fan) == V{"fan:fan"});
    const Entity& f = entity(fan, "fan");
    CHECK(f.dps.at("state") == 1);
    CHECK(f.dps.at("percentage") == 3);
    CHECK(f.dps.at("preset") == 2);
    CHECK(f.dps.at("oscillation") == 5);
    CHECK(f.dps.at("direction") == 8);
    CHECK(f.options == V{"normal", "nature", "sleep"});
    CHECK(f.min == 1.0);
    CHECK(f.max == 100.0);
    CHECK(f.state_keys.at("state") == "state");
    CHECK(f.state_keys.at("percentage") == "fan_speed_percent");

    const DerivedModel wk = derive_model(device("wk"));
    CHECK(summary(wk) == V{"climate:climate", "sensor:temp_current", "switch:child_lock"});
    const Entity& c = entity(wk, "climate");
    CHECK(c.dps.at("target") == 2);
    CHECK(c.dps.at("current") == 3);
    CHECK(c.dps.at("state") == 1);
    CHECK(c.min == 5.0);
    CHECK(c.max == 35.0);
    CHECK(c.step == 0.5);
    CHECK(c.unit == "°C");
    CHECK(c.options == V{"auto", "manual"});
    CHECK(entity(wk, "temp_current").device_class == "temperature");
    CHECK(entity(wk, "child_lock").entity_category == "config");
  }

  TEST_CASE("sensors: temperature/humidity, door, motion, smoke, leak, gas") {
    const DerivedModel th = derive_model(device("wsdcg"));
    CHECK(summary(th) == V{"sensor:va_temperature", "sensor:va_humidity", "sensor:battery_percentage",
                           "sensor:battery_state", "select:temp_unit_convert"});
    CHECK(entity(th, "temp_unit_convert").entity_category == "config");
    CHECK(entity(th, "va_temperature").unit == "°C");
    CHECK(entity(th, "va_temperature").precision == 1);
    CHECK(entity(th, "va_humidity").device_class == "humidity");
    CHECK(entity(th, "battery_percentage").device_class == "battery");
    CHECK(entity(th, "battery_state").device_class == "enum");
    CHECK(entity(th, "battery_state").options == V{"low", "middle", "high"});

    const DerivedModel door = derive_model(device("mcs"));
    CHECK(summary(door) == V{"binary_sensor:doorcontact_state", "sensor:battery_percentage"});
    CHECK(entity(door, "doorcontact_state").device_class == "door");
    CHECK(entity(door, "doorcontact_state").payload_on == true);

    const DerivedModel pir = derive_model(device("pir"));
    CHECK(summary(pir) == V{"binary_sensor:pir_state", "sensor:battery_percentage"});
    CHECK(entity(pir, "pir_state").device_class == "motion");
    CHECK(entity(pir, "pir_state").payload_on == "pir");
    CHECK(entity(pir, "pir_state").payload_off == "none");

    const DerivedModel smoke = derive_model(device("ywbj"));
    CHECK(summary(smoke) == V{"binary_sensor:smoke_sensor_status", "sensor:battery_percentage",
                              "sensor:battery_state", "switch:muffling"});
    CHECK(entity(smoke, "smoke_sensor_status").payload_on == "alarm");
    CHECK(entity(smoke, "smoke_sensor_status").payload_off == "normal");

    const DerivedModel leak = derive_model(device("sj"));
    CHECK(summary(leak) ==
          V{"binary_sensor:watersensor_state", "sensor:battery_percentage", "sensor:battery_state"});
    CHECK(entity(leak, "watersensor_state").device_class == "moisture");

    const DerivedModel gas = derive_model(device("rqbj"));
    CHECK(summary(gas) == V{"binary_sensor:gas_sensor_status", "sensor:gas_sensor_value"});
    CHECK(entity(gas, "gas_sensor_status").device_class == "gas");
    CHECK(entity(gas, "gas_sensor_value").unit == "ppm");
  }

  TEST_CASE("gateways (wnykq, wg2) have no entities; their DPs stay available") {
    const DerivedModel ir = derive_model(device("wnykq"));
    CHECK(ir.entities.empty());
    REQUIRE(ir.find_property("ir_send"));
    CHECK(ir.find_property("ir_send")->spec.type == DpType::JSON);
    CHECK_FALSE(ir.find_property("ir_study_code")->writable);
    CHECK(derive_model(device("wg2")).entities.empty());
  }

  TEST_CASE("component overrides: hide a DP, or force a simple component") {
    DeviceConfig h = device("cz");
    DpOverride hide;
    hide.component = "none";
    h.dps[20] = hide;
    DpOverride force;
    force.component = "sensor";
    h.dps[9] = force;
    const DerivedModel hm = derive_model(h);
    CHECK(std::none_of(hm.entities.begin(), hm.entities.end(),
                       [](const Entity& e) { return e.key == "cur_voltage"; }));
    CHECK(entity(hm, "countdown_1").component == Component::SENSOR);
  }
}

}  // namespace t2m_entity_rules_test

// DP descriptions (model/derived_model.cpp): overrides > cloud mapping > template, unknown DPs raw,
// the tinytuya device list, HA units. The entity rules are tested in entity_rules_test.cpp.
#include "model/derived_model.h"

#include <doctest/doctest.h>

#include <fstream>

#include "config/device_list.h"
#include "tests/model/model_test_util.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_derived_model_test {

using nlohmann::json;
using namespace t2m::model;
using namespace t2m::model::testing;
using namespace t2m::config;
using t2m::proto::DpType;

TEST_SUITE("models") {
  TEST_CASE("precedence: override > cloud mapping > template; unknown DPs raw") {
    DeviceConfig d = device("cz");
    d.mapping = json::parse(R"({
      "19": {"code": "cur_power", "type": "Integer", "values": {"unit": "W", "min": 0, "max": 99999, "scale": 2, "step": 1}},
      "38": {"code": "relay_status", "type": "Enum", "values": "{\"range\":[\"power_off\",\"power_on\",\"last\"]}"}
    })");
    DpOverride o;
    o.scale = 1;
    d.dps[19] = o;
    DpOverride rename;
    rename.code = "power_on_behaviour";
    d.dps[38] = rename;
    DpOverride extra;
    extra.type = DpType::INTEGER;
    extra.code = "leak_current";
    extra.unit = "mA";
    extra.read_only = true;
    extra.device_class = "current";
    d.dps[101] = extra;
    const DerivedModel m =
        derive_model(d, json::parse(R"({"1":true,"19":10,"20":2301,"38":"last","101":3,"150":"x"})"));
    const DpDescription* p = m.find_dp(19);
    REQUIRE(p);
    CHECK(p->spec.scale == 1);    // override
    CHECK(p->spec.max == 99999);  // cloud
    CHECK(p->source == DpSource::OVERRIDE);
    CHECK_FALSE(p->writable);  // known read-only code
    CHECK(m.find_dp(20)->source == DpSource::TEMPLATE);
    CHECK(m.find_property("power_on_behaviour") == m.find_dp(38));
    CHECK(m.find_dp(38)->spec.range.size() == 3);
    CHECK(m.find_dp(9) == nullptr);  // template DP the device did not report
    const DpDescription* u = m.find_dp(150);
    REQUIRE(u);
    CHECK_FALSE(u->known);
    CHECK(u->property() == "150");
    CHECK(m.find_property("150") == u);
    const Entity& leak = entity(m, "leak_current");
    CHECK(leak.component == Component::SENSOR);
    CHECK(leak.device_class == "current");
    CHECK(entity(m, "power_on_behaviour").component == Component::SELECT);
  }

  TEST_CASE("device list mapping drives the model (tinytuya import)") {
    std::ifstream in(std::string(T2M_SOURCE_DIR) + "/tests/config/data/devices.json");
    const auto list = json::parse(in);
    auto r = parse_config(json::object(), list);
    REQUIRE(r.ok());
    const DerivedModel bulb = derive_model(r->devices[1]);
    const Entity& l = entity(bulb, "light");
    CHECK(l.light.color_modes == V{"hs", "color_temp"});
    CHECK(bulb.find_dp(24)->source == DpSource::CLOUD);
    const DerivedModel plug = derive_model(r->devices[0]);
    CHECK(entity(plug, "add_ele").unit == "kWh");  // "kwh" in the mapping, HA spelling out
    CHECK(entity(plug, "relay_status").component == Component::SELECT);
    const DerivedModel door = derive_model(r->devices[3]);
    CHECK(entity(door, "doorcontact_state").component == Component::BINARY_SENSOR);
  }

  TEST_CASE("ha units") {
    CHECK(ha_unit("kwh") == "kWh");
    CHECK(ha_unit("℃") == "°C");
    CHECK(ha_unit("w") == "W");
    CHECK(ha_unit("lux") == "lux");
  }

  TEST_CASE("humanize: underscores become spaces and only the first letter is raised") {
    CHECK(humanize("switch_usb1") == "Switch usb1");
    CHECK(humanize("cur_power") == "Cur power");
    CHECK(humanize("") == "");
  }
}

}  // namespace t2m_derived_model_test

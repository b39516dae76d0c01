// The demo data set of populate_demo(): ids, keys and DPs the cloud tests and t2m-fake-cloud rely on.
#include "tests/fakecloud/fake_cloud.h"

namespace t2m::fakecloud {

using nlohmann::json;

void populate_demo(FakeCloud& cloud) {
  FakeDevice bulb;
  bulb.id = "bf0000000000000bulb1";
  bulb.name = "Desk Lamp";
  bulb.local_key = "k3yBulb0000000001";
  bulb.category = "dj";
  bulb.product_id = "prodbulb01";
  bulb.product_name = "Smart Bulb";
  bulb.uuid = "uuidbulb1";
  bulb.mac = "a4:cf:12:00:00:01";
  bulb.model = "SL10";
  bulb.status = json::array({{{"code", "switch_led"}, {"value", false}},
                             {{"code", "bright_value_v2"}, {"value", 500}},
                             {{"code", "work_mode"}, {"value", "white"}}});
  bulb.dps = json::array({
      {{"dp_id", 20}, {"code", "switch_led"}, {"type", "Boolean"}, {"values", json::object()}},
      {{"dp_id", 21},
       {"code", "work_mode"},
       {"type", "Enum"},
       {"values", {{"range", {"white", "colour", "scene"}}}}},
      {{"dp_id", 22},
       {"code", "bright_value_v2"},
       {"type", "Integer"},
       {"values", {{"min", 10}, {"max", 1000}, {"scale", 0}, {"step", 1}, {"unit", ""}}}},
  });
  cloud.add_device(bulb);

  FakeDevice plug;
  plug.id = "bf0000000000000plug1";
  plug.name = "Kettle Plug";
  plug.local_key = "k3yPlug0000000001";
  plug.category = "cz";
  plug.product_id = "prodplug01";
  plug.product_name = "Smart Plug";
  plug.uuid = "uuidplug1";
  plug.mac = "a4cf12000002";
  plug.status =
      json::array({{{"code", "switch_1"}, {"value", true}}, {{"code", "cur_voltage"}, {"value", 2230}}});
  plug.dps = json::array({
      {{"dp_id", 1}, {"code", "switch_1"}, {"type", "Boolean"}, {"values", json::object()}},
      {{"dp_id", 20},
       {"code", "cur_voltage"},
       {"type", "Integer"},
       {"mode", "ro"},
       {"values", {{"min", 0}, {"max", 5000}, {"scale", 1}, {"step", 1}, {"unit", "V"}}}},
  });
  cloud.add_device(plug);

  FakeDevice gw;
  gw.id = "bf00000000000000gw01";
  gw.name = "Zigbee Gateway";
  gw.local_key = "k3yGate0000000001";
  gw.category = "wg2";
  gw.product_id = "prodgw0001";
  gw.product_name = "Zigbee Gateway";
  gw.uuid = "uuidgw1";
  gw.mac = "a4:cf:12:00:00:03";
  gw.has_dps = false;
  cloud.add_device(gw);

  FakeDevice sensor;
  sensor.id = "bf0000000000000sens1";
  sensor.name = "Door Sensor";
  sensor.local_key = "k3ySens0000000001";
  sensor.category = "mcs";
  sensor.product_id = "prodsens01";
  sensor.product_name = "Door Sensor";
  sensor.sub = true;
  sensor.node_id = "a4c1380000000001";
  sensor.gateway_id = gw.id;
  sensor.ip = "";
  sensor.status = json::array(
      {{{"code", "doorcontact_state"}, {"value", false}}, {{"code", "battery_percentage"}, {"value", 90}}});
  sensor.dps = json::array({
      {{"dp_id", 1},
       {"code", "doorcontact_state"},
       {"type", "Boolean"},
       {"mode", "ro"},
       {"values", json::object()}},
      {{"dp_id", 2},
       {"code", "battery_percentage"},
       {"type", "Integer"},
       {"mode", "ro"},
       {"values", {{"min", 0}, {"max", 100}, {"scale", 0}, {"step", 1}, {"unit", "%"}}}},
  });
  cloud.add_device(sensor);
}

}  // namespace t2m::fakecloud

#include "tests/sim/src/model.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_model_test {

using nlohmann::json;
using t2m::sim::DpModel;
using t2m::sim::Profile;

TEST_CASE("profiles have their Tuya DP layouts") {
  DpModel plug(Profile::PLUG, json::object(), 1);
  for (const char* id : {"1", "9", "17", "18", "19", "20"}) CHECK(plug.dps().contains(id));
  DpModel bulb(Profile::BULB, json::object(), 1);
  for (const char* id : {"20", "21", "22", "23", "24", "25", "26"}) CHECK(bulb.dps().contains(id));
  DpModel curtain(Profile::CURTAIN, json::object(), 1);
  for (const char* id : {"1", "2", "3"}) CHECK(curtain.dps().contains(id));
  DpModel sensor(Profile::SENSOR, json::object(), 1);
  for (const char* id : {"1", "2", "4"}) CHECK(sensor.dps().contains(id));
  CHECK(DpModel(Profile::GATEWAY, json::object(), 1).dps().empty());
  CHECK(t2m::sim::parse_profile("curtain") == Profile::CURTAIN);
  CHECK_FALSE(t2m::sim::parse_profile("toaster").has_value());
}

TEST_CASE("overrides replace and add initial values; reset restores them") {
  DpModel plug(Profile::PLUG, json{{"19", 1250}, {"101", "x"}}, 1);
  CHECK(plug.dps()["19"] == 1250);
  CHECK(plug.dps()["101"] == "x");
  plug.apply_write(json{{"1", false}});
  CHECK(plug.dps()["1"] == false);
  plug.reset();
  CHECK(plug.dps()["1"] == true);
  CHECK(plug.dps()["19"] == 1250);
}

TEST_CASE("writes: right type and range accepted and echoed, the rest ignored like a real device") {
  DpModel bulb(Profile::BULB, json::object(), 1);
  json acc = bulb.apply_write(json{{"20", false}, {"22", 500}, {"23", "warm"}, {"21", "disco"}, {"99", 1}});
  CHECK(acc == json{{"20", false}, {"22", 500}});
  CHECK(bulb.dps()["23"] == 500);      // wrong type ignored
  CHECK(bulb.dps()["21"] == "white");  // unknown enum value ignored
  CHECK_FALSE(bulb.dps().contains("99"));
  CHECK(bulb.apply_write(json{{"22", 5}}).empty());                 // below min 10
  CHECK(bulb.apply_write(json{{"22", 500}}) == json{{"22", 500}});  // unchanged still echoed
  DpModel plug(Profile::PLUG, json::object(), 1);
  CHECK(plug.apply_write(json{{"19", 1}}).empty());  // measurements are read-only
  CHECK(plug.apply_write(json{{"1", nullptr}}).empty());
}

TEST_CASE("plug measurements drift within bounds and follow the switch") {
  DpModel plug(Profile::PLUG, json::object(), 42);
  bool changed = false;
  for (int i = 0; i < 200; ++i) {
    json c = plug.drift();
    changed = changed || !c.empty();
    int v = plug.dps()["20"];
    int p = plug.dps()["19"];
    CHECK(v >= 2250);
    CHECK(v <= 2450);
    CHECK(p >= 570);
    CHECK(p <= 630);
    CHECK(plug.dps()["18"] == p * 1000 / v);
  }
  CHECK(changed);
  plug.apply_write(json{{"1", false}});
  plug.drift();
  CHECK(plug.dps()["19"] == 0);
  CHECK(plug.dps()["18"] == 0);
  json fresh = plug.resample({18, 19, 20, 77});
  CHECK(fresh.size() == 3);
  CHECK(fresh.contains("20"));
  CHECK_FALSE(fresh.contains("1"));
}

TEST_CASE("the same seed gives the same drift") {
  DpModel a(Profile::SENSOR, json::object(), 7), b(Profile::SENSOR, json::object(), 7);
  for (int i = 0; i < 20; ++i) CHECK(a.drift() == b.drift());
}

TEST_CASE("curtain travels to its target and stops") {
  DpModel c(Profile::CURTAIN, json::object(), 1);
  json acc = c.apply_write(json{{"1", "open"}});
  CHECK(acc["1"] == "open");
  CHECK(acc["7"] == "opening");
  CHECK(c.moving());
  int steps = 0;
  while (c.moving() && steps < 100) {
    c.step_motion(10);
    ++steps;
  }
  CHECK(steps == 10);
  CHECK(c.dps()["3"] == 100);
  CHECK(c.dps()["1"] == "stop");
  c.apply_write(json{{"2", 40}});
  CHECK(c.dps()["7"] == "closing");
  json last;
  while (c.moving()) last = c.step_motion(25);
  CHECK(c.dps()["3"] == 40);
  CHECK(last["3"] == 40);
  c.apply_write(json{{"1", "close"}});
  c.step_motion(10);
  c.apply_write(json{{"1", "stop"}});
  CHECK_FALSE(c.moving());
  CHECK(c.dps()["3"] == 30);
}

TEST_CASE("force sets anything and reports only changes") {
  DpModel s(Profile::SWITCH, json::object(), 1);
  CHECK(s.force(json{{"1", true}, {"7", 0}}) == json{{"1", true}});
  CHECK(s.force(json{{"150", "new"}}) == json{{"150", "new"}});
  CHECK(s.subset({"1", "404"}) == json{{"1", true}});
}

TEST_CASE("countdown: armed by a write, toggles the switch when it runs out") {
  DpModel plug(Profile::PLUG, json::object(), 1);
  CHECK_FALSE(plug.countdown_armed(json{{"1", false}}).has_value());
  json acc = plug.apply_write(json{{"9", 60}});
  CHECK(plug.countdown_armed(acc) == 60u);
  CHECK(plug.countdown_armed(json{{"9", 0}}) == 0u);
  CHECK(plug.countdown_expired() == json{{"1", false}, {"9", 0}});
  CHECK(plug.countdown_expired().empty());  // nothing armed any more
  DpModel bulb(Profile::BULB, json::object(), 1);
  bulb.apply_write(json{{"26", 5}});
  CHECK(bulb.countdown_expired() == json{{"20", false}, {"26", 0}});
  CHECK_FALSE(DpModel(Profile::SENSOR, json::object(), 1).countdown_armed(json{{"9", 5}}).has_value());
}

}  // namespace t2m_model_test

#include "cloud/models.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_models_test {

using namespace t2m;
using namespace t2m::cloud;
using nlohmann::json;

TEST_CASE("tokens: expire_time or expire, and rejection of incomplete answers") {
  auto t = parse_token(
      json{{"access_token", "a"}, {"refresh_token", "r"}, {"expire_time", 7200}, {"uid", "bay1"}});
  REQUIRE(t.ok());
  CHECK(t->expire_time_s == 7200);
  CHECK(t->uid == "bay1");
  CHECK(parse_token(json{{"access_token", "a"}, {"expire", 60}})->expire_time_s == 60);
  CHECK_FALSE(parse_token(json{{"access_token", "a"}}).ok());
  CHECK_FALSE(parse_token(json::array()).ok());
  CHECK(parse_token(json::array()).error().code == ERR_MALFORMED);
}

TEST_CASE("devices: both casings, numbers as ids, MAC normalisation, bad shapes") {
  auto d = parse_device(json{{"id", "x"},
                             {"localKey", "k"},
                             {"isOnline", true},
                             {"customName", "N"},
                             {"productId", "p"},
                             {"mac", "A4CF12000002"},
                             {"update_time", "1700000000"}});
  REQUIRE(d.ok());
  CHECK(d->local_key == "k");
  CHECK(d->online.value_or(false));
  CHECK(d->name == "N");
  CHECK(d->product_id == "p");
  CHECK(d->mac == "a4:cf:12:00:00:02");
  CHECK(d->update_time == 1700000000);
  CHECK(parse_device(json{{"id", 12345}})->id == "12345");
  CHECK_FALSE(parse_device(json{{"name", "no id"}}).ok());
  CHECK_FALSE(parse_device(json("text")).ok());

  auto v13 = parse_device_page(
      json{{"list", json::array({{{"id", "a"}}, {{"id", "b"}}})}, {"has_more", true}, {"last_row_key", "b"}});
  REQUIRE(v13.ok());
  CHECK(v13->devices.size() == 2);
  CHECK(v13->has_more);
  CHECK(v13->cursor == "b");
  auto assoc = parse_device_page(
      json{{"devices", json::array({{{"id", "a"}}})}, {"hasMore", false}, {"lastRowKey", ""}});
  REQUIRE(assoc.ok());
  CHECK_FALSE(assoc->has_more);
  CHECK(parse_device_page(json::array({{{"id", "a"}}}))->devices.size() == 1);
  CHECK_FALSE(parse_device_page(json{{"total", 3}}).ok());
  CHECK_FALSE(parse_device_page(json::array({1, 2})).ok());
  CHECK(normalize_mac("a4-cf-12-00-00-02") == "a4:cf:12:00:00:02");
  CHECK(normalize_mac("weird") == "weird");
}

TEST_CASE("specification values as string or object, with the convenience fields") {
  json spec = {
      {"category", "cz"},
      {"functions",
       json::array(
           {{{"code", "switch_1"}, {"dp_id", 1}, {"type", "Boolean"}, {"values", "{}"}},
            {{"code", "mode"}, {"dp_id", 2}, {"type", "Enum"}, {"values", "{\"range\":[\"a\",\"b\"]}"}}})},
      {"status",
       json::array({{{"code", "cur_voltage"},
                     {"dp_id", 20},
                     {"type", "Integer"},
                     {"values", {{"unit", "V"}, {"min", 0}, {"max", 5000}, {"scale", 1}, {"step", 1}}}},
                    {{"code", "fault"},
                     {"dp_id", 26},
                     {"type", "Bitmap"},
                     {"values", "{\"label\":[\"ov\",\"oc\"],\"maxlen\":2}"}},
                    {{"code", "mode"}, {"dp_id", 2}, {"type", "Enum"}, {"values", "not json"}}})}};
  auto s = parse_specification(spec);
  REQUIRE(s.ok());
  auto m = s->merged();
  REQUIRE(m.size() == 4);
  CHECK(m[1].range == std::vector<std::string>{"a", "b"});
  CHECK(m[2].unit == "V");
  CHECK(m[2].scale == 1);
  CHECK(m[2].max.value_or(0) == 5000);
  CHECK(m[2].mode == "ro");
  CHECK(m[3].labels.size() == 2);
  CHECK(m[3].maxlen.value_or(0) == 2);
  CHECK_FALSE(parse_specification(json{{"category", "x"}}).ok());
  CHECK_FALSE(parse_specification(json::array()).ok());
}

TEST_CASE("thing model: abilityId is the DP id, typeSpec is the values") {
  json model = {
      {"modelId", "m"},
      {"services",
       json::array({{{"properties",
                      json::array({{{"abilityId", 20},
                                    {"code", "switch_led"},
                                    {"accessMode", "rw"},
                                    {"typeSpec", {{"type", "bool"}}}},
                                   {{"abilityId", 22},
                                    {"code", "bright"},
                                    {"accessMode", "ro"},
                                    {"typeSpec",
                                     {{"type", "value"}, {"min", 10}, {"max", 1000}, {"scale", 0}}}}})}}})}};
  auto r = parse_thing_model(json{{"model", model.dump()}});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].dp_id == 20);
  CHECK((*r)[0].type == "Boolean");
  CHECK((*r)[1].type == "Integer");
  CHECK((*r)[1].mode == "ro");
  CHECK((*r)[1].max.value_or(0) == 1000);
  CHECK_FALSE(parse_thing_model(json{{"model", "{broken"}}).ok());
  CHECK_FALSE(parse_thing_model(json::object()).ok());
}

TEST_CASE("shadow, firmware (flat and nested), progress, report logs in both casings") {
  auto sh = parse_shadow_properties(
      json{{"properties", json::array({{{"code", "a"}, {"dp_id", 3}, {"value", 5}, {"time", 1}}})}});
  REQUIRE(sh.ok());
  CHECK((*sh)[0].dp_id == 3);
  CHECK((*sh)[0].value == 5);
  CHECK_FALSE(parse_shadow_properties(json::array()).ok());

  json fw = json::array({{{"type", 9},
                          {"upgrade_status", 1},
                          {"current_version", "1.0"},
                          {"version", "1.1"},
                          {"can_upgrade", false},
                          {"remind", "low battery"}}});
  auto f1 = parse_firmware_list(fw);
  REQUIRE(f1.ok());
  CHECK((*f1)[0].channel == 9);
  CHECK((*f1)[0].latest_version == "1.1");
  CHECK_FALSE((*f1)[0].can_upgrade);
  CHECK(parse_firmware_list(json{{"success", true}, {"result", fw}})->size() == 1);
  CHECK_FALSE(parse_firmware_list(json("x")).ok());

  CHECK(parse_upgrade_progress(json{{"upgrade_status", 2}, {"progress", 30}})->progress == 30);
  CHECK(
      parse_upgrade_progress(json{{"result", {{"upgrade_status", 3}, {"progress", 100}}}})->upgrade_status ==
      3);
  CHECK_FALSE(parse_upgrade_progress(json{{"progress", 3}}).ok());

  auto logs =
      parse_report_logs(json{{"logs", json::array({{{"code", "a"}, {"value", "true"}, {"eventTime", 5}},
                                                   {{"code", "b"}, {"value", 12}, {"event_time", 4}},
                                                   {{"code", "c"}, {"value", "x"}}})},
                             {"hasMore", true},
                             {"lastRowKey", "k"}});
  REQUIRE(logs.ok());
  CHECK(logs->logs.size() == 2);  // the entry without a time is dropped
  CHECK(logs->logs[1].value == "12");
  CHECK(logs->has_more);
  CHECK(logs->last_row_key == "k");
  CHECK_FALSE(parse_report_logs(json{{"has_more", false}}).ok());
  CHECK(parse_factory_infos(json::array({{{"id", "a"}, {"mac", "a4cf12000002"}}}))->front().mac ==
        "a4:cf:12:00:00:02");
  CHECK_FALSE(parse_factory_infos(json::object()).ok());
}

}  // namespace t2m_models_test

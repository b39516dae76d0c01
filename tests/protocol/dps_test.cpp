#include "protocol/dps.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_dps_test {

using nlohmann::json;
using t2m::proto::DpSpec;
using t2m::proto::DpType;
using t2m::proto::StepPolicy;
namespace proto = t2m::proto;

namespace {

DpSpec spec_of(const char* type, const char* values) {
  auto r = proto::parse_dp_spec(type, json(values));
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_SUITE("dps") {
  TEST_CASE("type names are compared case-insensitively, with Tuya's aliases") {
    CHECK(proto::parse_dp_type("Boolean") == DpType::BOOL);
    CHECK(proto::parse_dp_type("bool") == DpType::BOOL);
    CHECK(proto::parse_dp_type("Integer") == DpType::INTEGER);
    CHECK(proto::parse_dp_type("value") == DpType::INTEGER);
    CHECK(proto::parse_dp_type("ENUM") == DpType::ENUM);
    CHECK(proto::parse_dp_type("String") == DpType::STRING);
    CHECK(proto::parse_dp_type("Json") == DpType::JSON);
    CHECK(proto::parse_dp_type("Raw") == DpType::RAW);
    CHECK(proto::parse_dp_type("Bitmap") == DpType::BITMAP);
    CHECK(proto::parse_dp_type("fault") == DpType::BITMAP);
    CHECK_FALSE(proto::parse_dp_type("float").has_value());
  }

  TEST_CASE("spec values as a JSON string (cloud v1.x) and as an object (tinytuya mapping)") {
    const DpSpec a = spec_of("Integer", R"({"unit":"V","min":0,"max":5000,"scale":1,"step":1})");
    CHECK(a.type == DpType::INTEGER);
    CHECK(a.has_range);
    CHECK(a.min == 0);
    CHECK(a.max == 5000);
    CHECK(a.scale == 1);
    CHECK(a.unit == "V");
    auto b = proto::parse_dp_spec(json::parse(
        R"({"code":"cur_voltage","type":"Integer","values":{"unit":"V","min":0,"max":5000,"scale":1,"step":1}})"));
    REQUIRE(b.ok());
    CHECK(*b == a);
    const DpSpec e = spec_of("Enum", R"({"range":["open","stop","close"]})");
    CHECK(e.range == std::vector<std::string>{"open", "stop", "close"});
    const DpSpec s = spec_of("String", R"({"maxlen":255})");
    CHECK(s.max_len == 255);
    const DpSpec bm = spec_of("Bitmap", R"({"label":["fault_a","fault_b"],"maxlen":2})");
    CHECK(bm.range.size() == 2);
    CHECK(bm.max_len == 2);
    CHECK(spec_of("Boolean", "{}").type == DpType::BOOL);
    CHECK(spec_of("Json", "").type == DpType::JSON);
    // Round trip through spec_values_to_json.
    auto again = proto::parse_dp_spec("Integer", proto::spec_values_to_json(a));
    REQUIRE(again.ok());
    CHECK(*again == a);
  }

  TEST_CASE("bad specs are refused") {
    CHECK(proto::parse_dp_spec("Float", json::object()).error().code == "dp_spec");
    CHECK(proto::parse_dp_spec("Integer", json("{not json")).error().code == "dp_spec");
    CHECK(proto::parse_dp_spec("Integer", json::parse(R"({"min":10,"max":1})")).error().code == "dp_spec");
    CHECK(proto::parse_dp_spec("Integer", json::parse(R"({"scale":12})")).error().code == "dp_spec");
    CHECK_FALSE(proto::parse_dp_spec(json::parse(R"({"values":{}})")).ok());
  }

  TEST_CASE("scaling both ways: 2301 <-> 230.1") {
    const DpSpec v = spec_of("Integer", R"({"unit":"V","min":0,"max":5000,"scale":1,"step":1})");
    auto real = proto::wire_to_value(v, "20", json(2301));
    REQUIRE(real.ok());
    CHECK(real->get<double>() == doctest::Approx(230.1));
    CHECK(real->dump() == "230.1");
    auto wire = proto::value_to_wire(v, "20", json(230.1));
    REQUIRE(wire.ok());
    CHECK(*wire == json(2301));
    CHECK(wire->is_number_integer());
    // numeric strings are friendly input
    CHECK(*proto::value_to_wire(v, "20", json("230.1")) == json(2301));
    // scale 3: energy in kWh
    const DpSpec e = spec_of("Integer", R"({"unit":"kWh","min":0,"max":5000000,"scale":3,"step":1})");
    CHECK(proto::wire_to_value(e, "17", json(3215))->dump() == "3.215");
    CHECK(*proto::value_to_wire(e, "17", json(3.215)) == json(3215));
    // scale 0 stays an integer
    const DpSpec p = spec_of("Integer", R"({"min":0,"max":100,"scale":0,"step":1})");
    CHECK(proto::wire_to_value(p, "2", json(42))->is_number_integer());
    // devices that send numbers as strings are read
    CHECK(*proto::wire_to_value(p, "2", json("42")) == json(42));
  }

  TEST_CASE("out-of-range values are refused with a message naming DP, value and range") {
    const DpSpec v = spec_of("Integer", R"({"unit":"V","min":0,"max":5000,"scale":1,"step":1})");
    auto r = proto::value_to_wire(v, "cur_voltage", json(600));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "dp_range");
    CHECK(r.error().message ==
          "DP cur_voltage: 600 is out of range; expected a number in 0.0..500.0 in steps of 0.1 (V)");
    CHECK(proto::value_to_wire(v, "cur_voltage", json(-0.1)).error().code == "dp_range");
    CHECK(proto::value_to_wire(v, "cur_voltage", json(500.0)).ok());
    CHECK(proto::value_to_wire(v, "cur_voltage", json(0)).ok());
    // a device reporting out of range is still read (never refuse state)
    CHECK(proto::wire_to_value(v, "cur_voltage", json(9999)).ok());
  }

  TEST_CASE("step: snapped by default, refused when strict") {
    const DpSpec b = spec_of("Integer", R"({"min":10,"max":1000,"scale":0,"step":5})");
    CHECK(*proto::value_to_wire(b, "22", json(12)) == json(10));
    CHECK(*proto::value_to_wire(b, "22", json(13)) == json(15));
    CHECK(*proto::value_to_wire(b, "22", json(1000)) == json(1000));
    auto strict = proto::value_to_wire(b, "22", json(13), StepPolicy::STRICT);
    REQUIRE_FALSE(strict.ok());
    CHECK(strict.error().code == "dp_step");
    CHECK(strict.error().message.find("steps of 5") != std::string::npos);
    // snapping never leaves the range: grid 10,15,..,995 when max is 998
    const DpSpec odd = spec_of("Integer", R"({"min":10,"max":998,"scale":0,"step":5})");
    CHECK(*proto::value_to_wire(odd, "22", json(998)) == json(995));
    // sub-scale precision: snapped, or refused when strict
    const DpSpec t = spec_of("Integer", R"({"min":50,"max":350,"scale":1,"step":5})");
    CHECK(*proto::value_to_wire(t, "temp_set", json(21.5)) == json(215));
    CHECK(*proto::value_to_wire(t, "temp_set", json(21.6)) == json(215));
    CHECK(proto::value_to_wire(t, "temp_set", json(21.56), StepPolicy::STRICT).error().code == "dp_step");
  }

  TEST_CASE("wrong types are refused") {
    const DpSpec v = spec_of("Integer", R"({"min":0,"max":100})");
    auto r = proto::value_to_wire(v, "3", json("abc"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "dp_type");
    CHECK(r.error().message.find("DP 3") == 0);
    CHECK(proto::value_to_wire(v, "3", json(true)).error().code == "dp_type");
    CHECK(proto::value_to_wire(v, "3", json::object()).error().code == "dp_type");
    const DpSpec b = spec_of("Boolean", "{}");
    CHECK(proto::value_to_wire(b, "1", json("maybe")).error().code == "dp_type");
    CHECK(proto::value_to_wire(b, "1", json(2)).error().code == "dp_type");
    CHECK(proto::wire_to_value(b, "1", json("x")).error().code == "dp_type");
    CHECK(proto::wire_to_value(v, "3", json::array()).error().code == "dp_type");
  }

  TEST_CASE("friendly booleans") {
    const DpSpec b = spec_of("Boolean", "{}");
    for (const json& on :
         {json("ON"), json("on"), json("true"), json(true), json(1), json("1"), json("yes")}) {
      CHECK(*proto::value_to_wire(b, "1", on) == json(true));
    }
    for (const json& off : {json("OFF"), json("false"), json(false), json(0), json("0"), json(" no ")}) {
      CHECK(*proto::value_to_wire(b, "1", off) == json(false));
    }
  }

  TEST_CASE("enum: exact, case-insensitive, refused with the list") {
    const DpSpec e = spec_of("Enum", R"({"range":["open","stop","close"]})");
    CHECK(*proto::value_to_wire(e, "control", json("stop")) == json("stop"));
    CHECK(*proto::value_to_wire(e, "control", json("OPEN")) == json("open"));
    auto r = proto::value_to_wire(e, "control", json("up"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "dp_enum");
    CHECK(r.error().message == "DP control: \"up\" is not allowed; expected one of [open, stop, close]");
    const DpSpec amb = spec_of("Enum", R"({"range":["Low","low"]})");
    CHECK(*proto::value_to_wire(amb, "m", json("low")) == json("low"));
    CHECK(proto::value_to_wire(amb, "m", json("LOW")).error().code == "dp_enum");
  }

  TEST_CASE("string length") {
    const DpSpec s = spec_of("String", R"({"maxlen":4})");
    CHECK(*proto::value_to_wire(s, "9", json("abcd")) == json("abcd"));
    CHECK(proto::value_to_wire(s, "9", json("abcde")).error().code == "dp_length");
    CHECK(*proto::value_to_wire(s, "9", json(12)) == json("12"));
  }

  TEST_CASE("raw must be valid base64") {
    const DpSpec raw = spec_of("Raw", "{}");
    CHECK(*proto::value_to_wire(raw, "201", json("AQID")) == json("AQID"));
    CHECK(proto::value_to_wire(raw, "201", json("AQ==")).ok());
    CHECK(proto::value_to_wire(raw, "201", json("AQ=")).error().code == "dp_base64");
    CHECK(proto::value_to_wire(raw, "201", json("A*ID")).error().code == "dp_base64");
    CHECK(proto::value_to_wire(raw, "201", json("AQ==AQ==")).error().code == "dp_base64");
    CHECK(proto::value_to_wire(raw, "201", json(5)).error().code == "dp_type");
    const DpSpec small = spec_of("Raw", R"({"maxlen":2})");
    CHECK(proto::value_to_wire(small, "201", json("AQI=")).ok());
    CHECK(proto::value_to_wire(small, "201", json("AQID")).error().code == "dp_length");
    CHECK(proto::is_base64(""));
    CHECK_FALSE(proto::is_base64("A==="));
  }

  TEST_CASE("bitmap by integer or labels") {
    const DpSpec bm = spec_of("Bitmap", R"({"label":["e1","e2","e3"],"maxlen":3})");
    CHECK(*proto::value_to_wire(bm, "11", json(5)) == json(5));
    CHECK(*proto::value_to_wire(bm, "11", json::parse(R"(["e1","e3"])")) == json(5));
    CHECK(proto::value_to_wire(bm, "11", json(8)).error().code == "dp_range");
    CHECK(proto::value_to_wire(bm, "11", json::parse(R"(["e9"])")).error().code == "dp_enum");
    CHECK(*proto::wire_to_value(bm, "11", json(2)) == json(2));
  }

  TEST_CASE("json DPs travel as compact JSON text") {
    const DpSpec j = spec_of("Json", "{}");
    CHECK(*proto::value_to_wire(j, "24", json::parse(R"({"h":120,"s":1000,"v":500})")) ==
          json(R"({"h":120,"s":1000,"v":500})"));
    CHECK(*proto::value_to_wire(j, "24", json(R"({ "h": 1 })")) == json(R"({"h":1})"));
    CHECK(proto::value_to_wire(j, "24", json("{bad")).error().code == "dp_json");
    CHECK(*proto::wire_to_value(j, "24", json(R"({"h":1})")) == json::parse(R"({"h":1})"));
  }

  TEST_CASE("long values are cut in error messages") {
    const DpSpec raw = spec_of("Raw", "{}");
    const std::string junk(500, '*');
    auto r = proto::value_to_wire(raw, "201", json(junk));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.size() < 200);
  }

  TEST_CASE("dump_lossy writes bytes that are not UTF-8 as U+FFFD instead of throwing") {
    const json bad = json::object({{"s", std::string("a\xff")}});
    CHECK_THROWS(bad.dump());  // what nlohmann does by default
    CHECK(proto::dump_lossy(bad) == "{\"s\":\"a\xEF\xBF\xBD\"}");
    // A JSON DP given such an object is carried as text, not thrown out of the converter.
    const DpSpec j = spec_of("Json", "{}");
    auto r = proto::value_to_wire(j, "24", bad);
    REQUIRE(r.ok());
    CHECK(r->get<std::string>() == proto::dump_lossy(bad));
  }

  TEST_CASE("describe") {
    CHECK(proto::describe(spec_of("Integer", R"({"min":10,"max":1000,"step":1})")) == "a number in 10..1000");
    CHECK(proto::describe(spec_of("Boolean", "{}")) == "a boolean (true/false, ON/OFF)");
  }
}

}  // namespace t2m_dps_test

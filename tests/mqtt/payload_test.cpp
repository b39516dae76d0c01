#include "mqtt/payload.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_payload_test {

using nlohmann::json;
using namespace t2m::mqtt;

TEST_SUITE("mqtt.payload") {
  TEST_CASE("/set: a JSON object passes through") {
    auto r = parse_set_payload(R"({"state":"ON","brightness":128,"color":{"h":240,"s":100}})");
    REQUIRE(r.ok());
    CHECK((*r)["state"] == "ON");
    CHECK((*r)["brightness"] == 128);
    CHECK((*r)["color"]["h"] == 240);
    auto raw = parse_set_payload(R"(  {"dps":{"1":true,"9":60}}  )");
    REQUIRE(raw.ok());
    CHECK((*raw)["dps"]["9"] == 60);
  }

  TEST_CASE("/set: bare state words become {\"state\":WORD}") {
    for (auto in_out : {std::pair{"ON", "ON"},
                        {"off", "OFF"},
                        {" Toggle\n", "TOGGLE"},
                        {"OPEN", "OPEN"},
                        {"close", "CLOSE"},
                        {"stop", "STOP"}}) {
      const char* const in = in_out.first;
      const char* const out = in_out.second;
      CAPTURE(in);
      auto r = parse_set_payload(in);
      REQUIRE(r.ok());
      CHECK(*r == json{{"state", out}});
    }
  }

  TEST_CASE("/set: errors") {
    CHECK(parse_set_payload("").error().code == "mqtt_payload_empty");
    CHECK(parse_set_payload("   ").error().code == "mqtt_payload_empty");
    CHECK(parse_set_payload("42").error().code == "mqtt_payload_not_object");
    CHECK(parse_set_payload("[1,2]").error().code == "mqtt_payload_not_object");
    CHECK(parse_set_payload("\"ON\"").error().code == "mqtt_payload_not_object");
    CHECK(parse_set_payload("maybe").error().code == "mqtt_payload_invalid_json");
    auto bad = parse_set_payload(R"({"state":"ON",})");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == "mqtt_payload_invalid_json");
    CHECK(bad.error().message.find("byte 15") != std::string::npos);
    // The error never echoes payload text (it may carry a local key).
    auto secret = parse_set_payload(R"({"local_key":"s3cr3tKEY0123456)");
    REQUIRE_FALSE(secret.ok());
    CHECK(secret.error().message.find("s3cr3t") == std::string::npos);
    std::string big = "{\"x\":\"" + std::string(MAX_COMMAND_PAYLOAD_BYTES, 'a') + "\"}";
    CHECK(parse_set_payload(big).error().code == "mqtt_payload_too_large");
    std::string fits = "{\"x\":\"" + std::string(MAX_COMMAND_PAYLOAD_BYTES - 8, 'a') + "\"}";
    CHECK(parse_set_payload(fits).ok());
  }

  TEST_CASE("/set/<attr>: bare values") {
    CHECK(*parse_bare_value("true") == json(true));
    CHECK(*parse_bare_value("false") == json(false));
    CHECK(parse_bare_value("null")->is_null());
    CHECK(*parse_bare_value("on") == json("ON"));
    CHECK(*parse_bare_value("OFF") == json("OFF"));
    CHECK(*parse_bare_value("toggle") == json("TOGGLE"));
    auto i = parse_bare_value("128");
    REQUIRE(i.ok());
    CHECK(i->is_number_integer());
    CHECK(*i == 128);
    CHECK(*parse_bare_value("-5") == -5);
    auto d = parse_bare_value(" 21.5 ");
    REQUIRE(d.ok());
    CHECK(d->is_number_float());
    CHECK(d->get<double>() == doctest::Approx(21.5));
    CHECK(parse_bare_value("1e3")->get<double>() == doctest::Approx(1000));
    CHECK(*parse_bare_value("\"quoted text\"") == json("quoted text"));
    CHECK(*parse_bare_value("\"tab\\there\"") == json("tab\there"));
    CHECK(*parse_bare_value("scene_1") == json("scene_1"));
    CHECK(*parse_bare_value("white") == json("white"));
    // Not JSON numbers: kept as text.
    CHECK(*parse_bare_value("01") == json("01"));
    CHECK(*parse_bare_value("+5") == json("+5"));
    CHECK(*parse_bare_value("1.") == json("1."));
    CHECK(*parse_bare_value("0x10") == json("0x10"));
    auto obj = parse_bare_value(R"({"h":240,"s":100,"v":50})");
    REQUIRE(obj.ok());
    CHECK((*obj)["h"] == 240);
    CHECK(parse_bare_value("[1,2,3]")->size() == 3);
  }

  TEST_CASE("/set/<attr>: errors") {
    CHECK(parse_bare_value("").error().code == "mqtt_payload_empty");
    CHECK(parse_bare_value("{\"h\":").error().code == "mqtt_payload_invalid_json");
    CHECK(parse_bare_value("\"unterminated").error().code == "mqtt_payload_invalid_json");
    CHECK(parse_bare_value(std::string(MAX_COMMAND_PAYLOAD_BYTES + 1, '1')).error().code ==
          "mqtt_payload_too_large");
  }

  TEST_CASE("/get payloads") {
    CHECK(parse_get_payload("")->empty());
    CHECK(parse_get_payload("  ")->empty());
    CHECK(*parse_get_payload(R"({"power":"","voltage":""})") == std::vector<std::string>{"power", "voltage"});
    CHECK(*parse_get_payload(R"(["a","b"])") == std::vector<std::string>{"a", "b"});
    CHECK(*parse_get_payload("power") == std::vector<std::string>{"power"});
    CHECK(*parse_get_payload("\"power\"") == std::vector<std::string>{"power"});
    CHECK_FALSE(parse_get_payload("[1]").ok());
    CHECK_FALSE(parse_get_payload("{").ok());
  }

  TEST_CASE("bridge request: JSON object with transaction") {
    auto r = parse_bridge_request(R"({"from":"bf01","to":"kitchen_plug","transaction":"r1"})");
    REQUIRE(r.ok());
    REQUIRE(r->has_transaction());
    CHECK(r->transaction == "r1");
    CHECK(r->data == json{{"from", "bf01"}, {"to", "kitchen_plug"}});
    auto num = parse_bridge_request(R"({"id":"x","transaction":42})");
    REQUIRE(num.ok());
    CHECK(num->transaction == 42);
    auto none = parse_bridge_request(R"({"id":"x"})");
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_transaction());
  }

  TEST_CASE("bridge request: bare strings, scalars and empty payloads") {
    auto s = parse_bridge_request("kitchen_plug");
    REQUIRE(s.ok());
    CHECK(s->data == json("kitchen_plug"));
    CHECK_FALSE(s->has_transaction());
    CHECK(parse_bridge_request("true")->data == json(true));
    CHECK(parse_bridge_request("\"quoted\"")->data == json("quoted"));
    CHECK(parse_bridge_request("")->data == json::object());
    CHECK(parse_bridge_request(R"({"a":)").error().code == "mqtt_payload_invalid_json");
    CHECK(parse_bridge_request(std::string(MAX_REQUEST_PAYLOAD_BYTES + 1, 'x')).error().code ==
          "mqtt_payload_too_large");
  }

  TEST_CASE("responses echo the transaction") {
    auto ok = json::parse(make_response(json{{"from", "a"}, {"to", "b"}}, json("r1")));
    CHECK(ok["status"] == "ok");
    CHECK(ok["data"]["to"] == "b");
    CHECK(ok["transaction"] == "r1");
    CHECK_FALSE(ok.contains("error"));
    auto no_tx = json::parse(make_response(json(nullptr)));
    CHECK(no_tx["data"] == json::object());
    CHECK_FALSE(no_tx.contains("transaction"));
    auto err = json::parse(make_error_response("device 'x' not found", json(7)));
    CHECK(err["status"] == "error");
    CHECK(err["error"] == "device 'x' not found");
    CHECK(err["data"] == json::object());
    CHECK(err["transaction"] == 7);
  }

  TEST_CASE("round trip: request transaction goes into the response") {
    auto req = parse_bridge_request(R"({"id":"plug","transaction":{"n":1,"s":"x"}})");
    REQUIRE(req.ok());
    auto resp = json::parse(make_response(json{{"id", "plug"}}, req->transaction));
    CHECK(resp["transaction"] == json{{"n", 1}, {"s", "x"}});
  }

  TEST_CASE("invalid UTF-8 never throws on the way out") {
    std::string bad = "bad \xff\xfe name";
    std::string out;
    CHECK_NOTHROW(out = make_error_response(bad));
    CHECK(json::parse(out)["status"] == "error");
    CHECK_NOTHROW(out = dump_json(json{{"x", bad}}));
    CHECK(out.find("\xff") == std::string::npos);
  }

  TEST_CASE("bridge request: deep nesting is refused, never parsed or echoed") {
    // A transaction nested 60,000 levels deep crashed the gateway (stack overflow in the serializer).
    const std::string deep = "{\"transaction\":" + std::string(60000, '[') + std::string(60000, ']') + "}";
    auto r = parse_bridge_request(deep);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "mqtt_payload_too_deep");
    CHECK_FALSE(parse_bare_value(std::string(70, '[') + std::string(70, ']')).ok());
    CHECK(parse_bridge_request(R"({"transaction":[[[1]]],"from":"a"})").ok());
  }
}

}  // namespace t2m_payload_test

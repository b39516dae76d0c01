#include "protocol/payload.h"

#include <string>

#include <doctest/doctest.h>

#include "protocol/message.h"
#include "test_util.h"
#include "vectors.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_payload_test {

using namespace t2m;
using namespace t2m::proto;
using namespace t2m::proto::testing;
namespace v = t2m::proto::vectors;
using nlohmann::json;

namespace {
const Target DEV{std::string(v::ID), std::nullopt};
const Target SUB{std::string(v::ID), std::string("a4c1380000000001")};
}  // namespace

TEST_CASE("query bodies match the §9 JSON byte for byte") {
  CHECK(build_query(Version::V3_1, false, DEV, v::T) == v::QUERY_JSON);
  CHECK(build_query(Version::V3_3, false, DEV, v::T) == v::QUERY_JSON);
  CHECK(build_query(Version::V3_4, false, DEV, v::T) == "{}");
  CHECK(build_query(Version::V3_5, false, DEV, v::T) == "{}");
  const Target d22{std::string(v::ID22), std::nullopt};
  CHECK(build_query(Version::V3_3, true, d22, v::T, {"1", "2"}) == v::DEVICE22_JSON);
  CHECK(
      build_query(Version::V3_3, true, d22, v::T) ==
      R"({"devId":"bf0123456789abcdef0122","uid":"bf0123456789abcdef0122","t":"1700000000","dps":{"1":null}})");
  CHECK(build_query(Version::V3_3, false, SUB, v::T) == R"({"t":1700000000,"cid":"a4c1380000000001"})");
  CHECK(build_query(Version::V3_4, false, SUB, v::T) == R"({"cid":"a4c1380000000001"})");
}

TEST_CASE("command ids per version and mode") {
  CHECK(query_command(Version::V3_1, false) == 0x0A);
  CHECK(query_command(Version::V3_3, false) == 0x0A);
  CHECK(query_command(Version::V3_3, true) == 0x0D);
  CHECK(query_command(Version::V3_4, false) == 0x10);
  CHECK(query_command(Version::V3_5, false) == 0x10);
  CHECK(control_command(Version::V3_3) == 0x07);
  CHECK(control_command(Version::V3_4) == 0x0D);
  CHECK(control_command(Version::V3_5) == 0x0D);
}

TEST_CASE("control bodies match the §9 JSON byte for byte") {
  const json on = {{"1", true}};
  CHECK(build_control(Version::V3_1, DEV, v::T, on) == v::CONTROL_JSON);
  CHECK(build_control(Version::V3_3, DEV, v::T, on) == v::CONTROL_JSON);
  CHECK(build_control(Version::V3_4, DEV, v::T, on) == v::CONTROL_NEW_JSON);
  CHECK(build_control(Version::V3_5, DEV, v::T, on) == v::CONTROL_NEW_JSON);
  CHECK(build_control(Version::V3_3, SUB, v::T, on) ==
        R"({"t":1700000000,"cid":"a4c1380000000001","dps":{"1":true}})");
  CHECK(
      build_control(Version::V3_4, SUB, v::T, on) ==
      R"({"protocol":5,"t":1700000000,"data":{"cid":"a4c1380000000001","ctype":0,"dps":{"1":true}},"cid":"a4c1380000000001"})");
  const json several = {{"1", true}, {"2", 50}, {"101", "auto"}};
  CHECK(
      build_control(Version::V3_3, DEV, v::T, several) ==
      R"({"devId":"bf0123456789abcdef01","uid":"bf0123456789abcdef01","t":"1700000000","dps":{"1":true,"101":"auto","2":50}})");
}

TEST_CASE("heartbeat, updatedps and gateway extension bodies") {
  CHECK(build_heartbeat(DEV) == v::HEARTBEAT_JSON);
  CHECK(build_updatedps({18, 19, 20}) == v::UPDATEDPS_JSON);
  CHECK(build_updatedps({}) == R"({"dpId":[]})");
  CHECK(build_subdev_online_query() == R"({"reqType":"subdev_online_stat_query","data":{"cids":[]}})");
}

TEST_CASE("builders escape ids and never throw on invalid UTF-8") {
  const Target odd{"a\"b\\c", std::nullopt};
  CHECK(build_heartbeat(odd) == R"({"gwId":"a\"b\\c","devId":"a\"b\\c"})");
  const Target bad_utf8{std::string("\xff\xfe"), std::nullopt};
  auto s = build_heartbeat(bad_utf8);
  CHECK(parse_json(s).has_value());
}

TEST_CASE("device reports: builders match the §9 plaintexts") {
  CHECK(build_report(Version::V3_3, DEV, v::T, json{{"1", false}}) == v::V33_STATUS_JSON);
  CHECK(build_report(Version::V3_4, DEV, v::T, json{{"1", true}}) == v::STATUS_NEW_JSON);
  CHECK(build_report(Version::V3_5, DEV, v::T, json{{"1", true}}) == v::STATUS_NEW_JSON);
  CHECK(build_report(Version::V3_4, SUB, v::T, json{{"1", true}}) ==
        R"({"protocol":4,"t":1700000000,"data":{"cid":"a4c1380000000001","dps":{"1":true}}})");
}

TEST_CASE("parse_report normalises every report shape") {
  auto a = parse_report(v::V33_STATUS_JSON);
  REQUIRE(a);
  CHECK(a->dps == json{{"1", false}});
  CHECK(a->dev_id == std::optional<std::string>(std::string(v::ID)));
  CHECK(a->t == std::optional<int64_t>(v::T));
  CHECK_FALSE(a->cid);

  auto b = parse_report(v::STATUS_NEW_JSON);
  REQUIRE(b);
  CHECK(b->dps == json{{"1", true}});
  CHECK(b->t == std::optional<int64_t>(v::T));
  CHECK_FALSE(b->dev_id);

  auto c = parse_report(v::PR177_REPLY_JSON);
  REQUIRE(c);
  CHECK(c->dps.size() == 5);
  CHECK(c->dps["6"] == 1194);
  CHECK_FALSE(c->t);

  auto d = parse_report(R"({"protocol":4,"t":"1700000001","data":{"cid":"n1","dps":{"3":12}}})");
  REQUIRE(d);
  CHECK(d->cid == std::optional<std::string>("n1"));
  CHECK(d->t == std::optional<int64_t>(1700000001));
  CHECK(d->dps == json{{"3", 12}});

  auto e = parse_report(R"({"devId":"x","cid":"n2","dps":{"1":true},"t":5})");
  REQUIRE(e);
  CHECK(e->cid == std::optional<std::string>("n2"));

  auto f = parse_report(R"({"reqType":"subdev_online_stat_report","data":{"online":[],"offline":[]}})");
  REQUIRE(f);
  CHECK(f->dps.empty());

  auto g = parse_report(R"({"dps":{"1":1},"t":-3})");
  REQUIRE(g);
  CHECK(g->t == std::optional<int64_t>(-3));
  auto h = parse_report(R"({"dps":{"1":1},"t":"12x"})");
  REQUIRE(h);
  CHECK_FALSE(h->t);
}

TEST_CASE("parse_report errors") {
  CHECK(code_of(parse_report("json obj data unvalid")) == ErrorCode::DEVICE_ERROR);
  CHECK(code_of(parse_report("{\"dps\":")) == ErrorCode::NOT_JSON);
  CHECK(code_of(parse_report("{\"dps\":5}")) == ErrorCode::NOT_JSON);
  CHECK(code_of(parse_report("{\"a\":\"\xff\"}")) == ErrorCode::NOT_JSON);  // invalid UTF-8: no exception
  std::string deep = "{\"dps\":" + std::string(100, '[') + std::string(100, ']') + "}";
  CHECK(code_of(parse_report(deep)) == ErrorCode::NOT_JSON);
  std::string ok_depth = "{\"dps\":{\"1\":" + std::string(10, '[') + std::string(10, ']') + "}}";
  CHECK(parse_report(ok_depth).ok());
  // Brackets inside strings don't count toward the depth.
  std::string in_string = "{\"dps\":{\"1\":\"" + std::string(100, '[') + "\"}}";
  CHECK(parse_report(in_string).ok());
}

TEST_CASE("parse_json bounds nesting and never throws") {
  CHECK(parse_json("{}").has_value());
  CHECK_FALSE(parse_json("").has_value());
  CHECK_FALSE(parse_json("nul").has_value());
  CHECK(parse_json(std::string(MAX_JSON_DEPTH, '[') + std::string(MAX_JSON_DEPTH, ']')).has_value());
  CHECK_FALSE(
      parse_json(std::string(MAX_JSON_DEPTH + 1, '[') + std::string(MAX_JSON_DEPTH + 1, ']')).has_value());
}

TEST_CASE("device side: parse what clients send") {
  auto a = parse_control(v::CONTROL_JSON);
  REQUIRE(a);
  CHECK(a->dps == json{{"1", true}});
  CHECK(a->dev_id == std::optional<std::string>(std::string(v::ID)));
  auto b = parse_control(v::CONTROL_NEW_JSON);
  REQUIRE(b);
  CHECK(b->dps == json{{"1", true}});
  auto c = parse_control(v::DEVICE22_JSON);
  REQUIRE(c);
  CHECK(c->dps.size() == 2);
  CHECK(c->dps["2"].is_null());
  auto d = parse_control(build_control(Version::V3_4, SUB, v::T, json{{"1", false}}));
  REQUIRE(d);
  CHECK(d->cid == SUB.cid);
  CHECK(d->dps == json{{"1", false}});
  CHECK(code_of(parse_control(v::QUERY_JSON)) == ErrorCode::NOT_JSON);
  CHECK(code_of(parse_control("data format error")) == ErrorCode::DEVICE_ERROR);

  auto u = parse_updatedps(v::UPDATEDPS_JSON);
  REQUIRE(u);
  CHECK(*u == std::vector<int>{18, 19, 20});
  CHECK(code_of(parse_updatedps(R"({"dpId":["18"]})")) == ErrorCode::NOT_JSON);
  CHECK(code_of(parse_updatedps(R"({"dpId":[-1]})")) == ErrorCode::NOT_JSON);
  CHECK(code_of(parse_updatedps(R"({"dpId":[99999999999]})")) == ErrorCode::NOT_JSON);
  CHECK(code_of(parse_updatedps(R"({"dps":{}})")) == ErrorCode::NOT_JSON);
}

TEST_CASE("round trip: builders -> parsers for every version and target") {
  const json dps = {{"1", true}, {"2", 255}, {"3", "white"}, {"101", nullptr}};
  for (auto ver : {Version::V3_1, Version::V3_2, Version::V3_3, Version::V3_4, Version::V3_5}) {
    for (const auto* target : {&DEV, &SUB}) {
      auto c = parse_control(build_control(ver, *target, v::T, dps));
      REQUIRE(c);
      CHECK(c->dps == dps);
      CHECK(c->cid == target->cid);
      auto r = parse_report(build_report(ver, *target, v::T, dps));
      REQUIRE(r);
      CHECK(r->dps == dps);
      CHECK(r->cid == target->cid);
      CHECK(r->t == std::optional<int64_t>(v::T));
    }
  }
}

}  // namespace t2m_payload_test

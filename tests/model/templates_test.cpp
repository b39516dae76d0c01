#include "model/templates.h"

#include <set>

#include <doctest/doctest.h>

#include "protocol/dps.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_templates_test {

using nlohmann::json;
using namespace t2m::model;

TEST_SUITE("templates") {
  TEST_CASE("the required categories exist and every spec parses") {
    for (const char* c : {"cz", "pc", "kg", "tgkg", "tgq", "dj", "dd", "cl", "fs", "wk", "wsdcg", "mcs",
                          "pir", "ywbj", "sj", "rqbj", "wnykq", "wg2"}) {
      CHECK_MESSAGE(find_template(c) != nullptr, c);
    }
    CHECK(find_template("zz") == nullptr);
    CHECK(find_template("CZ") == find_template("cz"));
    for (const auto& t : all_templates()) {
      std::set<int> ids;
      std::set<std::string> codes;
      for (const auto& d : t.dps) {
        CHECK_MESSAGE(t2m::proto::parse_dp_spec(d.type, d.values).ok(), (t.category + " " + d.code));
        CHECK_MESSAGE(ids.insert(d.id).second, (t.category + " duplicate id"));
        CHECK_MESSAGE(codes.insert(d.code).second, (t.category + " duplicate code"));
      }
    }
  }

  TEST_CASE("light layout from the reported DPs") {
    CHECK(find_template("dj")->category == "dj_v2");
    CHECK(find_template("dj", json::parse(R"({"20":true,"21":"white"})"))->category == "dj_v2");
    CHECK(find_template("dj", json::parse(R"({"1":true,"2":"white","3":255})"))->category == "dj_v1");
    CHECK(find_template("dd", json::parse(R"({"1":true})"))->category == "dd_v1");
    CHECK(find_template("dj_v1")->category == "dj_v1");
    CHECK(find_template("xdd")->category == "dj_v2");
  }

  TEST_CASE("metering plug DPs carry the scales that make 2301 read 230.1 V") {
    const CategoryTemplate* t = find_template("cz");
    REQUIRE(t);
    bool found = false;
    for (const auto& d : t->dps) {
      if (d.id != 20) continue;
      found = true;
      CHECK(d.code == "cur_voltage");
      CHECK(d.read_only);
      auto spec = t2m::proto::parse_dp_spec(d.type, d.values);
      REQUIRE(spec.ok());
      CHECK(t2m::proto::wire_to_value(*spec, "20", json(2301))->dump() == "230.1");
    }
    CHECK(found);
  }
}

}  // namespace t2m_templates_test

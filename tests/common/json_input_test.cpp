#include "common/json_input.h"

#include <doctest/doctest.h>

#include <string>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_json_input_test {

using namespace t2m;

namespace {
std::string nested(size_t levels, char open = '[', char close = ']') {
  return std::string(levels, open) + std::string(levels, close);
}
}  // namespace

TEST_CASE("parse_json accepts ordinary documents") {
  auto r = parse_json(R"({"a":[1,{"b":"x]]]]"}],"c":"\"{"})");
  REQUIRE(r.ok());
  CHECK(r.value()["a"][1]["b"] == "x]]]]");
  CHECK(r.value()["c"] == "\"{");
}

TEST_CASE("parse_json refuses deep nesting before the recursive parser sees it") {
  // 60,000 levels crashed the gateway when a bridge request's transaction was echoed back.
  for (const auto& text : {nested(60000), nested(60000, '{', '}'), "{\"t\":" + nested(65) + "}"}) {
    auto r = parse_json(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == JsonInputError::too_deep);
  }
  CHECK(parse_json(nested(64)).ok());
  CHECK_FALSE(parse_json(nested(65)).ok());
  JsonLimits tight;
  tight.max_depth = 2;
  CHECK(parse_json("[[1]]", tight).ok());
  CHECK_FALSE(parse_json("[[[1]]]", tight).ok());
}

TEST_CASE("brackets inside strings do not count as nesting") {
  const std::string text = "[\"" + std::string(100, '[') + "\\\"" + std::string(100, '{') + "\"]";
  CHECK(json_depth(text, 1000) == 1);
  CHECK(parse_json(text).ok());
}

TEST_CASE("parse_json refuses oversize and invalid text with a reason") {
  JsonLimits small;
  small.max_bytes = 8;
  auto big = parse_json("[1,2,3,4,5]", small);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == JsonInputError::too_large);
  auto bad = parse_json("{\"a\":");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == JsonInputError::invalid);
  CHECK(bad.error().message.find("byte") != std::string::npos);
  CHECK(to_string(JsonInputError::too_deep) == "too_deep");
}

}  // namespace t2m_json_input_test

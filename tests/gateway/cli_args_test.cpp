#include "gateway/cli_args.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_cli_args_test {

using namespace t2m::gw;

TEST_CASE("flags, values, aliases, positionals") {
  ArgSpec spec{{"--config", "--timeout"}, {"--json", "--help"}, {{"-c", "--config"}, {"-h", "--help"}}};
  auto r = parse_args({"set", "-c", "x.json", "plug", "1", "--json", "--timeout=5", "-5"}, spec);
  REQUIRE(r.ok());
  CHECK(r->get("--config") == "x.json");
  CHECK(r->get("--timeout") == "5");
  CHECK(r->has("--json"));
  CHECK_FALSE(r->has("--help"));
  CHECK(r->positional == std::vector<std::string>{"set", "plug", "1", "-5"});
}

TEST_CASE("errors name the option") {
  ArgSpec spec{{"--config"}, {"--json"}, {}};
  auto unknown = parse_args({"--cofnig", "x"}, spec);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("--cofnig") != std::string::npos);
  CHECK_FALSE(parse_args({"--config"}, spec).ok());
  CHECK_FALSE(parse_args({"--json=1"}, spec).ok());
  auto dashdash = parse_args({"--", "--json"}, spec);
  REQUIRE(dashdash.ok());
  CHECK(dashdash->positional == std::vector<std::string>{"--json"});
}

}  // namespace t2m_cli_args_test

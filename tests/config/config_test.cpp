// config.cpp: durations, and loading a file (syntax errors, permission warnings, the examples).
#include "config/config.h"

#include <doctest/doctest.h>

#include "tests/config/config_test_support.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_config_test {

using nlohmann::json;
using namespace t2m::config;
using namespace t2m::config::testing;
using namespace std::chrono_literals;

TEST_SUITE("config") {
  TEST_CASE("durations") {
    CHECK(parse_duration(json(10)) == 10000ms);
    CHECK(parse_duration(json(2.5)) == 2500ms);
    CHECK(parse_duration(json("500ms")) == 500ms);
    CHECK(parse_duration(json("10s")) == 10000ms);
    CHECK(parse_duration(json("5m")) == 300000ms);
    CHECK(parse_duration(json("1h")) == 3600000ms);
    CHECK(parse_duration(json(" 7 ")) == 7000ms);
    CHECK_FALSE(parse_duration(json("10 parsecs")).has_value());
    CHECK_FALSE(parse_duration(json(-1)).has_value());
    CHECK_FALSE(parse_duration(json(true)).has_value());
    auto r = parse_config(
        json::parse(R"({"devices":[{"id":"a","local_key":"0123456789abcdef","poll_interval":"1500ms"}]})"));
    REQUIRE_FALSE(r.ok());
    CHECK(texts(r.error()) == std::vector<std::string>{"devices[0].poll_interval: must be whole seconds"});
  }

  TEST_CASE("JSON syntax errors give a position, never the content") {
    TempDir dir;
    const std::string p = dir.write(
        "bad.json", "{\n  \"devices\": [\n    {\"local_key\": \"S3cretKeyAbcdefg\" oops}\n]}", 0600);
    auto r = load_config(p);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.error().size() == 1);
    const std::string msg = r.error()[0].to_string();
    CHECK(msg.find("JSON syntax error at line 3") != std::string::npos);
    CHECK(msg.find("S3cretKeyAbcdefg") == std::string::npos);
    auto missing = load_config((dir.path / "nope.json").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error()[0].message.find("cannot read") == 0);
  }

  TEST_CASE("a file holding keys that group/others can read gives a warning") {
    TempDir dir;
    const std::string open_file = dir.write("open.json", MINIMAL, 0644);
    auto r = load_config(open_file);
    REQUIRE(r.ok());
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0].find("readable by group/others (mode 0644)") != std::string::npos);
    CHECK(r->warnings[0].find("chmod 600") != std::string::npos);
    CHECK(r->warnings[0].find("0123456789abcdef\"") == std::string::npos);
    const std::string closed = dir.write("closed.json", MINIMAL, 0600);
    auto r2 = load_config(closed);
    REQUIRE(r2.ok());
    CHECK(r2->warnings.empty());
    // No secrets in the file: no warning even when world-readable.
    const std::string no_keys =
        dir.write("nokeys.json", R"({"mqtt":{"server":"mqtt://127.0.0.1:1883"}})", 0644);
    auto r3 = load_config(no_keys);
    REQUIRE(r3.ok());
    CHECK(r3->warnings.empty());
  }
}

TEST_CASE("the example configurations load and validate") {
  auto a = load_config(std::string(T2M_SOURCE_DIR) + "/examples/config/tuya2mqtt.json");
  REQUIRE_MESSAGE(a.ok(), (a.ok() ? std::string() : a.error().front().to_string()));
  CHECK(a->config.devices.size() == 9);
  CHECK(a->config.discovery.broadcast_target == "127.255.255.255");
  for (const auto& d : a->config.devices) CHECK((d.address.rfind("127.", 0) == 0 || d.is_sub_device()));
  auto b = load_config(std::string(T2M_SOURCE_DIR) + "/examples/config/tuya2mqtt-with-device-list.json");
  REQUIRE_MESSAGE(b.ok(), (b.ok() ? std::string() : b.error().front().to_string()));
  CHECK(b->config.devices.size() == 4);
  REQUIRE(b->config.find_device("kitchen_plug"));
  CHECK(b->config.find_device("kitchen_plug")->mapping.contains("19"));
  CHECK(b->config.find_device("bf34gw07sub0000sw01")->parent == "bf34gateway000000007");
}

}  // namespace t2m_config_test

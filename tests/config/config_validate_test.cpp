// config_validate.cpp: every problem at once, each with its JSON path.
#include "config/config.h"

#include <doctest/doctest.h>

#include "tests/config/config_test_support.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_config_validate_test {

using nlohmann::json;
using namespace t2m::config;
using namespace t2m::config::testing;
using namespace std::chrono_literals;

TEST_SUITE("config") {
  TEST_CASE("validation reports every problem at once, with exact paths") {
    ConfigWarnings warnings;
    auto r = parse_config(json::parse(R"({
      "mqtt": {"server": "http://broker", "base_topic": "a/#", "keepalive": 0, "password": "MqttPassw0rd!"},
      "homeassistant": {"discovery_prefix": ""},
      "cloud": {"access_id": "", "access_secret": "CloudS3cretValue", "region": "mars"},
      "log_level": "loud",
      "discovery": {"ports": [6666, 70000], "broadcast_target": "255.255.255.256"},
      "typo_section": 1,
      "devices": [
        {"id": "dev1", "local_key": "0123456789abcdef", "name": "plug"},
        {"id": "dev2", "local_key": "Sh0rtKeyOf15chr"},
        {"id": "dev1", "local_key": "0123456789abcdef", "name": "plug", "port": 70000, "version": "3.6",
         "heartbeat_interval": 60},
        {"id": "sub1", "cid": "abc", "parent": "nope"},
        {"id": "bad id!", "local_key": "0123456789abcde\u0001", "name": "bridge"},
        {"local_key": 5},
        {"id": "dev7", "local_key": "0123456789abcdef", "dps": {"300": {}, "5": {"type": "float", "step": 0}},
         "address": "not an address", "update_dps": [0]}
      ]})"),
                          nullptr, &warnings);
    REQUIRE_FALSE(r.ok());
    const auto got = texts(r.error());
    const std::vector<std::string> expected = {
        "devices[5].local_key: must be a string (got number)",
        "devices[5].id: is required",
        "devices[6].dps.300: key must be a DP id 1..255",
        "devices[6].dps.5.type: must be one of bool, integer, enum, string, raw, bitmap, json (got "
        "\"float\")",
        "devices[6].dps.5.step: must be positive (got 0)",
        "devices[6].update_dps[0]: must be a DP id 1..255 (got 0)",
        "devices[2].port: must be 1..65535 (got 70000)",
        "mqtt.server: must be a URI such as mqtt://host:1883 or mqtts://host:8883 (got \"http://broker\")",
        "mqtt.base_topic: must not contain MQTT wildcards '+' or '#'",
        "mqtt.keepalive: must be 1..65535 s",
        "mqtt.username: is required when a password is set",
        "homeassistant.discovery_prefix: must not be empty",
        "cloud.access_id: is required",
        "cloud.region: must be one of cn, us, us-e, eu, eu-w, in, sg (got \"mars\")",
        "log_level: must be one of error, warning, info, debug, verbose (got \"loud\")",
        "discovery.ports[1]: must be a port number from 1 to 65535 (got 70000)",
        "discovery.broadcast_target: must be an IPv4 address (got \"255.255.255.256\")",
        "devices[1].local_key: must be 16 characters (got 15)",
        "devices[2].version: must be one of 3.1, 3.2, 3.3, 3.4, 3.5, 3.22, auto (got \"3.6\")",
        "devices[2].heartbeat_interval: must be 1..25 s (devices drop idle sockets after ~30 s; got 60)",
        "devices[4].id: must be 1..64 letters, digits, '_' or '-'",
        "devices[4].local_key: must be printable ASCII characters",
        "devices[4].name: \"bridge\" is reserved for the gateway's own topics",
        "devices[5].id: must not be empty",
        "devices[5].local_key: is required (16 characters)",
        "devices[6].address: must be an IPv4 address, a host name or \"auto\" (got \"not an address\")",
        "devices[2].id: duplicate id (also devices[0])",
        "devices[3].parent: no device with id \"nope\"",
    };
    for (const auto& e : expected) CHECK_MESSAGE(has(got, e), e);
    for (const auto& g : got) CHECK_MESSAGE(has(expected, g), (std::string("unexpected: ") + g));
    CHECK(got.size() == expected.size());
    // Unknown keys are warnings, not errors.
    CHECK(std::find(warnings.begin(), warnings.end(), "typo_section: unknown key, ignored") !=
          warnings.end());
  }

  TEST_CASE("session timings out of range name their path") {
    auto issues = [](const json& session) {
      json doc = json::parse(MINIMAL);
      doc["session"] = session;
      ConfigWarnings warnings;
      auto r = parse_config(doc, nullptr, &warnings);
      return r.ok() ? std::vector<std::string>{} : texts(r.error());
    };
    CHECK(issues({{"connect_timeout", "100ms"}}) ==
          std::vector<std::string>{"session.connect_timeout: must be between 500ms and 1m (got 100ms)"});
    CHECK(issues({{"connect_timeout", "2m"}}) ==
          std::vector<std::string>{"session.connect_timeout: must be between 500ms and 1m (got 120000ms)"});
    CHECK(issues({{"response_timeout", 0}}) ==
          std::vector<std::string>{"session.response_timeout: must be between 500ms and 30s (got 0ms)"});
    CHECK(issues({{"response_timeout", 31}}) ==
          std::vector<std::string>{"session.response_timeout: must be between 500ms and 30s (got 31000ms)"});
    CHECK(issues({{"reconnect_min", "50ms"}}) ==
          std::vector<std::string>{"session.reconnect_min: must be between 100ms and 1h (got 50ms)"});
    CHECK(issues({{"reconnect_max", "2h"}}) ==
          std::vector<std::string>{"session.reconnect_max: must be between 100ms and 1h (got 7200000ms)"});
    CHECK(issues({{"reconnect_min", "10s"}, {"reconnect_max", "5s"}}) ==
          std::vector<std::string>{"session.reconnect_max: must not be less than reconnect_min"});
    CHECK(issues({{"offline_command_timeout", "500ms"}}) ==
          std::vector<std::string>{"session.offline_command_timeout: must be between 1s and 5m (got 500ms)"});
    CHECK(issues({{"offline_command_timeout", "6m"}}) ==
          std::vector<std::string>{
              "session.offline_command_timeout: must be between 1s and 5m (got 360000ms)"});
    CHECK(issues({{"response_timeout", "soon"}}) ==
          std::vector<std::string>{
              "session.response_timeout: must be a duration: seconds or a string such as \"250ms\", \"1s\""});
    CHECK(issues(json(5)) == std::vector<std::string>{"session: must be an object"});
    // Every bound itself is allowed.
    CHECK(issues({{"connect_timeout", "500ms"},
                  {"response_timeout", "30s"},
                  {"reconnect_min", "100ms"},
                  {"reconnect_max", "1h"},
                  {"offline_command_timeout", "5m"}})
              .empty());
  }
}

}  // namespace t2m_config_validate_test

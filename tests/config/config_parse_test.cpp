// config_parse.cpp: reading every section and device into a Config; secrets kept out of every text.
#include "config/config.h"

#include <doctest/doctest.h>

#include "tests/config/config_test_support.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_config_parse_test {

using nlohmann::json;
using namespace t2m::config;
using namespace t2m::config::testing;
using namespace std::chrono_literals;

TEST_SUITE("config") {
  TEST_CASE("defaults") {
    auto r = parse_config(json::parse(MINIMAL));
    REQUIRE(r.ok());
    const Config& c = *r;
    CHECK(c.mqtt.server == "mqtt://localhost:1883");
    CHECK(c.mqtt.base_topic == "tuya2mqtt");
    CHECK(c.mqtt.keepalive == 60s);
    CHECK_FALSE(c.mqtt.tls.has_value());
    CHECK(c.homeassistant.enabled);
    CHECK(c.homeassistant.discovery_prefix == "homeassistant");
    CHECK(c.homeassistant.status_topic == "homeassistant/status");
    CHECK_FALSE(c.cloud.has_value());
    CHECK(c.log_level == "info");
    CHECK(c.discovery.enabled);
    CHECK(c.discovery.ports == std::vector<uint16_t>{6666, 6667, 7000});
    CHECK(c.discovery.broadcast_target.empty());  // nothing is ever sent unless configured
    REQUIRE(c.devices.size() == 1);
    const DeviceConfig& d = c.devices[0];
    CHECK(d.address == "auto");
    CHECK(d.port == 6668);
    CHECK(d.version == "auto");
    CHECK(d.heartbeat_interval == 10s);
    CHECK(d.poll_interval == DEFAULT_POLL_INTERVAL);
    CHECK(d.max_dps_per_write == 0);
    CHECK(d.max_dps == 255);
    CHECK(d.write_pacing == 100ms);
    CHECK(d.kelvin_min == 2700);
    CHECK(d.kelvin_max == 6500);
    CHECK(d.display_name() == "bf0123456789abcdef01");
    CHECK(d.source_path == "devices[0]");
  }

  TEST_CASE("every field of a demanding device is read") {
    auto r = parse_config(json::parse(R"({
      "mqtt": {"server": "mqtts://broker.lan:8883", "client_id": "gw1", "username": "u", "password": "pw-123456",
               "tls": {"ca": "/etc/ca.pem", "cert": "/etc/c.pem", "key": "/etc/k.pem", "key_password": "kpw-1234",
                       "verify_hostname": false},
               "base_topic": "home/tuya", "keepalive": "2m", "plain_topics": true, "retain": false},
      "homeassistant": {"enabled": false, "discovery_prefix": "ha", "status_topic": "ha/status"},
      "cloud": {"access_id": "id1", "access_secret": "secret-value-1", "region": "us-e",
                "allow_cloud_commands": true, "push": true, "device_id": "bf0123456789abcdef01"},
      "log_level": "debug",
      "discovery": {"enabled": true, "bind_address": "127.0.0.1", "ports": [6667], "broadcast_target": "127.255.255.255",
                    "request_interval": 30},
      "devices": [
        {"id": "hub1", "local_key": "0123456789abcdef", "address": "127.0.1.1", "port": 16668, "version": "3.4",
         "name": "rooms/hub", "poll_interval": 0, "heartbeat_interval": "15s", "update_dps": [18, "19", 20],
         "update_dps_interval": 60, "max_dps_per_write": 1, "write_pacing": "250ms", "category": "wg2",
         "product_id": "p1", "plain_topics": false, "retain": true, "passive": false},
        {"id": "sub1", "cid": "a4c138", "parent": "hub1", "category": "mcs", "passive": true},
        {"id": "bulb1", "local_key": "0123456789abcdef", "version": "3.22", "category": "dj", "kelvin_min": 2200,
         "kelvin_max": 6000, "invert_position": true,
         "dps": {"22": {"min": 25, "max": 255, "read_only": false, "name": "Brightness"},
                 "101": {"code": "night_mode", "type": "Boolean", "component": "switch"}}}
      ]})"));
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().front().to_string()));
    const Config& c = *r;
    CHECK(c.mqtt.keepalive == 120s);
    REQUIRE(c.mqtt.tls.has_value());
    CHECK_FALSE(c.mqtt.tls->verify_hostname);
    CHECK(c.mqtt.plain_topics);
    CHECK_FALSE(c.mqtt.retain);
    CHECK_FALSE(c.homeassistant.enabled);
    REQUIRE(c.cloud.has_value());
    CHECK(c.cloud->region == "us-e");
    CHECK(c.cloud->allow_cloud_commands);
    CHECK(c.cloud->push == PushTransport::PULSAR);  // the older boolean form
    CHECK(c.discovery.ports == std::vector<uint16_t>{6667});
    CHECK(c.discovery.request_interval == 30s);
    const DeviceConfig& hub = c.devices[0];
    CHECK(hub.port == 16668);
    CHECK(hub.poll_interval == 0s);
    CHECK(hub.heartbeat_interval == 15s);
    CHECK(hub.update_dps == std::vector<int>{18, 19, 20});
    CHECK(hub.max_dps_per_write == 1);
    CHECK(hub.write_pacing == 250ms);
    CHECK(hub.retain == std::optional<bool>(true));
    const DeviceConfig& sub = c.devices[1];
    CHECK(sub.is_sub_device());
    CHECK(sub.local_key.empty());
    CHECK(sub.passive);
    const DeviceConfig& bulb = c.devices[2];
    CHECK(bulb.version == "3.3");
    CHECK(bulb.device22);
    CHECK(bulb.kelvin_min == 2200);
    REQUIRE(bulb.dps.count(22));
    CHECK(bulb.dps.at(22).min == 25);
    CHECK(bulb.dps.at(101).type == t2m::proto::DpType::BOOL);
    CHECK(c.find_device("rooms/hub") == &c.devices[0]);
    CHECK(c.find_device("bulb1") == &c.devices[2]);
  }

  TEST_CASE("secrets never appear in issue or warning texts") {
    const std::string key15 = "Zq9`xW^{Lm2#Pr7";  // 15 chars, printable, punctuation
    const std::string key_bad = std::string("Ab3$dE6&gH9*jK") + '\x7f' + "L";
    json doc = json::parse(R"({"mqtt":{"server":"bogus","password":"Pa55w0rd-Secret"},
                               "cloud":{"access_id":"","access_secret":"Cl0udSecret-XYZ","region":"??"}})");
    doc["devices"] =
        json::array({json{{"id", "a"}, {"local_key", key15}}, json{{"id", "b"}, {"local_key", key_bad}},
                     json{{"id", "c"}, {"local_key", key15}, {"unknown_" + key15, 1}}});
    ConfigWarnings warnings;
    auto r = parse_config(doc, nullptr, &warnings);
    REQUIRE_FALSE(r.ok());
    std::string all;
    for (const auto& i : r.error()) all += i.to_string() + "\n";
    for (const auto& w : warnings) all += w + "\n";
    CHECK(all.find("devices[0].local_key: must be 16 characters (got 15)") != std::string::npos);
    for (const std::string& secret :
         {key15, key_bad, std::string("Pa55w0rd-Secret"), std::string("Cl0udSecret-XYZ")}) {
      CHECK_MESSAGE(all.find(secret) == std::string::npos, "secret leaked");
    }
  }

  TEST_CASE("cloud push transport, open-hub CA and OTA poll interval") {
    auto cloud_doc = [](const json& extra) {
      json doc = json::parse(MINIMAL);
      doc["cloud"] = {{"access_id", "id1"}, {"access_secret", "secret-value-1"}};
      for (const auto& [k, v] : extra.items()) doc["cloud"][k] = v;
      return doc;
    };
    SUBCASE("defaults: no push, the manager's 5 s poll") {
      auto r = parse_config(cloud_doc(json::object()));
      REQUIRE(r.ok());
      CHECK(r->cloud->push == PushTransport::OFF);
      CHECK(r->cloud->openhub_ca.empty());
      CHECK(r->cloud->ota_poll_interval == 5s);
      CHECK(r->cloud->ota_poll_interval == DEFAULT_OTA_POLL_INTERVAL);
    }
    SUBCASE("every spelling of push") {
      const std::vector<std::pair<json, PushTransport>> cases = {
          {true, PushTransport::PULSAR},       {false, PushTransport::OFF}, {"pulsar", PushTransport::PULSAR},
          {"openhub", PushTransport::OPENHUB}, {"off", PushTransport::OFF}, {nullptr, PushTransport::OFF}};
      for (const auto& value_expected : cases) {
        const json& value = value_expected.first;
        const PushTransport expected = value_expected.second;
        auto r = parse_config(cloud_doc({{"push", value}}));
        REQUIRE_MESSAGE(r.ok(), value.dump());
        CHECK_MESSAGE(r->cloud->push == expected, value.dump());
      }
      CHECK(to_string(PushTransport::OFF) == "off");
      CHECK(to_string(PushTransport::PULSAR) == "pulsar");
      CHECK(to_string(PushTransport::OPENHUB) == "openhub");
    }
    SUBCASE("open-hub with its CA and a short poll") {
      ConfigWarnings warnings;
      auto r = parse_config(
          cloud_doc(
              {{"push", "openhub"}, {"openhub_ca", "/etc/ssl/tuya-ca.pem"}, {"ota_poll_interval", "1500ms"}}),
          nullptr, &warnings);
      REQUIRE(r.ok());
      CHECK(r->cloud->push == PushTransport::OPENHUB);
      CHECK(r->cloud->openhub_ca == "/etc/ssl/tuya-ca.pem");
      CHECK(r->cloud->ota_poll_interval == 1500ms);
      CHECK(warnings.empty());
      auto s = parse_config(cloud_doc({{"ota_poll_interval", 2}}));
      REQUIRE(s.ok());
      CHECK(s->cloud->ota_poll_interval == 2s);
    }
    SUBCASE("bad values name their path") {
      auto r = parse_config(cloud_doc({{"push", "kafka"}}));
      REQUIRE_FALSE(r.ok());
      CHECK(texts(r.error()) ==
            std::vector<std::string>{R"(cloud.push: must be "off", "pulsar" or "openhub" (got "kafka"))"});
      r = parse_config(cloud_doc({{"push", 1}}));
      REQUIRE_FALSE(r.ok());
      CHECK(texts(r.error()) ==
            std::vector<std::string>{R"(cloud.push: must be "off", "pulsar" or "openhub" (got number))"});
      r = parse_config(cloud_doc({{"openhub_ca", 5}}));
      REQUIRE_FALSE(r.ok());
      CHECK(texts(r.error()) == std::vector<std::string>{"cloud.openhub_ca: must be a string (got number)"});
      for (const json& bad : {json(0.5), json(0), json("11m"), json(-1)}) {
        r = parse_config(cloud_doc({{"ota_poll_interval", bad}}));
        REQUIRE_FALSE_MESSAGE(r.ok(), bad.dump());
        REQUIRE(r.error().size() == 1);
        CHECK_MESSAGE(r.error()[0].path == "cloud.ota_poll_interval", bad.dump());
      }
      r = parse_config(cloud_doc({{"ota_poll_interval", 0.5}}));
      REQUIRE_FALSE(r.ok());
      CHECK(texts(r.error()) ==
            std::vector<std::string>{"cloud.ota_poll_interval: must be between 1s and 10m (got 500ms)"});
      r = parse_config(cloud_doc({{"ota_poll_interval", "soon"}}));
      REQUIRE_FALSE(r.ok());
      CHECK(r.error()[0].path == "cloud.ota_poll_interval");
    }
    SUBCASE("a CA without open-hub is a warning") {
      ConfigWarnings warnings;
      auto r = parse_config(cloud_doc({{"push", true}, {"openhub_ca", "/etc/ca.pem"}}), nullptr, &warnings);
      REQUIRE(r.ok());
      CHECK(has(warnings, R"(cloud.openhub_ca: only used with "push": "openhub", ignored)"));
    }
    SUBCASE("round trip keeps the spelling the file used") {
      for (const json& value : {json(true), json(false), json("pulsar"), json("openhub"), json("off")}) {
        auto r = parse_config(cloud_doc({{"push", value}, {"ota_poll_interval", "1500ms"}}));
        REQUIRE(r.ok());
        const json out = to_json(*r);
        CHECK_MESSAGE(out["cloud"]["push"] == value, value.dump());
        CHECK(out["cloud"]["ota_poll_interval"] == "1500ms");
        auto again = parse_config(out);
        REQUIRE(again.ok());
        CHECK(again->cloud == r->cloud);
      }
      // Values set in memory (not in the file) are written in the new form; defaults are omitted.
      auto r = parse_config(cloud_doc(json::object()));
      REQUIRE(r.ok());
      json out = to_json(*r);
      CHECK_FALSE(out["cloud"].contains("push"));
      CHECK_FALSE(out["cloud"].contains("ota_poll_interval"));
      CHECK_FALSE(out["cloud"].contains("openhub_ca"));
      r->cloud->push = PushTransport::OPENHUB;
      r->cloud->openhub_ca = "/ca.pem";
      r->cloud->ota_poll_interval = 2s;
      out = to_json(*r);
      CHECK(out["cloud"]["push"] == "openhub");
      CHECK(out["cloud"]["openhub_ca"] == "/ca.pem");
      CHECK(out["cloud"]["ota_poll_interval"] == 2);
      r->cloud->push = PushTransport::PULSAR;
      CHECK(to_json(*r)["cloud"]["push"] == true);
    }
  }

  TEST_CASE("session timings default to the field values") {
    auto r = parse_config(json::parse(MINIMAL));
    REQUIRE(r.ok());
    const SessionConfig& s = r->session;
    CHECK(s.connect_timeout == 5s);
    CHECK(s.response_timeout == 3s);
    CHECK(s.reconnect_min == 1s);
    CHECK(s.reconnect_max == 60s);
    CHECK(s.offline_command_timeout == 10s);
    CHECK(s == SessionConfig{});
    CHECK_FALSE(to_json(*r).contains("session"));  // defaults are not written
  }

  TEST_CASE("session timings are read from the session section and written back") {
    json doc = json::parse(MINIMAL);
    doc["session"] = {{"connect_timeout", "2s"},
                      {"response_timeout", "750ms"},
                      {"reconnect_min", 0.5},
                      {"reconnect_max", "5m"},
                      {"offline_command_timeout", 30}};
    ConfigWarnings warnings;
    auto r = parse_config(doc, nullptr, &warnings);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().front().to_string()));
    CHECK(warnings.empty());
    CHECK(r->session.connect_timeout == 2s);
    CHECK(r->session.response_timeout == 750ms);
    CHECK(r->session.reconnect_min == 500ms);
    CHECK(r->session.reconnect_max == 5min);
    CHECK(r->session.offline_command_timeout == 30s);
    const json out = to_json(*r);
    CHECK(out["session"] == json{{"connect_timeout", 2},
                                 {"response_timeout", "750ms"},
                                 {"reconnect_min", "500ms"},
                                 {"reconnect_max", 300},
                                 {"offline_command_timeout", 30}});
    auto again = parse_config(out);
    REQUIRE(again.ok());
    CHECK(again->session == r->session);
    // Set in memory only: written; an empty section the user wrote is kept.
    Config c = *parse_config(json::parse(MINIMAL));
    c.session.response_timeout = 4s;
    CHECK(to_json(c)["session"] == json{{"response_timeout", 4}});
    json empty = json::parse(MINIMAL);
    empty["session"] = json::object();
    CHECK(to_json(*parse_config(empty))["session"] == json::object());
  }

  TEST_CASE("unknown keys in the session section are warnings") {
    json doc = json::parse(MINIMAL);
    doc["session"] = {{"heartbeat", 5}};
    ConfigWarnings warnings;
    REQUIRE(parse_config(doc, nullptr, &warnings).ok());
    CHECK(warnings == std::vector<std::string>{"session.heartbeat: unknown key, ignored"});
  }
}

}  // namespace t2m_config_parse_test

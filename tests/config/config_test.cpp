#include "config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

using nlohmann::json;
using namespace t2m::config;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A scratch directory removed at the end of each test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("t2m_config_test_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text, mode_t mode) const {
    const fs::path p = path / name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p.string();
  }
};

std::vector<std::string> texts(const ConfigIssues& issues) {
  std::vector<std::string> out;
  for (const auto& i : issues) out.push_back(i.to_string());
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const char* MINIMAL = R"({"devices":[{"id":"bf0123456789abcdef01","local_key":"0123456789abcdef"}]})";

}  // namespace

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

  TEST_CASE("round trip keeps values and unknown keys, omits defaults") {
    const json doc = json::parse(R"({
      "mqtt": {"server": "mqtt://127.0.0.1:1883", "my_note": "kept", "keepalive": 60},
      "homeassistant": {"enabled": false},
      "cloud": {"access_id": "id1", "access_secret": "secret-value-1", "region": "eu"},
      "custom_top": {"x": 1},
      "devices": [
        {"id": "a", "local_key": "0123456789abcdef", "name": "plug", "vendor_note": "keep me",
         "dps": {"19": {"scale": 2, "unit": "W"}}, "write_pacing": "250ms"},
        {"key": "fedcba9876543210", "id": "b", "ip": "127.0.1.2"}
      ]})");
    auto r = parse_config(doc);
    REQUIRE(r.ok());
    const json out = to_json(*r);
    CHECK(out["mqtt"]["my_note"] == "kept");
    CHECK(out["mqtt"]["keepalive"] == 60);  // written by the user: kept even though it is the default
    CHECK_FALSE(out["mqtt"].contains("base_topic"));  // default, not written
    CHECK(out["custom_top"]["x"] == 1);
    CHECK(out["devices"][0]["vendor_note"] == "keep me");
    CHECK(out["devices"][0]["write_pacing"] == "250ms");
    CHECK(out["devices"][0]["dps"]["19"]["scale"] == 2);
    CHECK_FALSE(out["devices"][0].contains("port"));
    // aliases are written once, under the canonical name
    CHECK(out["devices"][1]["local_key"] == "fedcba9876543210");
    CHECK_FALSE(out["devices"][1].contains("key"));
    CHECK(out["devices"][1]["address"] == "127.0.1.2");
    auto again = parse_config(out);
    REQUIRE(again.ok());
    CHECK(again->mqtt == r->mqtt);
    CHECK(again->homeassistant == r->homeassistant);
    CHECK(again->cloud == r->cloud);
    CHECK(again->discovery == r->discovery);
    REQUIRE(again->devices.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      DeviceConfig a = again->devices[i];
      DeviceConfig b = r->devices[i];
      a.extra = b.extra = nullptr;  // the written form differs (aliases renamed), the values do not
      CHECK(a == b);
    }
    CHECK(to_json(*again) == out);  // stable
  }

  TEST_CASE("changes made at run time are persisted (rename, options, add, remove)") {
    auto r = parse_config(json::parse(MINIMAL));
    REQUIRE(r.ok());
    Config c = *r;
    c.devices[0].name = "kitchen_plug";
    c.devices[0].max_dps_per_write = 1;
    auto added =
        parse_device(json::parse(R"({"id":"new1","local_key":"0123456789abcdef","address":"127.0.1.9"})"));
    REQUIRE(added.ok());
    c.devices.push_back(*added);
    CHECK(validate(c).empty());
    json out = to_json(c);
    CHECK(out["devices"][0]["name"] == "kitchen_plug");
    CHECK(out["devices"][0]["max_dps_per_write"] == 1);
    CHECK(out["devices"][1]["id"] == "new1");
    CHECK(remove_device(c, "new1"));
    CHECK_FALSE(remove_device(c, "new1"));
    CHECK(to_json(c)["devices"].size() == 1);
    // A bad device is refused with paths relative to the request.
    auto bad = parse_device(json::parse(R"({"id":"x","local_key":"short"})"), "options");
    REQUIRE_FALSE(bad.ok());
    CHECK(texts(bad.error()) == std::vector<std::string>{"options.local_key: must be 16 characters (got 5)"});
    // Duplicates introduced at run time are caught by validate().
    c.devices.push_back(c.devices[0]);
    CHECK_FALSE(validate(c).empty());
  }

  TEST_CASE("update_device and add_device validate against the whole config before changing it") {
    auto r = parse_config(json::parse(R"({"devices":[
      {"id":"a","local_key":"0123456789abcdef","name":"plug","my_note":1},
      {"id":"b","local_key":"0123456789abcdef","name":"lamp"}]})"));
    REQUIRE(r.ok());
    Config c = *r;
    auto u = update_device(c, "plug", json::parse(R"({"name":"kitchen_plug","max_dps_per_write":1})"));
    REQUIRE(u.ok());
    CHECK(u->name == "kitchen_plug");
    CHECK(c.find_device("kitchen_plug")->max_dps_per_write == 1);
    json out = to_json(c);
    CHECK(
        out["devices"][0] ==
        json::parse(
            R"({"id":"a","local_key":"0123456789abcdef","name":"kitchen_plug","my_note":1,"max_dps_per_write":1})"));
    const Config before = c;
    auto clash = update_device(c, "a", json::parse(R"({"name":"lamp"})"));
    REQUIRE_FALSE(clash.ok());
    CHECK(texts(clash.error()) ==
          std::vector<std::string>{"devices[1].name: duplicate name \"lamp\" (also devices[0])"});
    auto badkey = update_device(c, "a", json::parse(R"({"local_key":"S3c"})"));
    REQUIRE_FALSE(badkey.ok());
    CHECK(texts(badkey.error()) ==
          std::vector<std::string>{"options.local_key: must be 16 characters (got 3)"});
    CHECK(texts(update_device(c, "a", json::parse(R"({"id":"zz"})")).error()) ==
          std::vector<std::string>{"options.id: the id of a device cannot change"});
    CHECK_FALSE(update_device(c, "nope", json::object()).ok());
    CHECK(to_json(c) == to_json(before));  // refused changes leave the config as it was
    // New key under tinytuya's name replaces the old one.
    REQUIRE(update_device(c, "a", json::parse(R"({"key":"fedcba9876543210"})")).ok());
    CHECK(c.find_device("a")->local_key == "fedcba9876543210");
    auto added = add_device(c, json::parse(R"({"id":"c","local_key":"0123456789abcdef","name":"lamp"})"));
    REQUIRE_FALSE(added.ok());
    CHECK(texts(added.error()) ==
          std::vector<std::string>{"device.name: duplicate name \"lamp\" (also devices[1])"});
    auto added2 = add_device(c, json::parse(R"({"id":"c","local_key":"0123456789abcdef","name":"fan"})"));
    REQUIRE(added2.ok());
    CHECK(c.devices.size() == 3);
    CHECK(c.devices[2].source_path == "devices[2]");
  }

  TEST_CASE("save_config writes an owner-only file that loads back") {
    TempDir dir;
    auto r = parse_config(json::parse(MINIMAL));
    REQUIRE(r.ok());
    const std::string p = (dir.path / "saved.json").string();
    REQUIRE(save_config(*r, p).ok());
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto back = load_config(p);
    REQUIRE(back.ok());
    CHECK(back->warnings.empty());
    CHECK(back->config.devices[0].local_key == "0123456789abcdef");
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
      for (const auto& [value, expected] : cases) {
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
}

TEST_SUITE("config") {
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

  TEST_CASE("unknown keys in the session section are warnings") {
    json doc = json::parse(MINIMAL);
    doc["session"] = {{"heartbeat", 5}};
    ConfigWarnings warnings;
    REQUIRE(parse_config(doc, nullptr, &warnings).ok());
    CHECK(warnings == std::vector<std::string>{"session.heartbeat: unknown key, ignored"});
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

#include "tests/sim/src/config.h"

#include <doctest/doctest.h>

#include <set>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_config_test {

using nlohmann::json;
using namespace t2m::sim;

TEST_CASE("the shipped device set loads: one device of each kind across all protocol variants") {
  auto c = load_config(std::string(T2M_SOURCE_DIR) + "/examples/sim/devices.json");
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  REQUIRE(c->devices.size() == 7);
  std::set<std::string> kinds;
  int device22 = 0, gateways = 0;
  for (const auto& d : c->devices) {
    kinds.insert(std::string(to_string(d.profile)));
    device22 += d.device22;
    if (d.profile == Profile::GATEWAY) {
      ++gateways;
      CHECK(d.sub_devices.size() == 2);
    }
    CHECK(d.key.size() == 16);
    CHECK(is_loopback_ipv4(d.host));
  }
  CHECK(kinds == std::set<std::string>{"plug", "bulb", "curtain", "sensor", "gateway"});
  CHECK(device22 == 1);
  CHECK(gateways == 1);
  CHECK_FALSE(c->broadcast_to.has_value());  // no broadcasts unless asked for
}

TEST_CASE("bad device sets are refused with a reason") {
  auto dev = [](json extra) {
    json d{{"id", "bf01"}, {"key", "0123456789abcdef"}, {"version", "3.3"}, {"host", "127.0.0.1"}};
    if (extra.is_object()) d.update(extra);
    return json{{"devices", json::array({d})}};
  };
  CHECK(parse_config(dev({})).ok());
  CHECK_FALSE(parse_config(dev({{"key", "short"}})).ok());
  CHECK_FALSE(parse_config(dev({{"version", "4.0"}})).ok());
  CHECK_FALSE(parse_config(dev({{"host", "192.168.1.10"}})).ok());
  CHECK_FALSE(parse_config(dev({{"profile", "toaster"}})).ok());
  CHECK_FALSE(parse_config(dev({{"port", 70000}})).ok());
  CHECK_FALSE(parse_config(dev({{"sub_devices", json::array({json{{"cid", "x"}}})}})).ok());  // not a gateway
  auto dup = dev({});
  dup["devices"].push_back(dup["devices"][0]);
  CHECK_FALSE(parse_config(dup).ok());
  auto bc = dev({});
  bc["discovery"] = json{{"broadcast_to", "255.255.255.255:6667"}};
  auto r = parse_config(bc);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("loopback") != std::string::npos);
  bc["discovery"] = json{{"broadcast_to", "127.0.0.1:6667"}, {"listen", "127.0.0.1:0"}};
  auto ok = parse_config(bc);
  REQUIRE(ok.ok());
  CHECK(ok->broadcast_to->port == 6667);
  CHECK(ok->discovery_listen->port == 0);
  CHECK_FALSE(parse_config(json::array()).ok());
  CHECK_FALSE(load_config("/nonexistent/devices.json").ok());
}

TEST_CASE("versions: 3.1..3.5 and device22") {
  t2m::proto::Version v{};
  bool d22 = false;
  CHECK(parse_version_name("device22", v, d22).ok());
  CHECK(v == t2m::proto::Version::V3_3);
  CHECK(d22);
  CHECK(parse_version_name("3.5", v, d22).ok());
  CHECK(v == t2m::proto::Version::V3_5);
  CHECK_FALSE(d22);
  CHECK_FALSE(parse_version_name("3.6", v, d22).ok());
}

TEST_CASE("generator: one address per device, or one address with many ports") {
  GenerateOptions o;
  o.count = 600;
  o.versions = {"3.3", "3.4", "3.5", "device22"};
  o.profiles = {Profile::PLUG, Profile::GATEWAY};
  o.base_host = "127.0.2.250";
  auto devs = generate_devices(o);
  REQUIRE(devs.ok());
  REQUIRE(devs->size() == 600);
  std::set<std::string> ids, hosts;
  for (const auto& d : *devs) {
    ids.insert(d.id);
    hosts.insert(d.host);
    CHECK(d.key.size() == 16);
    CHECK(d.port == 6668);
    CHECK(validate_device(d).ok());
  }
  CHECK(ids.size() == 600);
  CHECK(hosts.size() == 600);
  CHECK(hosts.count("127.0.2.255") == 0);
  CHECK(hosts.count("127.0.3.0") == 0);
  CHECK(hosts.count("127.0.3.1") == 1);
  CHECK((*devs)[1].version == t2m::proto::Version::V3_4);
  CHECK((*devs)[3].device22);
  CHECK((*devs)[1].sub_devices.size() == 2);
  SimConfig c;
  c.devices = *devs;
  CHECK(validate_config(c).ok());

  o.same_host = true;
  o.base_host = "127.0.0.1";
  o.base_port = 20000;
  o.count = 10;
  auto same = generate_devices(o);
  REQUIRE(same.ok());
  CHECK(same->back().port == 20009);
  CHECK(same->back().host == "127.0.0.1");
  // The same index gives the same id and key in every run.
  CHECK((*same)[3].id == (*devs)[3].id);
  CHECK((*same)[3].key == (*devs)[3].key);

  o.base_host = "10.0.0.1";
  CHECK_FALSE(generate_devices(o).ok());
}

TEST_CASE("devices_to_json round-trips through parse_config") {
  GenerateOptions o;
  o.count = 5;
  o.versions = {"3.1", "device22", "3.5"};
  o.profiles = {Profile::GATEWAY, Profile::CURTAIN};
  auto devs = generate_devices(o);
  REQUIRE(devs.ok());
  auto back = parse_config(devices_to_json(*devs));
  REQUIRE(back.ok());
  REQUIRE(back->devices.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    CHECK(back->devices[i].id == (*devs)[i].id);
    CHECK(back->devices[i].key == (*devs)[i].key);
    CHECK(back->devices[i].version == (*devs)[i].version);
    CHECK(back->devices[i].device22 == (*devs)[i].device22);
    CHECK(back->devices[i].sub_devices.size() == (*devs)[i].sub_devices.size());
    CHECK(back->devices[i].host == (*devs)[i].host);
  }
}

}  // namespace t2m_config_test

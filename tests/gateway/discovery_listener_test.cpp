#include "gateway/discovery_listener.h"

#include <doctest/doctest.h>

#include <vector>

#include "tests/support/mosquitto.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_discovery_listener_test {

using namespace t2m;
using namespace t2m::gw;
using nlohmann::json;

namespace {

void send_udp(uv_loop_t* loop, uint16_t port, const Bytes& packet) {
  UvHandle<uv_udp_t> s;
  s.init([&](uv_udp_t* u) { return uv_udp_init(loop, u); });
  sockaddr_in dest{};
  uv_ip4_addr("127.0.0.1", port, &dest);
  uv_buf_t b = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(packet.data())),
                           static_cast<unsigned>(packet.size()));
  REQUIRE(uv_udp_try_send(s.get(), &b, 1, reinterpret_cast<const sockaddr*>(&dest)) > 0);
}

}  // namespace

TEST_CASE("decodes 3.1, 3.3 and 3.5 broadcasts, ignores other apps' requests, counts garbage") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    std::vector<proto::Announcement> heard;
    std::vector<Error> errors;
    DiscoveryOptions o;
    o.bind_address = "127.0.0.1";
    o.ports = {0};
    DiscoveryListener l(
        &loop, o, [&](const proto::Announcement& a, const std::string&) { heard.push_back(a); },
        [&](const Error& e) { errors.push_back(e); });
    REQUIRE(l.start().ok());
    const uint16_t port = l.bound_ports().at(0);
    const Bytes iv = to_bytes("udpbcastIV01");
    for (auto [v, id] : {std::pair{proto::Version::V3_1, "bf31"},
                         {proto::Version::V3_3, "bf33"},
                         {proto::Version::V3_5, "bf35"}}) {
      json info{{"ip", "127.0.5.1"},
                {"gwId", id},
                {"version", std::string(proto::to_string(v))},
                {"productKey", "pk"}};
      send_udp(&loop, port, proto::encode_broadcast(v, info, iv));
    }
    send_udp(&loop, port, proto::encode_discovery_request("127.0.5.9", iv));  // another app's request
    send_udp(&loop, port, to_bytes("not a tuya packet at all"));
    REQUIRE(test::run_loop_until(
        &loop, [&] { return l.stats().datagrams == 5; }, 3000));
    REQUIRE(heard.size() == 3);
    CHECK(heard[0].gw_id == "bf31");
    CHECK(heard[1].version == proto::Version::V3_3);
    CHECK(heard[2].ip == "127.0.5.1");
    CHECK(l.stats().ignored == 1);
    CHECK(l.stats().errors == 1);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == "bad_broadcast");
  }
  CHECK(uv_close_all_and_drain(&loop) == 0);
}

TEST_CASE("the 3.5 request goes out as a decodable 0x25 frame; a busy port is reported, not fatal") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    std::vector<proto::Announcement> heard;
    DiscoveryOptions o;
    o.bind_address = "127.0.0.1";
    o.ports = {0};
    DiscoveryListener receiver(
        &loop, o, [&](const proto::Announcement& a, const std::string&) { heard.push_back(a); }, nullptr);
    REQUIRE(receiver.start().ok());
    DiscoveryListener sender(&loop, o, nullptr, nullptr);
    REQUIRE(sender.start().ok());
    REQUIRE(
        sender.send_request("127.0.0.1", receiver.bound_ports().at(0), "127.0.0.1", to_bytes("discoveryIV1"))
            .ok());
    REQUIRE(test::run_loop_until(
        &loop, [&] { return receiver.stats().datagrams == 1; }, 3000));
    CHECK(receiver.stats().ignored == 1);  // it is a {"from":"app"} request
    CHECK_FALSE(sender.send_request("not-an-ip", 7000, "127.0.0.1", to_bytes("discoveryIV1")).ok());

    DiscoveryOptions bad;
    bad.bind_address = "203.0.113.7";  // not an address of this host: bind fails, no traffic is sent
    bad.ports = {0};
    std::vector<Error> errors;
    DiscoveryListener broken(&loop, bad, nullptr, [&](const Error& e) { errors.push_back(e); });
    CHECK_FALSE(broken.start().ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == "discovery_bind");
  }
  CHECK(uv_close_all_and_drain(&loop) == 0);
}

}  // namespace t2m_discovery_listener_test

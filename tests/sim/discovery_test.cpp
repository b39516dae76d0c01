// Discovery (discovery.cpp): announcements to the configured loopback endpoint, the 3.5 answer to a
// request.
#include <doctest/doctest.h>

#include <set>

#include "protocol/discovery.h"
#include "tests/sim/sim_harness.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_discovery_test {

using nlohmann::json;
using t2m::proto::Command;
using t2m::proto::Version;
using namespace t2m::sim;
using namespace t2m::sim::testing;

TEST_CASE("discovery: broadcasts reach only the configured loopback port; 3.5 answers a request") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  struct Rx {
    std::vector<t2m::proto::Announcement> got;
    int bad = 0;
  } rx;
  OwnedHandle<uv_udp_t> sock;
  REQUIRE(sock.init([&](uv_udp_t* u) { return uv_udp_init(&loop, u); }) == 0);
  sock.get()->data = &rx;
  sockaddr_in any{};
  uv_ip4_addr("127.0.0.1", 0, &any);
  REQUIRE(uv_udp_bind(sock.get(), reinterpret_cast<const sockaddr*>(&any), 0) == 0);
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_udp_getsockname(sock.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  uint16_t port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  uv_udp_recv_start(
      sock.get(),
      [](uv_handle_t*, size_t, uv_buf_t* b) {
        static char buf[4096];
        *b = uv_buf_init(buf, sizeof buf);
      },
      [](uv_udp_t* u, ssize_t n, const uv_buf_t* b, const sockaddr*, unsigned) {
        auto* r = static_cast<Rx*>(u->data);
        if (!r || n <= 0) return;
        auto a = t2m::proto::decode_discovery(
            t2m::ByteView(reinterpret_cast<uint8_t*>(b->base), static_cast<size_t>(n)));
        if (a)
          r->got.push_back(*a);
        else
          r->bad++;
      });

  SimConfig cfg;
  cfg.devices = {dev("bf31plug000000000001", "3.1plugKey000001", Version::V3_1, Profile::PLUG),
                 dev("bf33plug000000000002", "3.3plugKey000002", Version::V3_3, Profile::PLUG),
                 dev("bf34bulb000000000004", "3.4bulbKey000004", Version::V3_4, Profile::BULB),
                 dev("bf35curtain000000005", "3.5curtainKey005", Version::V3_5, Profile::CURTAIN)};
  cfg.broadcast_to = Endpoint{"127.0.0.1", port};
  cfg.broadcast_interval_ms = 100;
  cfg.discovery_listen = Endpoint{"127.0.0.1", 0};
  {
    Simulator sim(&loop, cfg);
    REQUIRE(sim.start().ok());
    REQUIRE(run_until(&loop, [&] {
      std::set<std::string> ids;
      for (const auto& a : rx.got) ids.insert(a.gw_id);
      return ids.size() == 4;
    }));
    CHECK(rx.bad == 0);
    for (const auto& a : rx.got) {
      const DeviceSpec* s = sim.spec(a.gw_id);
      REQUIRE(s != nullptr);
      CHECK(a.version == s->version);
      CHECK(a.ip == "127.0.0.1");
      CHECK_FALSE(a.from_app);
    }
    // Now silence the broadcasts (a new simulator without them) and solicit 3.5 devices.
    sim.stop();
    cfg.broadcast_to.reset();
    Simulator quiet(&loop, cfg);
    REQUIRE(quiet.start().ok());
    auto at = quiet.discovery_endpoint();
    REQUIRE(at.has_value());
    CHECK(at->port != 0);
    rx.got.clear();
    t2m::Bytes iv(12, 0x42);
    t2m::Bytes req = t2m::proto::encode_discovery_request("127.0.0.1", iv);
    sockaddr_in to{};
    uv_ip4_addr("127.0.0.1", at->port, &to);
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(req.data()), static_cast<unsigned>(req.size()));
    REQUIRE(uv_udp_try_send(sock.get(), &b, 1, reinterpret_cast<const sockaddr*>(&to)) ==
            static_cast<int>(req.size()));
    REQUIRE(run_until(&loop, [&] { return !rx.got.empty(); }));
    run_for(&loop, 100);
    REQUIRE(rx.got.size() == 1);  // only the 3.5 device answers
    CHECK(rx.got[0].gw_id == "bf35curtain000000005");
    CHECK(rx.got[0].version == Version::V3_5);
    quiet.stop();
  }
  sock.close();
  CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
}

}  // namespace t2m_discovery_test

#include "tests/sim/src/control.h"

#include <doctest/doctest.h>

#include "common/uv_handle.h"
#include "tests/sim/sim_client.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_control_test {

using nlohmann::json;
using t2m::proto::Command;
using t2m::proto::Version;
using namespace t2m::sim;
using t2m::sim::testing::run_until;
using t2m::sim::testing::SimClient;

namespace {

SimConfig two_devices() {
  SimConfig c;
  DeviceSpec plug;
  plug.id = "bf33plug000000000002";
  plug.key = "3.3plugKey000002";
  plug.host = "127.0.0.1";
  plug.port = 0;
  DeviceSpec gw = plug;
  gw.id = "bf34gateway000000007";
  gw.key = "3.4gatewayKey007";
  gw.version = Version::V3_4;
  gw.profile = Profile::GATEWAY;
  gw.sub_devices.push_back({"a4c138000000sw01", "switch", Profile::SWITCH, json::object()});
  c.devices = {plug, gw};
  return c;
}

// A raw JSON-lines client for the control port.
struct LineClient {
  t2m::sim::OwnedHandle<uv_tcp_t> tcp;
  std::string buf;
  std::vector<json> replies;
  bool closed = false;
  uv_connect_t req{};
  void connect(uv_loop_t* loop, uint16_t port) {
    tcp.init([&](uv_tcp_t* t) { return uv_tcp_init(loop, t); });
    tcp.get()->data = this;
    req.data = this;
    sockaddr_in a{};
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_connect(&req, tcp.get(), reinterpret_cast<const sockaddr*>(&a), [](uv_connect_t* r, int st) {
      auto* self = static_cast<LineClient*>(r->data);
      if (st != 0 || !self->tcp.open()) return;
      uv_read_start(
          reinterpret_cast<uv_stream_t*>(self->tcp.get()),
          [](uv_handle_t*, size_t, uv_buf_t* b) {
            static char storage[65536];
            *b = uv_buf_init(storage, sizeof storage);
          },
          [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
            auto* c = static_cast<LineClient*>(s->data);
            if (!c) return;
            if (n < 0) {
              c->closed = true;
              return;
            }
            c->buf.append(b->base, static_cast<size_t>(n));
            size_t pos;
            while ((pos = c->buf.find('\n')) != std::string::npos) {
              c->replies.push_back(json::parse(c->buf.substr(0, pos)));
              c->buf.erase(0, pos + 1);
            }
          });
    });
  }
  void send(const std::string& line) {
    auto* w = new std::pair<uv_write_t, std::string>();  // freed in the callback
    w->second = line;
    w->first.data = w;
    uv_buf_t b = uv_buf_init(w->second.data(), static_cast<unsigned>(w->second.size()));
    uv_write(&w->first, reinterpret_cast<uv_stream_t*>(tcp.get()), &b, 1, [](uv_write_t* r, int) {
      std::unique_ptr<std::pair<uv_write_t, std::string>> owner(
          static_cast<std::pair<uv_write_t, std::string>*>(r->data));
    });
  }
};

}  // namespace

TEST_CASE("control requests: state, set, fault, stats, writes, list, errors") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    Simulator sim(&loop, two_devices());
    REQUIRE(sim.start().ok());
    ControlServer ctl(&loop, sim);
    CHECK(ctl.handle(json{{"cmd", "ping"}, {"id", 7}}) == json{{"ok", true}, {"pong", true}, {"id", 7}});
    json list = ctl.handle(json{{"cmd", "list"}});
    REQUIRE(list["devices"].size() == 2);
    CHECK(list["devices"][0]["port"] == sim.port_of("bf33plug000000000002"));
    CHECK(list["devices"][1]["version"] == "3.4");
    CHECK(list.dump().find("3.3plugKey000002") == std::string::npos);  // never a key
    json st = ctl.handle(json{{"cmd", "state"}, {"device", "bf33plug000000000002"}});
    CHECK(st["ok"] == true);
    CHECK(st["dps"]["1"] == true);
    CHECK(st["connected"] == false);
    CHECK(ctl.handle(json{
              {"cmd", "set"}, {"device", "bf33plug000000000002"}, {"dps", {{"1", false}}}})["ok"] == true);
    CHECK(sim.state("bf33plug000000000002").value()["1"] == false);
    json sub =
        ctl.handle(json{{"cmd", "state"}, {"device", "bf34gateway000000007"}, {"cid", "a4c138000000sw01"}});
    CHECK(sub["dps"]["1"] == false);
    CHECK(ctl.handle(json{{"cmd", "state"}, {"device", "nope"}})["error"] == "unknown_device");
    CHECK(ctl.handle(json{{"cmd", "set"}, {"device", "bf33plug000000000002"}})["error"] == "bad_request");
    CHECK(
        ctl.handle(json{{"cmd", "fault"}, {"device", "bf33plug000000000002"}, {"fault", "melt"}})["error"] ==
        "bad_request");
    CHECK(
        ctl.handle(json{{"cmd", "fault"}, {"device", "bf33plug000000000002"}, {"fault", "close"}})["error"] ==
        "not_connected");
    CHECK(ctl.handle(json{
              {"cmd", "fault"}, {"device", "bf33plug000000000002"}, {"fault", "silence"}})["ok"] == true);
    CHECK(ctl.handle(json{{"cmd", "push_rate"}, {"interval_ms", 1000}})["ok"] == true);
    CHECK(ctl.handle(json{{"cmd", "push_rate"}})["error"] == "bad_request");
    json stats = ctl.handle(json{{"cmd", "stats"}, {"device", "bf33plug000000000002"}, {"per_device", true}});
    CHECK(stats["totals"]["faults"] == 1);
    CHECK(stats["device"]["faults"] == 1);
    CHECK(stats["devices"].size() == 2);
    CHECK(ctl.handle(json{{"cmd", "writes"}})["writes"].empty());
    CHECK(ctl.handle(json{{"cmd", "fly"}})["error"] == "bad_request");
    CHECK(ctl.handle(json{{"device", "x"}})["error"] == "bad_request");
    sim.stop();
  }
  CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
}

TEST_CASE("control port: JSON lines over loopback TCP, writes with timestamps, shutdown") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    Simulator sim(&loop, two_devices());
    REQUIRE(sim.start().ok());
    ControlServer ctl(&loop, sim);
    REQUIRE(ctl.listen(Endpoint{"127.0.0.1", 0}).ok());
    CHECK_FALSE(ControlServer(&loop, sim).listen(Endpoint{"10.1.2.3", 0}).ok());
    bool shut = false;
    ctl.set_on_shutdown([&] {
      shut = true;
      sim.stop();
      ctl.close();
    });
    // A device client writes twice; the control port reports the writes.
    SimClient dc(&loop, Version::V3_3, "bf33plug000000000002", "3.3plugKey000002");
    dc.connect(sim.port_of("bf33plug000000000002"));
    REQUIRE(run_until(&loop, [&] { return dc.ready(); }));
    for (bool v : {false, true}) {
      dc.send_cmd(Command::CONTROL,
                  t2m::proto::build_control(Version::V3_3, dc.target(), 1700000000, json{{"1", v}}));
    }
    REQUIRE(run_until(&loop, [&] { return sim.writes().size() == 2; }));

    LineClient lc;
    lc.connect(&loop, ctl.port());
    lc.send("{\"cmd\":\"writes\",\"id\":1}\nnot json\n");
    lc.send("{\"cmd\":\"writes\",\"since\":1}\r\n{\"cmd\":\"state\",\"device\":\"bf33plug000000000002\"}\n");
    REQUIRE(run_until(&loop, [&] { return lc.replies.size() == 4; }));
    CHECK(lc.replies[0]["id"] == 1);
    REQUIRE(lc.replies[0]["writes"].size() == 2);
    CHECK(lc.replies[0]["writes"][0]["dps"] == json{{"1", false}});
    CHECK(lc.replies[0]["writes"][0]["unix_us"].get<int64_t>() > 1600000000000000);
    CHECK(lc.replies[0]["last_seq"] == 2);
    CHECK(lc.replies[1]["ok"] == false);
    REQUIRE(lc.replies[2]["writes"].size() == 1);
    CHECK(lc.replies[2]["writes"][0]["seq"] == 2);
    CHECK(lc.replies[3]["connected"] == true);
    // watch: writes are streamed as they happen.
    LineClient watcher;
    watcher.connect(&loop, ctl.port());
    watcher.send("{\"cmd\":\"watch\"}\n");
    REQUIRE(run_until(&loop, [&] { return watcher.replies.size() == 1; }));
    dc.send_cmd(Command::CONTROL,
                t2m::proto::build_control(Version::V3_3, dc.target(), 1700000000, json{{"1", false}}));
    REQUIRE(run_until(&loop, [&] { return watcher.replies.size() == 2; }));
    CHECK(watcher.replies[1]["event"] == "write");
    CHECK(watcher.replies[1]["seq"] == 3);
    CHECK(watcher.replies[1]["device"] == "bf33plug000000000002");
    CHECK(lc.replies.size() == 4);  // a client that did not ask to watch gets nothing
    lc.send("{\"cmd\":\"shutdown\"}\n");
    REQUIRE(run_until(&loop, [&] { return shut; }));
    REQUIRE(run_until(&loop, [&] { return dc.closed && lc.closed && watcher.closed; }));
    lc.tcp.close();
    watcher.tcp.close();
    dc.close();
  }
  CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
}

}  // namespace t2m_control_test

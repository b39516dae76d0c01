// The tuya2mqtt-sim program, run as a child process: options, the ready file, the control port, a device
// answering over loopback, and clean exits on SIGTERM and on {"cmd":"shutdown"}.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/uv_handle.h"
#include "tests/sim/sim_client.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_main_test {

using nlohmann::json;
using t2m::proto::Command;
using t2m::proto::Version;
using t2m::sim::OwnedHandle;
using t2m::sim::testing::run_until;

namespace {

const std::string SIM_BIN = std::string(T2M_BINARY_DIR) + "/tests/sim/tuya2mqtt-sim";

struct Child {
  OwnedHandle<uv_process_t> proc;
  bool exited = false;
  int64_t status = -1;
  int signal = 0;
};

// Starts the program with `args`; stdout/stderr go to `log_path`.
bool spawn(uv_loop_t* loop, Child& child, std::vector<std::string> args, const std::string& log_path) {
  args.insert(args.begin(), SIM_BIN);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = fd;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = fd;
  uv_process_options_t opts{};
  opts.file = SIM_BIN.c_str();
  opts.args = argv.data();
  opts.stdio = stdio;
  opts.stdio_count = 3;
  opts.exit_cb = [](uv_process_t* p, int64_t status, int sig) {
    auto* c = static_cast<Child*>(p->data);
    if (!c) return;
    c->exited = true;
    c->status = status;
    c->signal = sig;
  };
  int rc = child.proc.init([&](uv_process_t* p) {
    p->data = &child;
    return uv_spawn(loop, p, &opts);
  });
  ::close(fd);
  if (rc == 0) child.proc.get()->data = &child;
  return rc == 0;
}

// Keeps the loop waking up while we wait for something outside it (a file, a child).
struct Ticker {
  OwnedHandle<uv_timer_t> t;
  explicit Ticker(uv_loop_t* loop) {
    t.init([&](uv_timer_t* h) { return uv_timer_init(loop, h); });
    uv_timer_start(
        t.get(), [](uv_timer_t*) {}, 10, 10);
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A blocking JSON-lines exchange with the control port (the program is another process).
json control(uint16_t port, const json& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::string line = request.dump() + "\n";
  REQUIRE(write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  std::string got;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') got.push_back(c);
  ::close(fd);
  json j = json::parse(got, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), got);
  return j;
}

std::string temp_path(const char* name) {
  return "/tmp/t2m_sim_main_test_" + std::to_string(getpid()) + "_" + name;
}

}  // namespace

TEST_CASE("tuya2mqtt-sim: --help, bad options") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  std::string log = temp_path("help.log");
  {
    Ticker tick(&loop);
    Child help, bad, nodev;
    REQUIRE(spawn(&loop, help, {"--help"}, log));
    REQUIRE(run_until(
        &loop, [&] { return help.exited; }, 5000));
    CHECK(help.status == 0);
    CHECK(slurp(log).find("--control IP:PORT") != std::string::npos);
    REQUIRE(spawn(&loop, bad, {"--broadcast-to", "192.168.1.255:6667", "--generate", "1"}, log));
    REQUIRE(run_until(
        &loop, [&] { return bad.exited; }, 5000));
    CHECK(bad.status == 2);
    CHECK(slurp(log).find("loopback") != std::string::npos);
    REQUIRE(spawn(&loop, nodev, {}, log));
    REQUIRE(run_until(
        &loop, [&] { return nodev.exited; }, 5000));
    CHECK(nodev.status == 2);
  }
  CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
  std::remove(log.c_str());
}

TEST_CASE(
    "tuya2mqtt-sim: devices from a file, control port, a device answers, SIGTERM and shutdown exit cleanly") {
  const std::string devices = temp_path("devices.json"), ready = temp_path("ready.json"),
                    log = temp_path("sim.log");
  json doc{{"devices", json::array({json{{"id", "bf33plug000000000002"},
                                         {"key", "3.3plugKey000002"},
                                         {"version", "3.3"},
                                         {"host", "127.0.0.1"},
                                         {"port", 0}},
                                    json{{"id", "bf35curtain000000005"},
                                         {"key", "3.5curtainKey005"},
                                         {"version", "3.5"},
                                         {"profile", "curtain"},
                                         {"host", "127.0.0.1"},
                                         {"port", 0}}})}};
  std::ofstream(devices) << doc.dump();
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  for (const bool by_signal : {true, false}) {
    CAPTURE(by_signal);
    std::remove(ready.c_str());
    Ticker tick(&loop);
    Child sim;
    REQUIRE(
        spawn(&loop, sim, {"--devices", devices, "--control", "127.0.0.1:0", "--ready-file", ready}, log));
    REQUIRE(run_until(
        &loop, [&] { return sim.exited || !slurp(ready).empty(); }, 5000));
    REQUIRE_FALSE(sim.exited);
    json r = json::parse(slurp(ready));
    uint16_t ctl = r["control_port"];
    REQUIRE(r["devices"].size() == 2);
    uint16_t plug_port = r["devices"][0]["port"];
    CHECK(control(ctl, json{{"cmd", "ping"}})["pong"] == true);
    {
      t2m::sim::testing::SimClient c(&loop, Version::V3_3, "bf33plug000000000002", "3.3plugKey000002");
      c.connect(plug_port);
      REQUIRE(run_until(&loop, [&] { return c.ready(); }));
      c.send_cmd(Command::CONTROL,
                 t2m::proto::build_control(Version::V3_3, c.target(), 1700000000, json{{"1", false}}));
      REQUIRE(run_until(&loop, [&] { return c.count(Command::STATUS) == 1; }));
    }
    json w = control(ctl, json{{"cmd", "writes"}});
    REQUIRE(w["writes"].size() == 1);
    CHECK(w["writes"][0]["dps"] == json{{"1", false}});
    CHECK(control(ctl, json{{"cmd", "state"}, {"device", "bf33plug000000000002"}})["dps"]["1"] == false);
    if (by_signal) {
      REQUIRE(uv_process_kill(sim.proc.get(), SIGTERM) == 0);
    } else {
      CHECK(control(ctl, json{{"cmd", "shutdown"}})["ok"] == true);
    }
    REQUIRE(run_until(
        &loop, [&] { return sim.exited; }, 5000));
    CHECK(sim.status == 0);
    CHECK(sim.signal == 0);
    // Keys never reach the log.
    CHECK(slurp(log).find("3.3plugKey000002") == std::string::npos);
  }
  CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
  for (const auto& p : {devices, ready, log}) std::remove(p.c_str());
}

}  // namespace t2m_main_test

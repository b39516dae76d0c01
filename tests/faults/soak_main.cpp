// t2m-soak: the long soak (not run by ctest; the suite runs a 20 s version in faults_test.cpp).
//   t2m-soak [--minutes N] [--devices N]      default 10 minutes, 20 devices
// A real mosquitto, the simulator and the gateway App on one loop. Every 50 ms one device (round-robin)
// changes a DP (voltage, DP 20) as a device would; every 250 ms a command goes to one device. Once a
// minute it prints the process heap in use (mallinfo2), RSS, DP changes pushed/received and command
// answers. Exit status 0 when no DP change was lost, every command was answered "ok", and the heap at
// the end is within noise of the heap after the first minute (+20% + 1 MiB).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#include "tests/support/gateway_fixture.h"

using namespace t2m;
using namespace t2m::test;
using nlohmann::json;

namespace {

int g_minutes = 10;
size_t g_devices = 20;

size_t rss_kib() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

}  // namespace

TEST_CASE("soak") {
  FixtureOptions o;
  o.devices = plug_fleet(g_devices, "127.0.10.");
  GatewayFixture f(std::move(o));
  f.keep_seen = false;
  f.start_gateway();
  REQUIRE(f.wait([&] { return f.all_online(); }, 30000));

  constexpr int STEP_MS = 50;
  constexpr int COMMAND_EVERY = 5;  // steps
  // Only the values still in flight are kept (constant memory, so the heap figures are the gateway's).
  std::map<std::string, std::set<int>> outstanding;
  size_t pushed_total = 0, received_total = 0;
  std::map<int, double> pending;  // transaction -> sent at
  std::vector<double> latencies;
  size_t answers_ok = 0, answers_error = 0;
  f.on_message = [&](const MqttMessage& m) {
    if (m.topic.size() > 11 && m.topic.compare(m.topic.size() - 11, 11, "/set/result") == 0) {
      auto j = json::parse(m.payload, nullptr, false);
      if (j.is_object() && j.contains("transaction") && j["transaction"].is_number_integer()) {
        auto it = pending.find(j["transaction"].get<int>());
        if (it != pending.end()) {
          latencies.push_back(now_ms() - it->second);
          pending.erase(it);
          (j["status"] == "ok" ? answers_ok : answers_error)++;
        }
      }
      return;
    }
    const std::string prefix = "tuya2mqtt/plug";
    if (m.topic.compare(0, prefix.size(), prefix) != 0 ||
        m.topic.find('/', prefix.size()) != std::string::npos)
      return;
    const size_t i = std::strtoul(m.topic.c_str() + prefix.size(), nullptr, 10);
    auto j = json::parse(m.payload, nullptr, false);
    if (j.is_object() && j.contains("dps") && j["dps"].contains("20") && j["dps"]["20"].is_number_integer())
      if (outstanding[fleet_id(i)].erase(j["dps"]["20"].get<int>()) > 0) ++received_total;
  };
  auto lost = [&] {
    size_t n = 0;
    for (const auto& [id, vals] : outstanding) n += vals.size();
    return n;
  };
  auto total_pushed = [&] { return pushed_total; };

  std::printf("minute  heap_KiB  rss_KiB  dp_pushed  dp_in_flight  commands  ok  error  p50_ms  p99_ms\n");
  const double start = now_ms();
  double next_report = start + 60000;
  size_t heap_after_first = 0, step = 0;
  int value = 100000, tx = 1, minute = 0;
  while (now_ms() - start < g_minutes * 60000.0) {
    const size_t dev = step % g_devices;
    ++value;
    REQUIRE(f.simulator->set_dps(fleet_id(dev), std::nullopt, json{{"20", value}}).ok());
    outstanding[fleet_id(dev)].insert(value);
    ++pushed_total;
    if (step % COMMAND_EVERY == 0) {
      const size_t target = (step / COMMAND_EVERY) % g_devices;
      pending[tx] = now_ms();
      f.publish("tuya2mqtt/" + fleet_name(target) + "/set",
                json{{"countdown_1", 1000 + tx % 80000}, {"transaction", tx}}.dump());
      ++tx;
    }
    ++step;
    test::run_loop_for(&f.loop, STEP_MS);
    if (now_ms() >= next_report) {
      next_report += 60000;
      ++minute;
      f.simulator->clear_writes();  // the simulator's write log is bounded but not part of the gateway
      const size_t heap = mallinfo2().uordblks / 1024;
      if (minute == 1) heap_after_first = heap;
      // dp_in_flight: pushed by the simulator, not yet seen on MQTT (the last step's change may be).
      std::printf("%6d  %8zu  %7zu  %9zu  %12zu  %8d  %zu  %zu  %6.1f  %6.1f\n", minute, heap, rss_kib(),
                  total_pushed(), lost(), tx - 1, answers_ok, answers_error, percentile(latencies, 0.5),
                  percentile(latencies, 0.99));
      std::fflush(stdout);
      latencies.clear();
    }
  }
  f.wait([&] { return lost() == 0 && pending.empty(); }, 10000);
  const size_t heap_end = mallinfo2().uordblks / 1024;
  std::printf(
      "end: heap %zu KiB (after minute 1: %zu KiB), rss %zu KiB, DP changes pushed %zu, received %zu, lost "
      "%zu, "
      "commands %d, ok %zu, error %zu, unanswered %zu\n",
      heap_end, heap_after_first, rss_kib(), total_pushed(), received_total, lost(), tx - 1, answers_ok,
      answers_error, pending.size());
  CHECK(lost() == 0);
  CHECK(answers_error == 0);
  CHECK(pending.empty());
  if (heap_after_first > 0) CHECK(heap_end <= heap_after_first + heap_after_first / 5 + 1024);
  f.on_message = nullptr;
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--minutes") == 0 && i + 1 < argc) {
      g_minutes = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--devices") == 0 && i + 1 < argc) {
      g_devices = static_cast<size_t>(std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: t2m-soak [--minutes N (default 10)] [--devices N (default 20, max 250)]\n");
      return 0;
    } else {
      std::fprintf(stderr, "t2m-soak: unknown option %s (try --help)\n", argv[i]);
      return 2;
    }
  }
  if (g_minutes < 1 || g_devices < 1 || g_devices > 250) {
    std::fprintf(stderr, "t2m-soak: --minutes must be >= 1 and --devices 1..250\n");
    return 2;
  }
  doctest::Context ctx;
  ctx.setOption("no-intro", true);
  return ctx.run();
}

// t2m_bench: end-to-end benchmark of tuya2mqtt on loopback. It starts mosquitto (on a free loopback
// port), the device simulator (tuya2mqtt-sim --generate N, one loopback address per device) and the gateway
// (tuya2mqtt run), drives load through MQTT (Paho C++) and the simulator's JSON-lines control port, and
// prints a table (and writes JSON) of: cold start, refresh-all, command round trip, push throughput and
// footprint. Every process it starts is stopped on every exit path (and dies with the driver through
// PR_SET_PDEATHSIG). Nothing leaves 127.0.0.0/8.
//
// Scenarios (each fleet size: a fresh simulator and a fresh gateway with its own base topic):
//   cold      gateway spawned -> every device online with its first state on MQTT (3.3/3.4/3.5 mix)
//   refresh   one <base>/<name>/get per device published at once -> a fresh state from every device
//   command   <base>/<name>/set {"switch_1":!current} at a steady rate, round robin over the fleet; the
//             simulator's "watch" stream stamps the DP write, the state carrying the new value ends it
//   push      simulator push_rate on every device, stepped up; every STATUS (and query answer) the
//             devices sent must arrive as a state message. "offered" is nominal: the simulator schedules
//             each device's next change from "now", so when it waits for a CPU it sends fewer; the table
//             shows what was really sent and carried. Stops at the first step with a loss or a backlog.
//   footprint gateway VmRSS and CPU over an idle window (heartbeats only) at each size, 0 included
// CPU shares come from /proc/<pid>/stat, run-queue waits from /proc/<pid>/schedstat (main thread): a
// high wait means the figures measure the machine's load rather than the gateway.
//
// Clocks: latencies that cross processes (command published -> DP written on the device -> new state on
// MQTT) use CLOCK_REALTIME on both sides (the simulator stamps writes with the wall clock); durations
// inside the driver use CLOCK_MONOTONIC. MQTT arrivals are stamped on Paho's callback thread, before any
// hand-off.
//
// The parts: process.h (child processes, /proc measurements), stack.h (mosquitto, the simulator and the
// gateway as the run needs them), clients.h (the simulator's control port, MQTT), fleet.h (what the
// gateway published), scenarios.h (the measurements), report.h (figures, targets, table, JSON),
// options.h (the command line), clock.h.
#include <signal.h>
#include <unistd.h>

#include <utility>

#include "bench/options.h"
#include "bench/process.h"
#include "bench/scenarios.h"

int main(int argc, char** argv) {
  auto opts = t2m::bench::parse_options(argc, argv);
  if (!opts) return 2;
  struct sigaction sa {};
  sa.sa_handler = t2m::bench::kill_children_from_handler;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGALRM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  alarm(static_cast<unsigned>(opts->max_seconds));
  t2m::bench::Bench bench(std::move(*opts));
  return bench.run();
}

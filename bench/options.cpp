#include "bench/options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>

namespace t2m::bench {

namespace {

constexpr size_t MAX_DEVICES = 20000;

constexpr const char* USAGE =
    R"(t2m_bench: end-to-end benchmark of tuya2mqtt (mosquitto + tuya2mqtt-sim + tuya2mqtt, loopback only)

Usage: t2m_bench [--quick | --full] [options]
  --quick                 small fleets, under a minute (default): cold 100; load N 100; idle 10 s
  --full                  cold start 100, 1000, 5000; load N 1000; footprint 0, 1000, 5000; idle 30 s
  --scenarios LIST        any of cold,refresh,command,push,footprint (default: all)
  --cold-sizes LIST       fleet sizes for the cold start
  --n N                   fleet size for refresh, command and push
  --footprint-sizes LIST  fleet sizes for RSS/idle CPU (0 = the gateway with no device)
  --command-rate R        commands per second, spread over the fleet (default 200)
  --command-seconds S     how long the command load runs
  --push-rates LIST       DP push rates (reports/s over the fleet) to step through; stops at the first loss
  --push-seconds S        duration of each push step
  --idle-seconds S        idle CPU window (heartbeats only; >= 10 s covers one heartbeat round)
  --refresh-reps K        refresh-all repetitions (default 3)
  --bin-dir DIR           build directory holding gateway/tuya2mqtt and tests/sim/tuya2mqtt-sim
                          (default: the directory above this program's)
  --work-dir DIR          configs and logs (default: a new /tmp/t2m-bench.XXXXXX, removed unless --keep)
  --keep                  keep the work directory (logs of mosquitto, simulator, gateway)
  --json FILE             also write the results as JSON (default: <work-dir>/results.json, printed)
  --max-seconds S         hard budget: everything is killed past it (default: quick 240, full 1500)
  --broker-default-nagle  leave mosquitto's set_tcp_nodelay at its default (false): Nagle + delayed ACKs then
                          add up to 40 ms to deliveries that follow each other closely
  --nice N                run the driver and every process it starts at this nice value (e.g. -10, needs
                          root): on a shared, busy machine the figures otherwise measure the run queue
  --help
Devices: tuya2mqtt-sim --generate N --mix 3.3,3.4,3.5 on 127.0.2.1, 127.0.2.2, ... port 6668.
Gateway config: discovery off, Home Assistant discovery off, polling off, heartbeat 10 s, category cz.
)";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  std::optional<std::vector<size_t>> cold, foot;
  std::optional<size_t> n;
  std::optional<int> cmd_s, push_s, idle_s, max_s;
  std::optional<std::vector<double>> rates;
  for (int i = 0; i < argc; ++i) o.command_line += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        fprintf(stderr, "t2m_bench: %s needs a value\n", a.c_str());
        exit(2);
      }
      return argv[++i];
    };
    auto sizes = [&](const std::string& v) {
      std::vector<size_t> out;
      for (const auto& s : split(v)) out.push_back(std::stoul(s));
      return out;
    };
    try {
      if (a == "--help" || a == "-h") {
        fputs(USAGE, stdout);
        exit(0);
      } else if (a == "--quick")
        o.full = false;
      else if (a == "--full")
        o.full = true;
      else if (a == "--scenarios")
        o.scenarios = split(val());
      else if (a == "--cold-sizes")
        cold = sizes(val());
      else if (a == "--n")
        n = std::stoul(val());
      else if (a == "--footprint-sizes")
        foot = sizes(val());
      else if (a == "--command-rate")
        o.command_rate = std::stod(val());
      else if (a == "--command-seconds")
        cmd_s = std::stoi(val());
      else if (a == "--push-rates") {
        std::vector<double> r;
        for (const auto& s : split(val())) r.push_back(std::stod(s));
        rates = r;
      } else if (a == "--push-seconds")
        push_s = std::stoi(val());
      else if (a == "--idle-seconds")
        idle_s = std::stoi(val());
      else if (a == "--refresh-reps")
        o.refresh_reps = std::max(1, std::stoi(val()));
      else if (a == "--bin-dir")
        o.bin_dir = val();
      else if (a == "--work-dir")
        o.work_dir = val();
      else if (a == "--keep")
        o.keep_work = true;
      else if (a == "--json")
        o.json_out = val();
      else if (a == "--max-seconds")
        max_s = std::stoi(val());
      else if (a == "--nice")
        o.nice = std::stoi(val());
      else if (a == "--broker-default-nagle")
        o.broker_nodelay = false;
      else {
        fprintf(stderr, "t2m_bench: unknown option %s (see --help)\n", a.c_str());
        return std::nullopt;
      }
    } catch (const std::exception&) {
      fprintf(stderr, "t2m_bench: bad value for %s\n", a.c_str());
      return std::nullopt;
    }
  }
  o.cold_sizes = cold.value_or(o.full ? std::vector<size_t>{100, 1000, 5000} : std::vector<size_t>{100});
  o.load_n = n.value_or(o.full ? 1000 : 100);
  o.footprint_sizes =
      foot.value_or(o.full ? std::vector<size_t>{0, 1000, 5000} : std::vector<size_t>{0, 100});
  o.command_seconds = cmd_s.value_or(o.full ? 20 : 4);
  o.push_rates = rates.value_or(o.full ? std::vector<double>{5000, 10000, 20000, 30000, 40000, 60000}
                                       : std::vector<double>{2000, 10000, 20000});
  o.push_seconds = push_s.value_or(o.full ? 5 : 3);
  o.idle_seconds = idle_s.value_or(o.full ? 30 : 10);
  o.max_seconds = max_s.value_or(o.full ? 1500 : 240);
  for (size_t s : o.cold_sizes)
    if (s > MAX_DEVICES) return std::nullopt;
  if (o.load_n == 0 || o.load_n > MAX_DEVICES) return std::nullopt;
  return o;
}

}  // namespace t2m::bench

#include "bench/report.h"

#include <sys/resource.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

namespace t2m::bench {

namespace {

using nlohmann::json;

std::string fmt(const char* f, double v) {
  char b[64];
  snprintf(b, sizeof b, f, v);
  return b;
}

std::string load_text(const json& l) {
  if (!l.is_array() || l.size() != 3) return "?";
  char b[64];
  snprintf(b, sizeof b, "%.2f %.2f %.2f", l[0].get<double>(), l[1].get<double>(), l[2].get<double>());
  return b;
}

void print_table(const json& results, const Options& o) {
  const json& r = results;
  printf("\n==================== tuya2mqtt benchmark results (%s) ====================\n",
         o.full ? "full" : "quick");
  printf("%s\n", o.command_line.c_str());
  const json& m = r["machine"];
  printf("machine: %u cores, %s, %s; nice %d; load average at start %s, at end %s\n", m.value("nproc", 0u),
         m.value("cpu", std::string("?")).c_str(), m.value("kernel", std::string("?")).c_str(),
         m.value("nice", 0), load_text(m["loadavg_at_start"]).c_str(),
         load_text(r["loadavg_at_end"]).c_str());
  printf(
      "mosquitto: set_tcp_nodelay %s, no queue limits; gateway: discovery off, HA discovery off, polling "
      "off\n\n",
      r.value("broker_tcp_nodelay", true) ? "true" : "false (default)");
  if (r.contains("cold_start")) {
    printf("1. cold start (spawn -> every device online with its first state on MQTT; mix 3.3/3.4/3.5)\n");
    printf("   %8s %12s %12s %14s %10s\n", "devices", "all state", "all online", "per device", "complete");
    for (const auto& c : r["cold_start"])
      printf("   %8zu %9.0f ms %9.0f ms %11.3f ms %10s\n", c["n"].get<size_t>(), c.value("all_state_ms", 0.0),
             c.value("all_online_ms", 0.0), c.value("ms_per_device", 0.0),
             c.value("complete", false) ? "yes" : "NO");
  }
  if (r.contains("refresh_all")) {
    const json& f = r["refresh_all"];
    printf("2. refresh-all (publish <base>/<name>/get for every device, wait for every fresh state)\n");
    printf("   %zu devices: best %.1f ms = %.4f ms/device; median %.4f ms/device (%zu runs)\n",
           f["n"].get<size_t>(), f["best_total_ms"].get<double>(), f["best_ms_per_device"].get<double>(),
           f["median_ms_per_device"].get<double>(), f["runs"].size());
  }
  if (r.contains("command_round_trip")) {
    const json& c = r["command_round_trip"];
    printf("3. command round trip (<base>/<name>/set -> DP written on the device -> new state on MQTT)\n");
    printf(
        "   %zu commands at %.0f/s over %zu devices, %zu completed, %zu not completed, set/result errors "
        "%llu\n",
        c["sent"].get<size_t>(), c["rate_per_s"].get<double>(), c["n"].get<size_t>(),
        c["completed"].get<size_t>(), c["not_completed"].get<size_t>(),
        static_cast<unsigned long long>(c["set_result_error"].get<uint64_t>()));
    for (const char* k : {"round_trip", "mqtt_to_device", "device_to_mqtt"})
      printf("   %-15s p50 %7.3f ms  p90 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", k,
             c[k]["p50_ms"].get<double>(), c[k]["p90_ms"].get<double>(), c[k]["p99_ms"].get<double>(),
             c[k]["max_ms"].get<double>());
    printf(
        "   CPU: gateway %.1f%%, simulator %.1f%%, mosquitto %.1f%%; waiting for a CPU (run queue): "
        "gateway %.0f%%, "
        "simulator %.0f%%, mosquitto %.0f%% of the time\n",
        c["cpu_percent"]["gateway"].get<double>(), c["cpu_percent"]["simulator"].get<double>(),
        c["cpu_percent"]["mosquitto"].get<double>(), c["runq_wait_percent"]["gateway"].get<double>(),
        c["runq_wait_percent"]["simulator"].get<double>(), c["runq_wait_percent"]["mosquitto"].get<double>());
  }
  if (r.contains("push")) {
    const json& p = r["push"];
    printf("4. push throughput (simulator push_rate on every device; every report must reach MQTT)\n");
    printf("   %10s %10s %10s %8s %10s %9s %8s %8s %9s %9s\n", "offered/s", "sent/s", "DP chg/s", "lost",
           "drain ms", "gw CPU%", "sim CPU%", "mq CPU%", "gw runq%", "sim runq%");
    for (const auto& s : p["steps"])
      printf("   %10.0f %10.0f %10.0f %8lld %10.0f %9.1f %8.1f %8.1f %9.0f %9.0f\n",
             s["offered_reports_per_s"].get<double>(), s["reports_sent_per_s"].get<double>(),
             s["dp_changes_per_s"].get<double>(), static_cast<long long>(s["lost"].get<int64_t>()),
             s["drain_ms"].get<double>(), s["cpu_percent"]["gateway"].get<double>(),
             s["cpu_percent"]["simulator"].get<double>(), s["cpu_percent"]["mosquitto"].get<double>(),
             s["runq_wait_percent"]["gateway"].get<double>(),
             s["runq_wait_percent"]["simulator"].get<double>());
    printf("   max sustained with no loss: %.0f reports/s = %.0f DP changes/s, gateway CPU %.1f%%\n",
           p["max_sustained_reports_per_s"].get<double>(), p["max_sustained_dp_changes_per_s"].get<double>(),
           p["gateway_cpu_percent_at_max"].get<double>());
  }
  if (r.contains("footprint")) {
    printf(
        "5. footprint (gateway VmRSS after cold start + idle; CPU over the idle window, heartbeats every "
        "10 s)\n");
    printf("   %8s %10s %10s %12s %10s %10s %10s %10s\n", "devices", "RSS kB", "private kB", "peak kB",
           "kB/device", "gw CPU%", "sim CPU%", "mq CPU%");
    double rss0 = -1;
    for (const auto& f : r["footprint"])
      if (f["n"] == 0) rss0 = f["rss_kb"].get<double>();
    for (const auto& f : r["footprint"]) {
      const size_t n = f["n"].get<size_t>();
      const double rss = f["rss_kb"].get<double>();
      printf("   %8zu %10.0f %10.0f %10.0f %12s %10.2f %10s %10.2f\n", n, rss, f.value("private_kb", -1.0),
             f["peak_rss_kb"].get<double>(),
             n > 0 && rss0 >= 0 ? fmt("%.2f", (rss - rss0) / static_cast<double>(n)).c_str() : "-",
             f["gateway_cpu_percent"].get<double>(),
             n > 0 ? fmt("%.2f", f["simulator_cpu_percent"].get<double>()).c_str() : "-",
             f["mosquitto_cpu_percent"].get<double>());
    }
  }
  printf("\ntargets:\n");
  for (const auto& t : r["targets"]) {
    std::string measured = t["measured"].is_null() ? "not measured"
                                                   : fmt("%.4g", t["measured"].get<double>()) + " " +
                                                         t["unit"].get<std::string>();
    const char* verdict = t["met"].is_null() ? "-" : t["met"].get<bool>() ? "MET" : "MISSED";
    printf("   %-42s %-34s %-20s %s\n", t["target"].get<std::string>().c_str(),
           t["goal"].get<std::string>().c_str(), measured.c_str(), verdict);
  }
  printf("\nJSON: %s\n", o.json_out.c_str());
  fflush(stdout);
}

}  // namespace

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.count = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = v.back();
  double s = 0;
  for (double x : v) s += x;
  p.mean = s / static_cast<double>(v.size());
  return p;
}
json to_json(const Percentiles& p) {
  return json{{"count", p.count}, {"p50_ms", p.p50}, {"p90_ms", p.p90},
              {"p99_ms", p.p99},  {"max_ms", p.max}, {"mean_ms", p.mean}};
}

json machine_info(long fd_limit) {
  json m;
  m["nproc"] = std::thread::hardware_concurrency();
  std::ifstream cpu("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release;
  std::ifstream mem("/proc/meminfo");
  if (std::getline(mem, line)) m["memory"] = line.substr(line.find(':') + 1);
  double load[3] = {};
  if (getloadavg(load, 3) == 3) m["loadavg_at_start"] = {load[0], load[1], load[2]};
  m["open_files_limit"] = fd_limit;
  errno = 0;
  m["nice"] = getpriority(PRIO_PROCESS, 0);
  char date[64];
  time_t now = time(nullptr);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  m["date"] = date;
  return m;
}

void print_header(const Options& o, const json& machine) {
  const json& m = machine;
  printf("tuya2mqtt benchmark (%s)\n", o.full ? "full" : "quick");
  printf("  command : %s\n", o.command_line.c_str());
  printf("  machine : %u cores, %s, %s, load average at start %.2f %.2f %.2f\n", m.value("nproc", 0u),
         m.value("cpu", std::string("?")).c_str(), m.value("kernel", std::string("?")).c_str(),
         m["loadavg_at_start"].is_array() ? m["loadavg_at_start"][0].get<double>() : 0.0,
         m["loadavg_at_start"].is_array() ? m["loadavg_at_start"][1].get<double>() : 0.0,
         m["loadavg_at_start"].is_array() ? m["loadavg_at_start"][2].get<double>() : 0.0);
  printf("  date    : %s, nice %d\n\n", m.value("date", std::string("?")).c_str(), m.value("nice", 0));
  fflush(stdout);
}

// -- as the run goes ---------------------------------------------------------------------------------------

void print_fleet_size(size_t n) {
  printf("-- %zu devices --\n", n);
  fflush(stdout);
}

void print_sim_ready(double ms) {
  printf("  simulator ready in %.0f ms\n", ms);
}

void print_cold_start(const json& cold, size_t n) {
  printf("  cold start: %zu/%zu with state in %.0f ms (%.3f ms/device), all online %.0f ms\n",
         cold.value("with_state", size_t{0}), n, cold.value("all_state_ms", 0.0),
         cold.value("ms_per_device", 0.0), cold.value("all_online_ms", 0.0));
  fflush(stdout);
}

void print_refresh(const json& rec, int reps) {
  printf("  refresh-all (%d x %zu /get): best %.1f ms (%.4f ms/device), median %.4f ms/device\n", reps,
         rec["n"].get<size_t>(), rec["best_total_ms"].get<double>(), rec["best_ms_per_device"].get<double>(),
         rec["median_ms_per_device"].get<double>());
  fflush(stdout);
}

void print_command(const json& rec) {
  const json& cpu = rec["cpu_percent"];
  printf(
      "  command round trip (%zu at %.0f/s over %zu devices): p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
      "not completed %zu; to device p50 %.3f ms; CPU gateway %.1f%% sim %.1f%% broker %.1f%%\n",
      rec["sent"].get<size_t>(), rec["rate_per_s"].get<double>(), rec["n"].get<size_t>(),
      rec["round_trip"]["p50_ms"].get<double>(), rec["round_trip"]["p99_ms"].get<double>(),
      rec["round_trip"]["max_ms"].get<double>(), rec["not_completed"].get<size_t>(),
      rec["mqtt_to_device"]["p50_ms"].get<double>(), cpu["gateway"].get<double>(),
      cpu["simulator"].get<double>(), cpu["mosquitto"].get<double>());
  fflush(stdout);
}

void print_push_step(const json& s) {
  const json& cpu = s["cpu_percent"];
  printf(
      "  push %6.0f reports/s offered: sent %.0f/s, received %llu/%llu (lost %lld, reconnects %llu), "
      "%.0f DP "
      "changes/s, drain %.0f ms; CPU gateway %.1f%% sim %.1f%% broker %.1f%%\n",
      s["offered_reports_per_s"].get<double>(), s["reports_sent_per_s"].get<double>(),
      s["states_received"].get<unsigned long long>(), s["reports_sent"].get<unsigned long long>(),
      s["lost"].get<long long>(), s["reconnects"].get<unsigned long long>(),
      s["dp_changes_per_s"].get<double>(), s["drain_ms"].get<double>(), cpu["gateway"].get<double>(),
      cpu["simulator"].get<double>(), cpu["mosquitto"].get<double>());
  fflush(stdout);
}

void print_footprint(const json& rec) {
  const bool with_devices = rec["n"].get<size_t>() > 0;
  printf(
      "  footprint: gateway RSS %ld kB (anon %ld, file %ld; private %ld; peak %ld kB), idle CPU over %d s: "
      "gateway %.2f%% sim %.2f%% broker %.2f%%\n",
      rec["rss_kb"].get<long>(), rec["rss_anon_kb"].get<long>(), rec["rss_file_kb"].get<long>(),
      rec["private_kb"].get<long>(), rec["peak_rss_kb"].get<long>(), rec["idle_seconds"].get<int>(),
      rec["gateway_cpu_percent"].get<double>(),
      with_devices ? rec["simulator_cpu_percent"].get<double>() : 0.0,
      rec["mosquitto_cpu_percent"].get<double>());
  fflush(stdout);
}

// -- at the end -------------------------------------------------------------------------------------------

void report(json& results, const Options& o) {
  json targets = json::array();
  auto target = [&](const std::string& what, const std::string& goal, std::optional<double> value,
                    const std::string& unit, bool met) {
    json t{{"target", what}, {"goal", goal}, {"unit", unit}};
    if (value) {
      t["measured"] = *value;
      t["met"] = met;
    } else {
      t["measured"] = nullptr;
      t["met"] = nullptr;
    }
    targets.push_back(t);
  };
  // cold start of 1,000 under 3 s
  std::optional<double> cold1000;
  for (const auto& c : results.value("cold_start", json::array()))
    if (c["n"] == 1000 && c.value("complete", false)) cold1000 = c["all_state_ms"].get<double>() / 1000;
  target("cold start, 1,000 devices", "< 3 s", cold1000, "s", cold1000 && *cold1000 < 3);
  std::optional<double> refresh;
  if (results.contains("refresh_all") && results["refresh_all"]["n"] == 1000)
    refresh = results["refresh_all"]["best_ms_per_device"].get<double>();
  target("refresh-all per device, N = 1,000", "< 0.04 ms", refresh, "ms", refresh && *refresh < 0.04);
  std::optional<double> p50, p99;
  if (results.contains("command_round_trip")) {
    p50 = results["command_round_trip"]["round_trip"]["p50_ms"].get<double>();
    p99 = results["command_round_trip"]["round_trip"]["p99_ms"].get<double>();
  }
  target("command round trip p50 at 200/s", "< 1 ms", p50, "ms", p50 && *p50 < 1);
  target("command round trip p99 at 200/s", "< 3 ms", p99, "ms", p99 && *p99 < 3);
  std::optional<double> push;
  if (results.contains("push")) push = results["push"]["max_sustained_dp_changes_per_s"].get<double>();
  target("DP changes/s carried with no loss", ">= 20,000", push, "1/s", push && *push >= 20000);
  std::optional<double> rss0;
  for (const auto& f : results.value("footprint", json::array()))
    if (f["n"] == 0) rss0 = f["rss_kb"].get<double>();
  for (const auto& f : results.value("footprint", json::array())) {
    size_t n = f["n"].get<size_t>();
    double rss = f["rss_kb"].get<double>();
    const double budget = 10 * 1024 + 10.0 * static_cast<double>(n);
    target("gateway RSS, N = " + std::to_string(n), "< 10 MB + 10 kB/device = " + fmt("%.0f kB", budget), rss,
           "kB", rss < budget);
    const double own = f.value("private_kb", -1.0);
    if (own >= 0)
      target("gateway private memory (USS), N = " + std::to_string(n),
             "< 10 MB + 10 kB/device = " + fmt("%.0f kB", budget), own, "kB", own < budget);
    if (n == 5000) {
      double c = f["gateway_cpu_percent"].get<double>();
      target("idle CPU, 5,000 devices heartbeating", "< 5% of a core", c, "%", c < 5);
    }
  }
  results["targets"] = targets;
  double load[3] = {};
  if (getloadavg(load, 3) == 3) results["loadavg_at_end"] = {load[0], load[1], load[2]};
  std::ofstream out(o.json_out);
  out << results.dump(2) << "\n";
  print_table(results, o);
}

}  // namespace t2m::bench

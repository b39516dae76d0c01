#include "bench/scenarios.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/clock.h"
#include "bench/process.h"
#include "bench/report.h"

namespace t2m::bench {

namespace {

using nlohmann::json;

constexpr int SETTLE_MS = 2000;  // after a cold start, before measuring anything else
constexpr int REFRESH_TIMEOUT_S = 30;
constexpr int REFRESH_PAUSE_MS = 300;  // between refresh-all repetitions
// After "watch": the simulator's stream is set up before the first command goes out.
constexpr int WATCH_SETTLE_MS = 200;
constexpr int COMMAND_DRAIN_S = 5;    // after the last command, for the last states to come back
constexpr int DRAIN_QUIET_MS = 1000;  // push test: no new state for this long = drained
constexpr int DRAIN_MAX_MS = 15000;
constexpr int DRAIN_POLL_MS = 20;
// A push step is sustained when nothing was lost and the drain after it took less than this.
constexpr double SUSTAINED_DRAIN_MS = 1000;
constexpr int PUSH_STEP_PAUSE_MS = 1000;  // between push steps

}  // namespace

int Bench::run() {
  if (!prepare_()) return 1;
  int rc = 0;
  try {
    rc = scenarios_();
  } catch (const std::exception& e) {
    fprintf(stderr, "t2m_bench: %s\n", e.what());
    rc = 1;
  }
  stop_gateway_();
  stack_.stop_sim();
  if (mqtt_) mqtt_->disconnect();
  mqtt_.reset();
  stack_.stop_broker();
  report(results_, o_);
  if (!stack_.remove_work_dir()) printf("work directory (configs, logs): %s\n", o_.work_dir.c_str());
  return rc;
}

// -- setup ------------------------------------------------------------------------------------------------

bool Bench::prepare_() {
  if (!stack_.prepare()) return false;
  results_["machine"] = machine_info(stack_.fd_limit());
  results_["command_line"] = o_.command_line;
  results_["mode"] = o_.full ? "full" : "quick";
  results_["broker_tcp_nodelay"] = o_.broker_nodelay;
  print_header(o_, results_["machine"]);
  if (!stack_.start_broker()) return false;
  mqtt_ = std::make_unique<Mqtt>("tcp://127.0.0.1:" + std::to_string(stack_.broker_port()), fleet_);
  if (!mqtt_->connect()) return false;
  return true;
}

// -- the gateway under test -------------------------------------------------------------------------------

json Bench::start_gateway_(size_t n) {
  stop_gateway_();
  const std::string base = "t2mb" + std::to_string(getpid()) + "_" + std::to_string(run_no_++);
  const std::string cfg = stack_.write_gateway_config(n, base);
  fleet_.reset(base, n);
  mqtt_->subscribe(base + "/+");
  mqtt_->subscribe(base + "/+/availability");
  mqtt_->subscribe(base + "/+/set/result");
  mqtt_->subscribe(base + "/bridge/state");
  base_ = base;
  const int64_t t0 = unix_us();
  stack_.start_gateway(n, cfg);
  json rec{{"n", n}};
  const int64_t budget_us = (15 + static_cast<int64_t>(n) / 50) * US_PER_S;
  std::unique_lock<std::mutex> lk(fleet_.mu);
  fleet_.cv.wait_for(lk, std::chrono::microseconds(budget_us),
                     [&] { return fleet_.with_state >= n && fleet_.online_count >= n; });
  const bool ok = fleet_.with_state >= n && fleet_.online_count >= n;
  rec["complete"] = ok;
  rec["with_state"] = fleet_.with_state;
  rec["online"] = fleet_.online_count;
  if (n > 0) {
    rec["all_state_ms"] = static_cast<double>(fleet_.last_first_state_us - t0) / US_PER_MS;
    rec["all_online_ms"] = static_cast<double>(fleet_.last_online_us - t0) / US_PER_MS;
    std::vector<double> firsts;
    for (int64_t f : fleet_.first_state_us)
      if (f) firsts.push_back(static_cast<double>(f - t0) / US_PER_MS);
    auto p = percentiles(firsts);
    rec["first_state_p50_ms"] = p.p50;
    rec["ms_per_device"] =
        static_cast<double>(fleet_.last_first_state_us - t0) / US_PER_MS / static_cast<double>(n);
  }
  lk.unlock();
  if (!ok)
    fprintf(stderr,
            "t2m_bench: only %zu/%zu devices with state, %zu online after %lld s (see %s/gateway-%zu.log)\n",
            rec["with_state"].get<size_t>(), n, rec["online"].get<size_t>(),
            static_cast<long long>(budget_us / US_PER_S), o_.work_dir.c_str(), n);
  return rec;
}

void Bench::stop_gateway_() {
  const std::optional<int64_t> stopped = stack_.stop_gateway();
  if (!stopped) return;
  const int64_t ms = *stopped;
  if (!base_.empty()) {
    results_["gateway_stop_ms"].push_back(json{{"n", fleet_.n}, {"ms", ms}});
    for (const char* f : {"/+", "/+/availability", "/+/set/result", "/bridge/state"})
      mqtt_->unsubscribe(base_ + f);
  }
}

// -- scenarios --------------------------------------------------------------------------------------------

int Bench::scenarios_() {
  int problems = 0;
  // Fleet sizes in ascending order; each size: simulator, gateway cold start, then what runs at it.
  std::vector<size_t> sizes;
  if (o_.has("cold")) sizes = o_.cold_sizes;
  if (o_.has("refresh") || o_.has("command") || o_.has("push")) sizes.push_back(o_.load_n);
  if (o_.has("footprint")) sizes.insert(sizes.end(), o_.footprint_sizes.begin(), o_.footprint_sizes.end());
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());

  for (size_t n : sizes) {
    print_fleet_size(n);
    if (!stack_.start_sim(n)) {
      fprintf(stderr, "t2m_bench: cannot start the simulator with %zu devices\n", n);
      ++problems;
      continue;
    }
    if (n > 0) print_sim_ready(stack_.sim_start_ms());
    json cold = start_gateway_(n);
    cold["sim_ready_ms"] = stack_.sim_start_ms();
    if (!cold.value("complete", false)) ++problems;
    const bool is_cold = std::find(o_.cold_sizes.begin(), o_.cold_sizes.end(), n) != o_.cold_sizes.end();
    if (n > 0 && o_.has("cold") && is_cold) {
      results_["cold_start"].push_back(cold);
      print_cold_start(cold, n);
    }
    if (!cold.value("complete", false) && n > 0) {
      stop_gateway_();
      continue;
    }
    sleep_ms(SETTLE_MS);
    if (n == o_.load_n && n > 0) {
      if (o_.has("refresh")) refresh_(n);
      if (o_.has("command")) command_(n);
      if (o_.has("push")) push_(n);
    }
    if (o_.has("footprint") &&
        std::find(o_.footprint_sizes.begin(), o_.footprint_sizes.end(), n) != o_.footprint_sizes.end())
      footprint_(n);
    stop_gateway_();
  }
  return problems == 0 ? 0 : 1;
}

void Bench::refresh_(size_t n) {
  json runs = json::array();
  std::vector<std::string> topics;
  for (size_t i = 0; i < n; ++i) topics.push_back(base_ + "/" + device_name(i) + "/get");
  CpuWindow cpu;
  cpu.start({stack_.gateway_pid(), stack_.sim_pid(), stack_.broker_pid()});
  double best = 0;
  for (int rep = 0; rep < o_.refresh_reps; ++rep) {
    int64_t t0;
    {
      std::lock_guard<std::mutex> g(fleet_.mu);
      fleet_.fresh.assign(n, 0);
      fleet_.fresh_count = 0;
      fleet_.refresh_on = true;
      t0 = unix_us();
    }
    for (const auto& t : topics) mqtt_->publish(t, "");
    const int64_t published = unix_us();
    std::unique_lock<std::mutex> lk(fleet_.mu);
    fleet_.cv.wait_for(lk, std::chrono::seconds(REFRESH_TIMEOUT_S), [&] { return fleet_.fresh_count >= n; });
    fleet_.refresh_on = false;
    const double ms = static_cast<double>(fleet_.last_fresh_us - t0) / US_PER_MS;
    json r{{"n", n},
           {"answered", fleet_.fresh_count},
           {"total_ms", ms},
           {"ms_per_device", ms / static_cast<double>(n)},
           {"publish_ms", static_cast<double>(published - t0) / US_PER_MS}};
    lk.unlock();
    if (r["answered"].get<size_t>() == n && (best == 0 || ms < best)) best = ms;
    runs.push_back(r);
    sleep_ms(REFRESH_PAUSE_MS);
  }
  auto pct = cpu.percent();
  std::vector<double> per;
  for (const auto& r : runs) per.push_back(r["ms_per_device"].get<double>());
  std::sort(per.begin(), per.end());
  json rec{{"n", n},
           {"runs", runs},
           {"best_ms_per_device", best / static_cast<double>(n)},
           {"median_ms_per_device", per[per.size() / 2]},
           {"best_total_ms", best},
           {"cpu_percent", {{"gateway", pct[0]}, {"simulator", pct[1]}, {"mosquitto", pct[2]}}}};
  results_["refresh_all"] = rec;
  print_refresh(rec, o_.refresh_reps);
}

void Bench::command_(size_t n) {
  const size_t total = static_cast<size_t>(o_.command_rate * o_.command_seconds);
  const int64_t interval_us = static_cast<int64_t>(US_PER_S / o_.command_rate);
  {
    std::lock_guard<std::mutex> g(fleet_.mu);
    fleet_.cmds.assign(total, {});
    fleet_.pending.assign(n, -1);
    fleet_.results_ok = fleet_.results_error = 0;
  }
  // DP writes as the simulator decodes them, stamped with its wall clock.
  stack_.control().watch([this](const json& ev) {
    auto id = ev.value("device", std::string());
    if (id.size() < 6) return;
    auto idx = index_of_digits(std::string_view(id).substr(5));
    if (!idx) return;
    std::lock_guard<std::mutex> g(fleet_.mu);
    if (*idx >= fleet_.pending.size() || fleet_.pending[*idx] < 0) return;
    auto& c = fleet_.cmds[static_cast<size_t>(fleet_.pending[*idx])];
    if (!c.write_us) c.write_us = ev.value("unix_us", int64_t{0});
  });
  sleep_ms(WATCH_SETTLE_MS);
  const json sim_before = stack_.sim_totals();
  CpuWindow cpu;
  cpu.start({stack_.gateway_pid(), stack_.sim_pid(), stack_.broker_pid()});
  size_t skipped = 0;
  const int64_t start = mono_us();
  for (size_t k = 0; k < total; ++k) {
    const int64_t due = start + static_cast<int64_t>(k) * interval_us;
    // Sleep (no spinning: the driver shares two cores with everything it measures); the publish time
    // is stamped when the command really goes out.
    if (const int64_t left = due - mono_us(); left > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(left));
    const size_t i = k % n;
    std::string payload;
    {
      std::lock_guard<std::mutex> g(fleet_.mu);
      if (fleet_.pending[i] >= 0) {  // the previous command to this device has not come back yet
        ++skipped;
        continue;
      }
      auto& c = fleet_.cmds[k];
      c.expect = fleet_.sw[i] == 1 ? 0 : 1;
      fleet_.pending[i] = static_cast<int64_t>(k);
      payload = c.expect ? R"({"switch_1":true})" : R"({"switch_1":false})";
      c.pub_us = unix_us();
    }
    mqtt_->publish(base_ + "/" + device_name(i) + "/set", payload);
  }
  const double send_s = static_cast<double>(mono_us() - start) / US_PER_S;
  {
    std::unique_lock<std::mutex> lk(fleet_.mu);
    fleet_.cv.wait_for(lk, std::chrono::seconds(COMMAND_DRAIN_S), [&] {
      return std::all_of(fleet_.pending.begin(), fleet_.pending.end(), [](int64_t p) { return p < 0; });
    });
  }
  auto pct = cpu.percent();
  auto waits = cpu.runq_wait_percent();
  stack_.control().stop_watch();
  std::vector<double> rtt, to_device, back;
  size_t sent = 0, lost = 0;
  {
    std::lock_guard<std::mutex> g(fleet_.mu);
    for (const auto& c : fleet_.cmds) {
      if (!c.pub_us) continue;
      ++sent;
      if (!c.done) {
        ++lost;
        continue;
      }
      rtt.push_back(static_cast<double>(c.state_us - c.pub_us) / US_PER_MS);
      if (c.write_us) {
        to_device.push_back(static_cast<double>(c.write_us - c.pub_us) / US_PER_MS);
        back.push_back(static_cast<double>(c.state_us - c.write_us) / US_PER_MS);
      }
    }
  }
  auto p = percentiles(rtt);
  json rec{{"n", n},
           {"rate_per_s", static_cast<double>(sent) / send_s},
           {"sent", sent},
           {"completed", rtt.size()},
           {"not_completed", lost},
           {"skipped_busy", skipped},
           {"reconnects",
            stack_.sim_totals().value("accepted", uint64_t{0}) - sim_before.value("accepted", uint64_t{0})},
           {"set_result_ok", fleet_.results_ok},
           {"set_result_error", fleet_.results_error},
           {"round_trip", to_json(p)},
           {"mqtt_to_device", to_json(percentiles(to_device))},
           {"device_to_mqtt", to_json(percentiles(back))},
           {"cpu_percent", {{"gateway", pct[0]}, {"simulator", pct[1]}, {"mosquitto", pct[2]}}},
           {"runq_wait_percent", {{"gateway", waits[0]}, {"simulator", waits[1]}, {"mosquitto", waits[2]}}}};
  if (fleet_.results_error) rec["last_error"] = fleet_.last_error;
  results_["command_round_trip"] = rec;
  print_command(rec);
}

void Bench::push_(size_t n) {
  json steps = json::array();
  double best_rate = 0, best_dp_rate = 0, best_cpu = 0;
  for (double rate : o_.push_rates) {
    const uint32_t interval = static_cast<uint32_t>(std::max(1.0, static_cast<double>(n) * 1000.0 / rate));
    const double offered = static_cast<double>(n) * 1000.0 / interval;
    json before = stack_.sim_totals();
    uint64_t msgs0, dps0;
    {
      std::lock_guard<std::mutex> g(fleet_.mu);
      msgs0 = fleet_.state_msgs;
      dps0 = fleet_.dp_changes;
    }
    CpuWindow cpu;
    cpu.start({stack_.gateway_pid(), stack_.sim_pid(), stack_.broker_pid()});
    const int64_t t0 = mono_us();
    stack_.control().request({{"cmd", "push_rate"}, {"interval_ms", interval}});
    sleep_ms(o_.push_seconds * 1000);
    uint64_t msgs_mid;
    {
      std::lock_guard<std::mutex> g(fleet_.mu);
      msgs_mid = fleet_.state_msgs;
    }
    stack_.control().request({{"cmd", "push_rate"}, {"interval_ms", 0}});
    const double active_s = static_cast<double>(mono_us() - t0) / US_PER_S;
    auto pct = cpu.percent();  // CPU while the load runs
    auto waits = cpu.runq_wait_percent();
    json after = stack_.sim_totals();
    const uint64_t expected = after.value("pushes", uint64_t{0}) - before.value("pushes", uint64_t{0}) +
                              after.value("queries", uint64_t{0}) - before.value("queries", uint64_t{0});
    // Drain: wait until everything expected arrived or nothing new came for a while.
    uint64_t got = 0, dps = 0;
    const int64_t d0 = mono_us();
    int64_t last_change = d0;
    uint64_t last_got = 0;
    for (;;) {
      {
        std::lock_guard<std::mutex> g(fleet_.mu);
        got = fleet_.state_msgs - msgs0;
        dps = fleet_.dp_changes - dps0;
      }
      if (got >= expected) break;
      if (got != last_got) {
        last_got = got;
        last_change = mono_us();
      }
      if (mono_us() - last_change > DRAIN_QUIET_MS * US_PER_MS || mono_us() - d0 > DRAIN_MAX_MS * US_PER_MS)
        break;
      sleep_ms(DRAIN_POLL_MS);
    }
    const double drain_ms = static_cast<double>(mono_us() - d0) / US_PER_MS;
    const int64_t lost = static_cast<int64_t>(expected) - static_cast<int64_t>(got);
    // A report in flight when a link drops (e.g. a heartbeat the starved gateway answered too late) is
    // lost.
    const uint64_t reconnects = after.value("accepted", uint64_t{0}) - before.value("accepted", uint64_t{0});
    json s{{"interval_ms", interval},
           {"offered_reports_per_s", offered},
           {"reports_sent", expected},
           {"reports_sent_per_s", static_cast<double>(expected) / active_s},
           {"states_received", got},
           {"states_received_during_load_per_s",
            static_cast<double>(msgs_mid - msgs0) / static_cast<double>(o_.push_seconds)},
           {"dp_changes", dps},
           {"dp_changes_per_s", static_cast<double>(dps) / active_s},
           {"lost", lost},
           {"reconnects", reconnects},
           {"drain_ms", drain_ms},
           {"cpu_percent", {{"gateway", pct[0]}, {"simulator", pct[1]}, {"mosquitto", pct[2]}}},
           {"runq_wait_percent", {{"gateway", waits[0]}, {"simulator", waits[1]}, {"mosquitto", waits[2]}}}};
    steps.push_back(s);
    print_push_step(s);
    // Sustained = everything arrived and the drain after the load was short (no backlog building up).
    const bool sustained = lost <= 0 && drain_ms < SUSTAINED_DRAIN_MS;
    if (sustained && static_cast<double>(dps) / active_s > best_dp_rate) {
      best_dp_rate = static_cast<double>(dps) / active_s;
      best_rate = static_cast<double>(expected) / active_s;
      best_cpu = pct[0];
    }
    sleep_ms(PUSH_STEP_PAUSE_MS);
    if (!sustained) break;
  }
  results_["push"] = json{{"n", n},
                          {"steps", steps},
                          {"max_sustained_reports_per_s", best_rate},
                          {"max_sustained_dp_changes_per_s", best_dp_rate},
                          {"gateway_cpu_percent_at_max", best_cpu}};
}

void Bench::footprint_(size_t n) {
  const pid_t pid = stack_.gateway_pid();
  CpuWindow cpu;
  cpu.start({pid, stack_.sim_pid() > 0 ? stack_.sim_pid() : pid, stack_.broker_pid()});
  sleep_ms(o_.idle_seconds * 1000);
  auto pct = cpu.percent();
  auto waits = cpu.runq_wait_percent();
  json sim_stats = n > 0 ? stack_.sim_totals() : json::object();
  json rec{{"n", n},
           {"rss_kb", status_kb(pid, "VmRSS").value_or(-1)},
           {"peak_rss_kb", status_kb(pid, "VmHWM").value_or(-1)},
           {"rss_anon_kb", status_kb(pid, "RssAnon").value_or(-1)},
           {"rss_file_kb", status_kb(pid, "RssFile").value_or(-1)},
           {"private_kb", private_kb(pid).value_or(-1)},
           {"threads", status_kb(pid, "Threads").value_or(-1)},
           {"idle_seconds", o_.idle_seconds},
           {"gateway_cpu_percent", pct[0]},
           {"mosquitto_cpu_percent", pct[2]},
           {"gateway_runq_wait_percent", waits[0]}};
  if (n > 0) {
    rec["simulator_cpu_percent"] = pct[1];
    rec["simulator_rss_kb"] = status_kb(stack_.sim_pid(), "VmRSS").value_or(-1);
    rec["heartbeats_total"] = sim_stats.value("heartbeats", uint64_t{0});
  }
  results_["footprint"].push_back(rec);
  print_footprint(rec);
}

}  // namespace t2m::bench

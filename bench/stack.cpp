#include "bench/stack.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "bench/clock.h"
#include "bench/fleet.h"

namespace t2m::bench {

namespace {

using nlohmann::json;

constexpr const char* DEVICE_BASE_ADDRESS = "127.0.2.1";  // devices on 127.0.2.1, .2, ... (loopback)
constexpr const char* VERSION_MIX = "3.3,3.4,3.5";
constexpr const char* BROKER_HOST = "127.0.0.1";
constexpr int BROKER_START_TIMEOUT_MS = 5000;
// How often the driver looks again for a child that is starting.
constexpr int START_POLL_MS = 20;

}  // namespace

bool Stack::prepare() {
  if (o_.bin_dir.empty()) {
    char self[4096] = {};
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string p = len > 0 ? std::string(self, static_cast<size_t>(len)) : "";
    p = p.substr(0, p.rfind('/'));  // .../build/bench/bench
    o_.bin_dir = p.substr(0, p.rfind('/'));
  }
  gateway_bin_ = o_.bin_dir + "/gateway/tuya2mqtt";
  sim_bin_ = o_.bin_dir + "/tests/sim/tuya2mqtt-sim";
  for (const auto& b : {gateway_bin_, sim_bin_}) {
    if (access(b.c_str(), X_OK) != 0) {
      fprintf(stderr,
              "t2m_bench: %s is missing: build the tuya2mqtt and tuya2mqtt-sim targets (bench/run.sh does)\n",
              b.c_str());
      return false;
    }
  }
  broker_bin_ = "/usr/sbin/mosquitto";
  if (access(broker_bin_.c_str(), X_OK) != 0) broker_bin_ = "/usr/bin/mosquitto";
  if (access(broker_bin_.c_str(), X_OK) != 0) {
    fprintf(stderr, "t2m_bench: mosquitto is not installed (apt-get install mosquitto)\n");
    return false;
  }
  if (o_.work_dir.empty()) {
    char tmpl[] = "/tmp/t2m-bench.XXXXXX";
    if (!mkdtemp(tmpl)) return false;
    o_.work_dir = tmpl;
  } else {
    work_is_user_ = true;
    mkdir(o_.work_dir.c_str(), 0700);
  }
  if (o_.json_out.empty()) o_.json_out = o_.work_dir + "/results.json";

  // Every socket of 5,000 devices (simulator: listener + connection each; gateway: one each) needs a
  // descriptor; children inherit the raised limit.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    fd_limit_ = static_cast<long>(rl.rlim_cur);
  }
  size_t biggest = o_.load_n;
  for (size_t s : o_.cold_sizes) biggest = std::max(biggest, s);
  for (size_t s : o_.footprint_sizes) biggest = std::max(biggest, s);
  if (fd_limit_ > 0 && static_cast<long>(2 * biggest + 200) > fd_limit_) {
    fprintf(stderr, "t2m_bench: warning: open-files limit %ld is too low for %zu devices (needs ~%zu)\n",
            fd_limit_, biggest, 2 * biggest + 200);
  }

  if (o_.nice != 0 && setpriority(PRIO_PROCESS, 0, o_.nice) != 0)
    fprintf(stderr, "t2m_bench: cannot set nice %d (%s); running at the default priority\n", o_.nice,
            strerror(errno));
  return true;
}

bool Stack::remove_work_dir() {
  if (o_.keep_work || work_is_user_) return false;
  std::string cmd = "rm -rf '" + o_.work_dir + "'";
  if (system(cmd.c_str()) != 0) fprintf(stderr, "t2m_bench: could not remove %s\n", o_.work_dir.c_str());
  return true;
}

// -- mosquitto --------------------------------------------------------------------------------------------

bool Stack::start_broker() {
  broker_port_ = free_loopback_port();
  {
    std::ofstream c(o_.work_dir + "/mosquitto.conf");
    // No queue limits: the benchmark must see every message or know why not.
    c << "listener " << broker_port_ << " " << BROKER_HOST << "\nallow_anonymous true\npersistence false\n"
      << "max_queued_messages 0\nmax_inflight_messages 0\nlog_type error\n";
    if (o_.broker_nodelay) c << "set_tcp_nodelay true\n";
  }
  if (!broker_.start("mosquitto", {broker_bin_, "-c", o_.work_dir + "/mosquitto.conf"},
                     o_.work_dir + "/mosquitto.log"))
    return false;
  const int64_t t0 = mono_us();
  for (;;) {
    int fd = connect_loopback(broker_port_);
    if (fd >= 0) {
      close(fd);
      break;
    }
    if (mono_us() - t0 > BROKER_START_TIMEOUT_MS * US_PER_MS || !broker_.running()) {
      fprintf(stderr, "t2m_bench: mosquitto did not start (see %s/mosquitto.log)\n", o_.work_dir.c_str());
      return false;
    }
    sleep_ms(START_POLL_MS);
  }
  return true;
}

// -- the simulator ----------------------------------------------------------------------------------------

bool Stack::start_sim(size_t n) {
  stop_sim();
  devices_.clear();
  if (n == 0) return true;
  const std::string ready = o_.work_dir + "/sim.ready";
  const std::string dump = o_.work_dir + "/sim-devices.json";
  unlink(ready.c_str());
  const int64_t t0 = mono_us();
  if (!sim_.start("tuya2mqtt-sim",
                  {sim_bin_, "--generate", std::to_string(n), "--mix", VERSION_MIX, "--base-address",
                   DEVICE_BASE_ADDRESS, "--dump-devices", dump, "--control", "127.0.0.1:0", "--ready-file",
                   ready, "--log-level", "warn"},
                  o_.work_dir + "/sim-" + std::to_string(n) + ".log"))
    return false;
  json r;
  for (;;) {
    std::ifstream f(ready);
    std::string s;
    if (std::getline(f, s)) {
      r = json::parse(s, nullptr, false);
      if (r.is_object()) break;
    }
    if (!sim_.running() || mono_us() - t0 > (10 + static_cast<int64_t>(n) / 100) * US_PER_S) {
      fprintf(stderr, "t2m_bench: the simulator did not start (see %s/sim-%zu.log)\n", o_.work_dir.c_str(),
              n);
      return false;
    }
    sleep_ms(START_POLL_MS);
  }
  sim_start_ms_ = static_cast<double>(mono_us() - t0) / US_PER_MS;
  std::ifstream df(dump);
  json d = json::parse(df, nullptr, false);
  if (!d.is_object() || !d["devices"].is_array() || d["devices"].size() != n) return false;
  devices_ = d["devices"];
  if (!control_.open(static_cast<uint16_t>(r.value("control_port", 0)))) return false;
  return control_.request({{"cmd", "ping"}}).value("ok", false);
}

void Stack::stop_sim() {
  control_.stop_watch();
  sim_.stop();
}

json Stack::sim_totals() {
  json r = control_.request({{"cmd", "stats"}});
  return r.value("totals", json::object());
}

// -- the gateway ------------------------------------------------------------------------------------------

std::string Stack::write_gateway_config(size_t n, const std::string& base) {
  json devs = json::array();
  for (size_t i = 0; i < n; ++i) {
    const json& d = devices_[i];
    devs.push_back({{"id", d["id"]},
                    {"local_key", d["key"]},
                    {"address", d["host"]},
                    {"port", d["port"]},
                    {"version", d["version"]},
                    {"name", device_name(i)},
                    {"category", "cz"},
                    {"poll_interval", 0}});
  }
  json cfg{{"mqtt",
            {{"server", "mqtt://127.0.0.1:" + std::to_string(broker_port_)},
             {"client_id", "t2m-bench-gateway"},
             {"base_topic", base}}},
           {"homeassistant", {{"enabled", false}}},
           {"discovery", {{"enabled", false}}},
           {"log_level", "warning"},
           {"devices", devs}};
  const std::string path = o_.work_dir + "/gateway-" + std::to_string(n) + ".json";
  {
    std::ofstream f(path);
    f << cfg.dump(1) << "\n";
  }
  chmod(path.c_str(), 0600);
  return path;
}

void Stack::start_gateway(size_t n, const std::string& config_path) {
  if (!gateway_.start("tuya2mqtt", {gateway_bin_, "run", "-c", config_path},
                      o_.work_dir + "/gateway-" + std::to_string(n) + ".log"))
    throw std::runtime_error("cannot start the gateway");
}

std::optional<int64_t> Stack::stop_gateway() {
  if (gateway_.pid() <= 0) return std::nullopt;
  return gateway_.stop();
}

}  // namespace t2m::bench

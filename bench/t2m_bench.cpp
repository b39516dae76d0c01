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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

namespace t2m::bench {
namespace {

using nlohmann::json;

// ---- constants ------------------------------------------------------------------------------------------

constexpr const char* DEVICE_BASE_ADDRESS = "127.0.2.1";  // devices on 127.0.2.1, .2, ... (loopback)
constexpr const char* VERSION_MIX = "3.3,3.4,3.5";
constexpr const char* BROKER_HOST = "127.0.0.1";
constexpr int STOP_GRACE_MS = 8000;  // SIGTERM, then SIGKILL after this long
constexpr int BROKER_START_TIMEOUT_MS = 5000;
constexpr int CONTROL_TIMEOUT_MS = 10000;
constexpr int SETTLE_MS = 2000;       // after a cold start, before measuring anything else
constexpr int DRAIN_QUIET_MS = 1000;  // push test: no new state for this long = drained
constexpr int DRAIN_MAX_MS = 15000;
constexpr size_t MAX_DEVICES = 20000;
constexpr int64_t US_PER_S = 1000000;
constexpr int64_t US_PER_MS = 1000;
constexpr size_t MAX_CHILDREN = 16;
// Paho C bounds its command queue (100 by default, even while connected): refresh-all publishes one
// /get per device at once.
constexpr int MAX_QUEUED_PUBLISHES = 1000000;

// ---- clocks ---------------------------------------------------------------------------------------------

int64_t clock_us(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * US_PER_S + ts.tv_nsec / 1000;
}
int64_t mono_us() {
  return clock_us(CLOCK_MONOTONIC);
}
int64_t unix_us() {
  return clock_us(CLOCK_REALTIME);
}
void sleep_ms(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string fmt(const char* f, double v) {
  char b[64];
  snprintf(b, sizeof b, f, v);
  return b;
}

// ---- child processes ------------------------------------------------------------------------------------

// Children, for the signal/alarm handler (async-signal-safe: a fixed array of pids).
volatile sig_atomic_t g_children[MAX_CHILDREN] = {};

void kill_children_from_handler(int sig) {
  for (size_t i = 0; i < MAX_CHILDREN; ++i) {
    pid_t p = static_cast<pid_t>(g_children[i]);
    if (p > 0) kill(p, SIGKILL);
  }
  const char msg[] =
      "\nt2m_bench: interrupted or over its time budget; every process it started was killed\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(sig == SIGALRM ? 3 : 130);
}

class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() { stop(); }

  bool start(const std::string& name, const std::vector<std::string>& argv, const std::string& log_path) {
    name_ = name;
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec (Paho threads exist in the parent).
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(126);
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      execv(args[0], args.data());
      _exit(127);
    }
    pid_ = pid;
    for (size_t i = 0; i < MAX_CHILDREN; ++i) {
      if (g_children[i] == 0) {
        g_children[i] = pid;
        slot_ = static_cast<int>(i);
        break;
      }
    }
    return true;
  }

  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      forget_();
      exit_status_ = st;
      return false;
    }
    return true;
  }

  // SIGTERM, wait, SIGKILL. Returns the milliseconds the clean stop took (-1: killed or not running).
  int64_t stop() {
    if (pid_ <= 0) return -1;
    const int64_t t0 = mono_us();
    kill(pid_, SIGTERM);
    while (mono_us() - t0 < STOP_GRACE_MS * US_PER_MS) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        exit_status_ = st;
        forget_();
        return (mono_us() - t0) / US_PER_MS;
      }
      sleep_ms(10);
    }
    fprintf(stderr, "t2m_bench: %s did not stop within %d ms: killing it\n", name_.c_str(), STOP_GRACE_MS);
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
    forget_();
    return -1;
  }

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

 private:
  void forget_() {
    if (slot_ >= 0) g_children[slot_] = 0;
    slot_ = -1;
    pid_ = -1;
  }
  std::string name_;
  pid_t pid_ = -1;
  int slot_ = -1;
  int exit_status_ = 0;
};

// CPU time (user + system) of a process in seconds, from /proc/<pid>/stat fields 14 and 15.
std::optional<double> cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return std::nullopt;
  auto close = s.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(s.substr(close + 2));
  std::string tok;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15 && in >> tok; ++field) {
    if (field == 14) utime = std::stoull(tok);
    if (field == 15) stime = std::stoull(tok);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A /proc/<pid>/status field in kB (VmRSS, VmHWM).
std::optional<long> status_kb(pid_t pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string want = std::string(field) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(want, 0) == 0) return std::atol(line.c_str() + want.size());
  }
  return std::nullopt;
}

// Memory only this process holds (USS: Private_Clean + Private_Dirty of /proc/<pid>/smaps_rollup), in kB.
// RSS also counts the pages of shared libraries (libcrypto, libstdc++, libc: about 12 MB here) that every
// process using them shares; USS is what the machine gets back when the gateway exits.
std::optional<long> private_kb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  long total = 0;
  bool seen = false;
  while (std::getline(f, line)) {
    for (const char* field : {"Private_Clean:", "Private_Dirty:"}) {
      if (line.rfind(field, 0) == 0) {
        total += std::atol(line.c_str() + std::strlen(field));
        seen = true;
      }
    }
  }
  return seen ? std::optional<long>(total) : std::nullopt;
}

// Nanoseconds the main thread of `pid` waited on a run queue (ready but not running), from
// /proc/<pid>/schedstat: on a busy shared machine this says how much of a latency is the machine's.
std::optional<double> runq_wait_s(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/schedstat");
  unsigned long long run = 0, wait = 0;
  if (!(f >> run >> wait)) return std::nullopt;
  return static_cast<double>(wait) / 1e9;
}

// Percent of one core used by each watched process between start() and percent(), and the percent of
// that wall time its main thread spent runnable but waiting for a CPU.
struct CpuWindow {
  struct Entry {
    pid_t pid;
    double cpu0;
    double wait0;
  };
  std::vector<Entry> entries;
  int64_t t0 = 0;
  void start(const std::vector<pid_t>& pids) {
    entries.clear();
    for (pid_t p : pids) entries.push_back({p, cpu_seconds(p).value_or(0), runq_wait_s(p).value_or(0)});
    t0 = mono_us();
  }
  std::vector<double> runq_wait_percent() const {
    const double wall = static_cast<double>(mono_us() - t0) / US_PER_S;
    std::vector<double> out;
    for (const auto& e : entries)
      out.push_back(wall > 0 ? (runq_wait_s(e.pid).value_or(e.wait0) - e.wait0) / wall * 100 : 0);
    return out;
  }
  // Same order as the pids given to start().
  std::vector<double> percent() const {
    const double wall = static_cast<double>(mono_us() - t0) / US_PER_S;
    std::vector<double> out;
    for (const auto& e : entries)
      out.push_back(wall > 0 ? (cpu_seconds(e.pid).value_or(e.cpu0) - e.cpu0) / wall * 100 : 0);
    return out;
  }
};

uint16_t free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    socklen_t len = sizeof a;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

int connect_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// ---- the simulator's control port (JSON lines) ----------------------------------------------------------

class LineSocket {
 public:
  ~LineSocket() { close_(); }
  bool open(uint16_t port) {
    close_();
    fd_ = connect_loopback(port);
    return fd_ >= 0;
  }
  bool send_line(const std::string& s) {
    std::string line = s + "\n";
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // false on timeout, EOF or error.
  bool read_line(std::string& out, int timeout_ms) {
    const int64_t deadline = mono_us() + timeout_ms * US_PER_MS;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        out = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      const int64_t left = (deadline - mono_us()) / US_PER_MS;
      if (left <= 0 || fd_ < 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  void shutdown_() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  void close_() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  int fd_ = -1;
  std::string buf_;
};

class SimControl {
 public:
  bool open(uint16_t port) {
    port_ = port;
    return sock_.open(port);
  }
  json request(const json& req) {
    if (!sock_.send_line(req.dump())) return json{{"ok", false}, {"error", "send"}};
    std::string line;
    while (sock_.read_line(line, CONTROL_TIMEOUT_MS)) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("ok")) return j;
    }
    return json{{"ok", false}, {"error", "timeout"}};
  }
  // A second connection that receives one line per DP write the simulator decodes.
  bool watch(std::function<void(const json&)> on_write) {
    if (!watch_sock_.open(port_) || !watch_sock_.send_line(R"({"cmd":"watch"})")) return false;
    stop_watch_ = false;
    watch_thread_ = std::thread([this, on_write = std::move(on_write)] {
      std::string line;
      while (!stop_watch_) {
        if (!watch_sock_.read_line(line, 200)) continue;
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.value("event", "") == "write") on_write(j);
      }
    });
    return true;
  }
  void stop_watch() {
    stop_watch_ = true;
    if (watch_thread_.joinable()) watch_thread_.join();
  }
  ~SimControl() { stop_watch(); }

 private:
  uint16_t port_ = 0;
  LineSocket sock_;
  LineSocket watch_sock_;
  std::atomic<bool> stop_watch_{false};
  std::thread watch_thread_;
};

// ---- fleet bookkeeping (written by the MQTT callback thread, read by the scenarios) ---------------------

// Index of a generated device from its name "d00042" / its simulator id "bfsim000000000000042".
std::optional<size_t> index_of_digits(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  return v;
}
std::string device_name(size_t i) {
  char b[32];
  snprintf(b, sizeof b, "d%05zu", i);
  return b;
}

// The flat "dps":{...} object of a state payload as (id, raw value text) pairs, without a JSON parser
// (this runs for every message at tens of thousands a second).
void scan_dps(std::string_view payload, std::vector<std::pair<std::string_view, std::string_view>>& out) {
  out.clear();
  auto p = payload.find("\"dps\":{");
  if (p == std::string_view::npos) return;
  size_t i = p + 7;
  const size_t n = payload.size();
  while (i < n && payload[i] != '}') {
    if (payload[i] == ',' || payload[i] == ' ') {
      ++i;
      continue;
    }
    if (payload[i] != '"') return;
    size_t k0 = ++i;
    while (i < n && payload[i] != '"') ++i;
    std::string_view key = payload.substr(k0, i - k0);
    i += 2;  // '"' ':'
    size_t v0 = i;
    int depth = 0;
    bool in_str = false;
    for (; i < n; ++i) {
      char c = payload[i];
      if (in_str) {
        if (c == '\\')
          ++i;
        else if (c == '"')
          in_str = false;
        continue;
      }
      if (c == '"')
        in_str = true;
      else if (c == '{' || c == '[')
        ++depth;
      else if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0)
        break;
    }
    if (i > n) return;
    out.emplace_back(key, payload.substr(v0, i - v0));
  }
}

struct Fleet {
  std::mutex mu;
  std::condition_variable cv;
  std::string base;  // MQTT base topic of the current gateway run
  size_t n = 0;

  // cold start
  std::vector<int64_t> first_state_us;
  std::vector<uint8_t> online;
  size_t with_state = 0;
  size_t online_count = 0;
  int64_t last_first_state_us = 0;
  int64_t last_online_us = 0;

  // every state message
  uint64_t state_msgs = 0;
  uint64_t dp_changes = 0;
  int64_t last_state_us = 0;
  std::vector<std::vector<std::pair<std::string, std::string>>> last_dps;
  std::vector<int8_t> sw;  // DP 1 as last seen: -1 unknown, 0 false, 1 true

  // refresh-all
  bool refresh_on = false;
  std::vector<uint8_t> fresh;
  size_t fresh_count = 0;
  int64_t last_fresh_us = 0;

  // commands
  struct Cmd {
    int64_t pub_us = 0;
    int64_t write_us = 0;
    int64_t state_us = 0;
    int8_t expect = 0;
    bool done = false;
  };
  std::vector<Cmd> cmds;
  std::vector<int64_t> pending;  // per device: index into cmds, -1 = none
  uint64_t results_ok = 0;
  uint64_t results_error = 0;
  std::string last_error;

  void reset(const std::string& base_topic, size_t count) {
    std::lock_guard<std::mutex> g(mu);
    base = base_topic;
    n = count;
    first_state_us.assign(n, 0);
    online.assign(n, 0);
    with_state = online_count = 0;
    last_first_state_us = last_online_us = 0;
    state_msgs = dp_changes = 0;
    last_state_us = 0;
    last_dps.assign(n, {});
    sw.assign(n, -1);
    refresh_on = false;
    fresh.assign(n, 0);
    fresh_count = 0;
    cmds.clear();
    pending.assign(n, -1);
    results_ok = results_error = 0;
  }

  // Paho's thread.
  void on_message(const std::string& topic, const std::string& payload, int64_t t) {
    std::lock_guard<std::mutex> g(mu);
    if (topic.size() <= base.size() + 2 || topic.compare(0, base.size(), base) != 0 ||
        topic[base.size()] != '/' || topic[base.size() + 1] != 'd')
      return;
    std::string_view rest(topic);
    rest.remove_prefix(base.size() + 2);
    auto slash = rest.find('/');
    auto idx = index_of_digits(rest.substr(0, slash));
    if (!idx || *idx >= n) return;
    const size_t i = *idx;
    std::string_view suffix = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (suffix.empty()) {
      on_state_(i, payload, t);
    } else if (suffix == "/availability") {
      const bool on = payload.find("online") != std::string::npos;
      if (on && !online[i]) {
        online[i] = 1;
        ++online_count;
        last_online_us = t;
      } else if (!on && online[i]) {
        online[i] = 0;
        --online_count;
      }
    } else if (suffix == "/set/result") {
      if (payload.find("\"ok\"") != std::string::npos) {
        ++results_ok;
      } else {
        ++results_error;
        last_error = payload;
      }
    }
    cv.notify_all();
  }

 private:
  void on_state_(size_t i, const std::string& payload, int64_t t) {
    ++state_msgs;
    last_state_us = t;
    if (!first_state_us[i]) {
      first_state_us[i] = t;
      ++with_state;
      last_first_state_us = t;
    }
    if (refresh_on && !fresh[i]) {
      fresh[i] = 1;
      ++fresh_count;
      last_fresh_us = t;
    }
    thread_local std::vector<std::pair<std::string_view, std::string_view>> dps;
    scan_dps(payload, dps);
    auto& prev = last_dps[i];
    for (const auto& [k, v] : dps) {
      auto it = std::find_if(prev.begin(), prev.end(), [&](const auto& e) { return e.first == k; });
      if (it == prev.end()) {
        prev.emplace_back(std::string(k), std::string(v));
        ++dp_changes;
      } else if (it->second != v) {
        it->second.assign(v);
        ++dp_changes;
      }
      if (k == "1") sw[i] = v == "true" ? 1 : v == "false" ? 0 : -1;
    }
    if (pending[i] >= 0) {
      Cmd& c = cmds[static_cast<size_t>(pending[i])];
      if (sw[i] == c.expect) {
        c.state_us = t;
        c.done = true;
        pending[i] = -1;
      }
    }
  }
};

// Paho C (1.3 in Debian 12) never sets TCP_NODELAY and has no option for it (eclipse-paho/paho.mqtt.c#530):
// back-to-back small publishes then wait for the broker's delayed ACK (up to 40 ms on Linux). Its socket is
// not exposed, so after connecting set TCP_NODELAY on every TCP socket of this process (the driver's only
// other sockets are the control-port connections, which want it too).
void nodelay_all_tcp_sockets() {
  for (int fd = 3; fd < 1024; ++fd) {
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) continue;
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0 || peer.ss_family != AF_INET)
      continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

// ---- MQTT (Paho C++) ------------------------------------------------------------------------------------

class Mqtt {
 public:
  Mqtt(const std::string& uri, Fleet& fleet)
      : cli_(uri, "t2m-bench-" + std::to_string(getpid()), MAX_QUEUED_PUBLISHES, nullptr), fleet_(fleet) {}
  bool connect() {
    try {
      cli_.set_message_callback([this](::mqtt::const_message_ptr m) {
        const int64_t t = unix_us();
        fleet_.on_message(m->get_topic(), m->get_payload_str(), t);
      });
      ::mqtt::connect_options o;
      o.set_clean_session(true);
      o.set_keep_alive_interval(60);
      o.set_mqtt_version(MQTTVERSION_3_1_1);
      cli_.connect(o)->wait_for(std::chrono::seconds(5));
      if (!cli_.is_connected()) return false;
      nodelay_all_tcp_sockets();
      return true;
    } catch (const std::exception& e) {
      fprintf(stderr, "t2m_bench: MQTT connect: %s\n", e.what());
      return false;
    }
  }
  bool subscribe(const std::string& filter) {
    try {
      return cli_.subscribe(filter, 0)->wait_for(std::chrono::seconds(5));
    } catch (const std::exception& e) {
      fprintf(stderr, "t2m_bench: MQTT subscribe %s: %s\n", filter.c_str(), e.what());
      return false;
    }
  }
  void unsubscribe(const std::string& filter) {
    try {
      cli_.unsubscribe(filter)->wait_for(std::chrono::seconds(5));
    } catch (const std::exception&) {
    }
  }
  bool publish(const std::string& topic, const std::string& payload) {
    try {
      cli_.publish(topic, payload.data(), payload.size(), 0, false);
      return true;
    } catch (const std::exception& e) {
      fprintf(stderr, "t2m_bench: MQTT publish %s: %s\n", topic.c_str(), e.what());
      return false;
    }
  }
  void disconnect() {
    try {
      if (cli_.is_connected()) cli_.disconnect()->wait_for(std::chrono::seconds(3));
    } catch (const std::exception&) {
    }
  }

 private:
  ::mqtt::async_client cli_;
  Fleet& fleet_;
};

// ---- options --------------------------------------------------------------------------------------------

struct Options {
  bool full = false;
  std::vector<std::string> scenarios = {"cold", "refresh", "command", "push", "footprint"};
  std::vector<size_t> cold_sizes;
  size_t load_n = 0;  // fleet size for refresh, command, push
  std::vector<size_t> footprint_sizes;
  double command_rate = 200;
  int command_seconds = 0;
  std::vector<double> push_rates;
  int push_seconds = 0;
  int idle_seconds = 0;
  int refresh_reps = 3;
  std::string bin_dir;
  std::string work_dir;
  std::string json_out;
  bool keep_work = false;
  int max_seconds = 0;
  int nice = 0;  // applied to the driver and inherited by every process it starts
  bool broker_nodelay = true;
  std::string command_line;

  bool has(const std::string& s) const {
    return std::find(scenarios.begin(), scenarios.end(), s) != scenarios.end();
  }
};

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

// ---- the run --------------------------------------------------------------------------------------------

struct Percentiles {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};
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

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}

  int run() {
    if (!prepare_()) return 1;
    int rc = 0;
    try {
      rc = scenarios_();
    } catch (const std::exception& e) {
      fprintf(stderr, "t2m_bench: %s\n", e.what());
      rc = 1;
    }
    stop_gateway_();
    stop_sim_();
    if (mqtt_) mqtt_->disconnect();
    mqtt_.reset();
    broker_.stop();
    report_();
    if (!o_.keep_work && !work_is_user_) {
      std::string cmd = "rm -rf '" + o_.work_dir + "'";
      if (system(cmd.c_str()) != 0) fprintf(stderr, "t2m_bench: could not remove %s\n", o_.work_dir.c_str());
    } else {
      printf("work directory (configs, logs): %s\n", o_.work_dir.c_str());
    }
    return rc;
  }

 private:
  // -- setup ----------------------------------------------------------------------------------------------

  bool prepare_() {
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
        fprintf(
            stderr,
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
    results_["machine"] = machine_();
    results_["command_line"] = o_.command_line;
    results_["mode"] = o_.full ? "full" : "quick";
    results_["broker_tcp_nodelay"] = o_.broker_nodelay;
    print_header_();

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
      sleep_ms(20);
    }
    mqtt_ = std::make_unique<Mqtt>("tcp://127.0.0.1:" + std::to_string(broker_port_), fleet_);
    if (!mqtt_->connect()) return false;
    return true;
  }

  json machine_() {
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
    m["open_files_limit"] = fd_limit_;
    errno = 0;
    m["nice"] = getpriority(PRIO_PROCESS, 0);
    char date[64];
    time_t now = time(nullptr);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    m["date"] = date;
    return m;
  }

  void print_header_() {
    const json& m = results_["machine"];
    printf("tuya2mqtt benchmark (%s)\n", o_.full ? "full" : "quick");
    printf("  command : %s\n", o_.command_line.c_str());
    printf("  machine : %u cores, %s, %s, load average at start %.2f %.2f %.2f\n", m.value("nproc", 0u),
           m.value("cpu", std::string("?")).c_str(), m.value("kernel", std::string("?")).c_str(),
           m["loadavg_at_start"].is_array() ? m["loadavg_at_start"][0].get<double>() : 0.0,
           m["loadavg_at_start"].is_array() ? m["loadavg_at_start"][1].get<double>() : 0.0,
           m["loadavg_at_start"].is_array() ? m["loadavg_at_start"][2].get<double>() : 0.0);
    printf("  date    : %s, nice %d\n\n", m.value("date", std::string("?")).c_str(), m.value("nice", 0));
    fflush(stdout);
  }

  // -- the simulator --------------------------------------------------------------------------------------

  bool start_sim_(size_t n) {
    stop_sim_();
    sim_n_ = n;
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
      sleep_ms(20);
    }
    sim_start_ms_ = static_cast<double>(mono_us() - t0) / US_PER_MS;
    std::ifstream df(dump);
    json d = json::parse(df, nullptr, false);
    if (!d.is_object() || !d["devices"].is_array() || d["devices"].size() != n) return false;
    devices_ = d["devices"];
    if (!control_.open(static_cast<uint16_t>(r.value("control_port", 0)))) return false;
    return control_.request({{"cmd", "ping"}}).value("ok", false);
  }

  void stop_sim_() {
    control_.stop_watch();
    sim_.stop();
  }

  json sim_totals_() {
    json r = control_.request({{"cmd", "stats"}});
    return r.value("totals", json::object());
  }

  // -- the gateway ----------------------------------------------------------------------------------------

  std::string write_gateway_config_(size_t n, const std::string& base) {
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

  // Starts the gateway on the current simulator fleet and waits until every device is online with its
  // first state on MQTT. Returns the cold-start record.
  json start_gateway_(size_t n) {
    stop_gateway_();
    const std::string base = "t2mb" + std::to_string(getpid()) + "_" + std::to_string(run_no_++);
    const std::string cfg = write_gateway_config_(n, base);
    fleet_.reset(base, n);
    mqtt_->subscribe(base + "/+");
    mqtt_->subscribe(base + "/+/availability");
    mqtt_->subscribe(base + "/+/set/result");
    mqtt_->subscribe(base + "/bridge/state");
    base_ = base;
    const int64_t t0 = unix_us();
    if (!gateway_.start("tuya2mqtt", {gateway_bin_, "run", "-c", cfg},
                        o_.work_dir + "/gateway-" + std::to_string(n) + ".log"))
      throw std::runtime_error("cannot start the gateway");
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
      fprintf(
          stderr,
          "t2m_bench: only %zu/%zu devices with state, %zu online after %lld s (see %s/gateway-%zu.log)\n",
          rec["with_state"].get<size_t>(), n, rec["online"].get<size_t>(),
          static_cast<long long>(budget_us / US_PER_S), o_.work_dir.c_str(), n);
    return rec;
  }

  void stop_gateway_() {
    if (gateway_.pid() <= 0) return;
    int64_t ms = gateway_.stop();
    if (!base_.empty()) {
      results_["gateway_stop_ms"].push_back(json{{"n", fleet_.n}, {"ms", ms}});
      for (const char* f : {"/+", "/+/availability", "/+/set/result", "/bridge/state"})
        mqtt_->unsubscribe(base_ + f);
    }
  }

  // -- scenarios ------------------------------------------------------------------------------------------

  int scenarios_() {
    int problems = 0;
    // Fleet sizes in ascending order; each size: simulator, gateway cold start, then what runs at it.
    std::vector<size_t> sizes;
    if (o_.has("cold")) sizes = o_.cold_sizes;
    if (o_.has("refresh") || o_.has("command") || o_.has("push")) sizes.push_back(o_.load_n);
    if (o_.has("footprint")) sizes.insert(sizes.end(), o_.footprint_sizes.begin(), o_.footprint_sizes.end());
    std::sort(sizes.begin(), sizes.end());
    sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());

    for (size_t n : sizes) {
      printf("-- %zu devices --\n", n);
      fflush(stdout);
      if (!start_sim_(n)) {
        fprintf(stderr, "t2m_bench: cannot start the simulator with %zu devices\n", n);
        ++problems;
        continue;
      }
      if (n > 0) printf("  simulator ready in %.0f ms\n", sim_start_ms_);
      json cold = start_gateway_(n);
      cold["sim_ready_ms"] = sim_start_ms_;
      if (!cold.value("complete", false)) ++problems;
      const bool is_cold = std::find(o_.cold_sizes.begin(), o_.cold_sizes.end(), n) != o_.cold_sizes.end();
      if (n > 0 && o_.has("cold") && is_cold) {
        results_["cold_start"].push_back(cold);
        printf("  cold start: %zu/%zu with state in %.0f ms (%.3f ms/device), all online %.0f ms\n",
               cold.value("with_state", size_t{0}), n, cold.value("all_state_ms", 0.0),
               cold.value("ms_per_device", 0.0), cold.value("all_online_ms", 0.0));
        fflush(stdout);
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

  void refresh_(size_t n) {
    json runs = json::array();
    std::vector<std::string> topics;
    for (size_t i = 0; i < n; ++i) topics.push_back(base_ + "/" + device_name(i) + "/get");
    CpuWindow cpu;
    cpu.start({gateway_.pid(), sim_.pid(), broker_.pid()});
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
      fleet_.cv.wait_for(lk, std::chrono::seconds(30), [&] { return fleet_.fresh_count >= n; });
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
      sleep_ms(300);
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
    printf("  refresh-all (%d x %zu /get): best %.1f ms (%.4f ms/device), median %.4f ms/device\n",
           o_.refresh_reps, n, best, best / static_cast<double>(n), per[per.size() / 2]);
    fflush(stdout);
  }

  void command_(size_t n) {
    const size_t total = static_cast<size_t>(o_.command_rate * o_.command_seconds);
    const int64_t interval_us = static_cast<int64_t>(US_PER_S / o_.command_rate);
    {
      std::lock_guard<std::mutex> g(fleet_.mu);
      fleet_.cmds.assign(total, {});
      fleet_.pending.assign(n, -1);
      fleet_.results_ok = fleet_.results_error = 0;
    }
    // DP writes as the simulator decodes them, stamped with its wall clock.
    control_.watch([this](const json& ev) {
      auto id = ev.value("device", std::string());
      if (id.size() < 6) return;
      auto idx = index_of_digits(std::string_view(id).substr(5));
      if (!idx) return;
      std::lock_guard<std::mutex> g(fleet_.mu);
      if (*idx >= fleet_.pending.size() || fleet_.pending[*idx] < 0) return;
      auto& c = fleet_.cmds[static_cast<size_t>(fleet_.pending[*idx])];
      if (!c.write_us) c.write_us = ev.value("unix_us", int64_t{0});
    });
    sleep_ms(200);
    const json sim_before = sim_totals_();
    CpuWindow cpu;
    cpu.start({gateway_.pid(), sim_.pid(), broker_.pid()});
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
      fleet_.cv.wait_for(lk, std::chrono::seconds(5), [&] {
        return std::all_of(fleet_.pending.begin(), fleet_.pending.end(), [](int64_t p) { return p < 0; });
      });
    }
    auto pct = cpu.percent();
    auto waits = cpu.runq_wait_percent();
    control_.stop_watch();
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
    json rec{
        {"n", n},
        {"rate_per_s", static_cast<double>(sent) / send_s},
        {"sent", sent},
        {"completed", rtt.size()},
        {"not_completed", lost},
        {"skipped_busy", skipped},
        {"reconnects",
         sim_totals_().value("accepted", uint64_t{0}) - sim_before.value("accepted", uint64_t{0})},
        {"set_result_ok", fleet_.results_ok},
        {"set_result_error", fleet_.results_error},
        {"round_trip", to_json(p)},
        {"mqtt_to_device", to_json(percentiles(to_device))},
        {"device_to_mqtt", to_json(percentiles(back))},
        {"cpu_percent", {{"gateway", pct[0]}, {"simulator", pct[1]}, {"mosquitto", pct[2]}}},
        {"runq_wait_percent", {{"gateway", waits[0]}, {"simulator", waits[1]}, {"mosquitto", waits[2]}}}};
    if (fleet_.results_error) rec["last_error"] = fleet_.last_error;
    results_["command_round_trip"] = rec;
    printf(
        "  command round trip (%zu at %.0f/s over %zu devices): p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
        "not completed %zu; to device p50 %.3f ms; CPU gateway %.1f%% sim %.1f%% broker %.1f%%\n",
        sent, rec["rate_per_s"].get<double>(), n, p.p50, p.p99, p.max, lost, percentiles(to_device).p50,
        pct[0], pct[1], pct[2]);
    fflush(stdout);
  }

  void push_(size_t n) {
    json steps = json::array();
    double best_rate = 0, best_dp_rate = 0, best_cpu = 0;
    for (double rate : o_.push_rates) {
      const uint32_t interval = static_cast<uint32_t>(std::max(1.0, static_cast<double>(n) * 1000.0 / rate));
      const double offered = static_cast<double>(n) * 1000.0 / interval;
      json before = sim_totals_();
      uint64_t msgs0, dps0;
      {
        std::lock_guard<std::mutex> g(fleet_.mu);
        msgs0 = fleet_.state_msgs;
        dps0 = fleet_.dp_changes;
      }
      CpuWindow cpu;
      cpu.start({gateway_.pid(), sim_.pid(), broker_.pid()});
      const int64_t t0 = mono_us();
      control_.request({{"cmd", "push_rate"}, {"interval_ms", interval}});
      sleep_ms(o_.push_seconds * 1000);
      uint64_t msgs_mid;
      {
        std::lock_guard<std::mutex> g(fleet_.mu);
        msgs_mid = fleet_.state_msgs;
      }
      control_.request({{"cmd", "push_rate"}, {"interval_ms", 0}});
      const double active_s = static_cast<double>(mono_us() - t0) / US_PER_S;
      auto pct = cpu.percent();  // CPU while the load runs
      auto waits = cpu.runq_wait_percent();
      json after = sim_totals_();
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
        sleep_ms(20);
      }
      const double drain_ms = static_cast<double>(mono_us() - d0) / US_PER_MS;
      const int64_t lost = static_cast<int64_t>(expected) - static_cast<int64_t>(got);
      // A report in flight when a link drops (e.g. a heartbeat the starved gateway answered too late) is
      // lost.
      const uint64_t reconnects =
          after.value("accepted", uint64_t{0}) - before.value("accepted", uint64_t{0});
      json s{
          {"interval_ms", interval},
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
      printf(
          "  push %6.0f reports/s offered: sent %.0f/s, received %llu/%llu (lost %lld, reconnects %llu), "
          "%.0f DP "
          "changes/s, drain %.0f ms; CPU gateway %.1f%% sim %.1f%% broker %.1f%%\n",
          offered, static_cast<double>(expected) / active_s, static_cast<unsigned long long>(got),
          static_cast<unsigned long long>(expected), static_cast<long long>(lost),
          static_cast<unsigned long long>(reconnects), static_cast<double>(dps) / active_s, drain_ms, pct[0],
          pct[1], pct[2]);
      fflush(stdout);
      // Sustained = everything arrived and the drain after the load was short (no backlog building up).
      const bool sustained = lost <= 0 && drain_ms < 1000;
      if (sustained && static_cast<double>(dps) / active_s > best_dp_rate) {
        best_dp_rate = static_cast<double>(dps) / active_s;
        best_rate = static_cast<double>(expected) / active_s;
        best_cpu = pct[0];
      }
      sleep_ms(1000);
      if (!sustained) break;
    }
    results_["push"] = json{{"n", n},
                            {"steps", steps},
                            {"max_sustained_reports_per_s", best_rate},
                            {"max_sustained_dp_changes_per_s", best_dp_rate},
                            {"gateway_cpu_percent_at_max", best_cpu}};
  }

  void footprint_(size_t n) {
    const pid_t pid = gateway_.pid();
    CpuWindow cpu;
    cpu.start({pid, sim_.pid() > 0 ? sim_.pid() : pid, broker_.pid()});
    sleep_ms(o_.idle_seconds * 1000);
    auto pct = cpu.percent();
    auto waits = cpu.runq_wait_percent();
    json sim_stats = n > 0 ? sim_totals_() : json::object();
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
      rec["simulator_rss_kb"] = status_kb(sim_.pid(), "VmRSS").value_or(-1);
      rec["heartbeats_total"] = sim_stats.value("heartbeats", uint64_t{0});
    }
    results_["footprint"].push_back(rec);
    printf(
        "  footprint: gateway RSS %ld kB (anon %ld, file %ld; private %ld; peak %ld kB), idle CPU over %d s: "
        "gateway %.2f%% sim %.2f%% broker %.2f%%\n",
        rec["rss_kb"].get<long>(), rec["rss_anon_kb"].get<long>(), rec["rss_file_kb"].get<long>(),
        rec["private_kb"].get<long>(), rec["peak_rss_kb"].get<long>(), o_.idle_seconds, pct[0],
        n > 0 ? pct[1] : 0.0, pct[2]);
    fflush(stdout);
  }

  // -- report ---------------------------------------------------------------------------------------------

  void report_() {
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
    for (const auto& c : results_.value("cold_start", json::array()))
      if (c["n"] == 1000 && c.value("complete", false)) cold1000 = c["all_state_ms"].get<double>() / 1000;
    target("cold start, 1,000 devices", "< 3 s", cold1000, "s", cold1000 && *cold1000 < 3);
    std::optional<double> refresh;
    if (results_.contains("refresh_all") && results_["refresh_all"]["n"] == 1000)
      refresh = results_["refresh_all"]["best_ms_per_device"].get<double>();
    target("refresh-all per device, N = 1,000", "< 0.04 ms", refresh, "ms", refresh && *refresh < 0.04);
    std::optional<double> p50, p99;
    if (results_.contains("command_round_trip")) {
      p50 = results_["command_round_trip"]["round_trip"]["p50_ms"].get<double>();
      p99 = results_["command_round_trip"]["round_trip"]["p99_ms"].get<double>();
    }
    target("command round trip p50 at 200/s", "< 1 ms", p50, "ms", p50 && *p50 < 1);
    target("command round trip p99 at 200/s", "< 3 ms", p99, "ms", p99 && *p99 < 3);
    std::optional<double> push;
    if (results_.contains("push")) push = results_["push"]["max_sustained_dp_changes_per_s"].get<double>();
    target("DP changes/s carried with no loss", ">= 20,000", push, "1/s", push && *push >= 20000);
    std::optional<double> rss0;
    for (const auto& f : results_.value("footprint", json::array()))
      if (f["n"] == 0) rss0 = f["rss_kb"].get<double>();
    for (const auto& f : results_.value("footprint", json::array())) {
      size_t n = f["n"].get<size_t>();
      double rss = f["rss_kb"].get<double>();
      const double budget = 10 * 1024 + 10.0 * static_cast<double>(n);
      target("gateway RSS, N = " + std::to_string(n), "< 10 MB + 10 kB/device = " + fmt("%.0f kB", budget),
             rss, "kB", rss < budget);
      const double own = f.value("private_kb", -1.0);
      if (own >= 0)
        target("gateway private memory (USS), N = " + std::to_string(n),
               "< 10 MB + 10 kB/device = " + fmt("%.0f kB", budget), own, "kB", own < budget);
      if (n == 5000) {
        double c = f["gateway_cpu_percent"].get<double>();
        target("idle CPU, 5,000 devices heartbeating", "< 5% of a core", c, "%", c < 5);
      }
    }
    results_["targets"] = targets;
    double load[3] = {};
    if (getloadavg(load, 3) == 3) results_["loadavg_at_end"] = {load[0], load[1], load[2]};
    std::ofstream out(o_.json_out);
    out << results_.dump(2) << "\n";
    print_table_();
  }

  static std::string load_text_(const json& l) {
    if (!l.is_array() || l.size() != 3) return "?";
    char b[64];
    snprintf(b, sizeof b, "%.2f %.2f %.2f", l[0].get<double>(), l[1].get<double>(), l[2].get<double>());
    return b;
  }

  void print_table_() {
    const json& r = results_;
    printf("\n==================== tuya2mqtt benchmark results (%s) ====================\n",
           o_.full ? "full" : "quick");
    printf("%s\n", o_.command_line.c_str());
    const json& m = r["machine"];
    printf("machine: %u cores, %s, %s; nice %d; load average at start %s, at end %s\n", m.value("nproc", 0u),
           m.value("cpu", std::string("?")).c_str(), m.value("kernel", std::string("?")).c_str(),
           m.value("nice", 0), load_text_(m["loadavg_at_start"]).c_str(),
           load_text_(r["loadavg_at_end"]).c_str());
    printf(
        "mosquitto: set_tcp_nodelay %s, no queue limits; gateway: discovery off, HA discovery off, polling "
        "off\n\n",
        r.value("broker_tcp_nodelay", true) ? "true" : "false (default)");
    if (r.contains("cold_start")) {
      printf("1. cold start (spawn -> every device online with its first state on MQTT; mix 3.3/3.4/3.5)\n");
      printf("   %8s %12s %12s %14s %10s\n", "devices", "all state", "all online", "per device", "complete");
      for (const auto& c : r["cold_start"])
        printf("   %8zu %9.0f ms %9.0f ms %11.3f ms %10s\n", c["n"].get<size_t>(),
               c.value("all_state_ms", 0.0), c.value("all_online_ms", 0.0), c.value("ms_per_device", 0.0),
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
          c["runq_wait_percent"]["simulator"].get<double>(),
          c["runq_wait_percent"]["mosquitto"].get<double>());
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
             p["max_sustained_reports_per_s"].get<double>(),
             p["max_sustained_dp_changes_per_s"].get<double>(),
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
    printf("\nJSON: %s\n", o_.json_out.c_str());
    fflush(stdout);
  }

  Options o_;
  bool work_is_user_ = false;
  long fd_limit_ = 0;
  std::string gateway_bin_, sim_bin_, broker_bin_;
  uint16_t broker_port_ = 0;
  Process broker_, sim_, gateway_;
  std::unique_ptr<Mqtt> mqtt_;
  Fleet fleet_;
  SimControl control_;
  json devices_ = json::array();
  size_t sim_n_ = 0;
  double sim_start_ms_ = 0;
  std::string base_;
  int run_no_ = 0;
  json results_ = json::object();
};

}  // namespace
}  // namespace t2m::bench

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

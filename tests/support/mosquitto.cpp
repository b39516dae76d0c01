#include "tests/support/mosquitto.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/uv_handle.h"

extern char** environ;

namespace t2m::test {
namespace {

constexpr int POLL_STEP_MS = 20;
constexpr int LOOP_WAKE_MS = 5;
constexpr int CONNECT_PROBE_MS = 200;
// A sanity cap on $T2M_TEST_TIME_SCALE: beyond this a hung test would look like a slow one for hours.
constexpr double MAX_TIME_SCALE = 100.0;

using Clock = std::chrono::steady_clock;

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool try_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  auto a = loopback(port);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  bool ok = rc == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, CONNECT_PROBE_MS) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      ok = err == 0;
    }
  }
  ::close(fd);
  return ok;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_file) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  std::string out = log_file.empty() ? std::string("/dev/null") : log_file;
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// mosquitto_passwd only exists on some systems' PATH; the broker package ships it with mosquitto.
bool make_password_file(const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& users,
                        const std::string& log) {
  write_file(path, "");
  for (const auto& [user, pass] : users)
    if (run_command({"mosquitto_passwd", "-b", path, user, pass}, log) != 0) return false;
  return true;
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data())) path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  auto a = loopback(0);
  uint16_t port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool wait_for_port(uint16_t port, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (try_connect(port)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(POLL_STEP_MS));
  }
}

int run_command(const std::vector<std::string>& argv, const std::string& log_file) {
  if (argv.empty()) return -1;
  pid_t pid = spawn(argv, log_file);
  if (pid <= 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::optional<TestPki> make_test_pki(const std::string& dir, std::string* error) {
  TestPki p;
  p.dir = dir;
  p.ca_cert = dir + "/ca.crt";
  p.ca_key = dir + "/ca.key";
  p.server_cert = dir + "/server.crt";
  p.server_key = dir + "/server.key";
  p.client_cert = dir + "/client.crt";
  p.client_key = dir + "/client.key";
  p.client_key_encrypted = dir + "/client-enc.key";
  p.other_ca_cert = dir + "/other-ca.crt";
  const std::string log = dir + "/openssl.log";
  const std::string days = "30";
  write_file(dir + "/server.ext",
             "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
             "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n");
  write_file(dir + "/client.ext",
             "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n");
  auto ec_key = [&](const std::string& out) {
    return std::vector<std::string>{
        "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out};
  };
  auto ca = [&](const std::string& key, const std::string& cert, const std::string& cn) {
    return std::vector<std::string>{"openssl", "req", "-x509", "-new",      "-key", key, "-sha256",
                                    "-days",   days,  "-subj", "/CN=" + cn, "-out", cert};
  };
  auto csr = [&](const std::string& key, const std::string& out, const std::string& cn) {
    return std::vector<std::string>{"openssl", "req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", out};
  };
  auto sign = [&](const std::string& in, const std::string& ext, const std::string& out) {
    return std::vector<std::string>{
        "openssl",         "x509",  "-req", "-in",     in,         "-CA", p.ca_cert, "-CAkey", p.ca_key,
        "-CAcreateserial", "-days", days,   "-sha256", "-extfile", ext,   "-out",    out};
  };
  const std::vector<std::vector<std::string>> steps = {
      ec_key(p.ca_key),
      ca(p.ca_key, p.ca_cert, "t2m test CA"),
      ec_key(p.server_key),
      csr(p.server_key, dir + "/server.csr", "127.0.0.1"),
      sign(dir + "/server.csr", dir + "/server.ext", p.server_cert),
      ec_key(p.client_key),
      csr(p.client_key, dir + "/client.csr", "t2m-client"),
      sign(dir + "/client.csr", dir + "/client.ext", p.client_cert),
      {"openssl", "pkey", "-in", p.client_key, "-aes256", "-passout", "pass:" + p.key_password, "-out",
       p.client_key_encrypted},
      ec_key(dir + "/other-ca.key"),
      ca(dir + "/other-ca.key", p.other_ca_cert, "t2m other CA"),
  };
  for (const auto& step : steps) {
    if (run_command(step, log) != 0) {
      if (error) *error = "openssl failed: " + step[1] + "\n" + read_file(log);
      return std::nullopt;
    }
  }
  return p;
}

MosquittoBroker::MosquittoBroker(BrokerOptions options) : options_(std::move(options)) {
  port_ = options_.port ? options_.port : free_port();
  if (options_.tls) tls_port_ = free_port();
  write_config_();
  start();
}

MosquittoBroker::~MosquittoBroker() {
  stop();
}

void MosquittoBroker::write_config_() {
  std::ostringstream c;
  // Running as root, mosquitto would drop to user "mosquitto", which cannot read our 0700 temp dir.
  if (::geteuid() == 0) {
    if (const passwd* pw = ::getpwuid(0)) c << "user " << pw->pw_name << "\n";
  }
  c << "persistence false\n";
  c << "log_dest stderr\n";
  c << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
  c << "connection_messages true\n";
  if (options_.users.empty()) {
    c << "allow_anonymous true\n";
  } else {
    std::string pwfile = dir_.file("passwd");
    make_password_file(pwfile, options_.users, dir_.file("mosquitto_passwd.log"));
    c << "allow_anonymous false\n";
    c << "password_file " << pwfile << "\n";
  }
  if (options_.tcp) c << "listener " << port_ << " 127.0.0.1\n";
  if (options_.tls) {
    const auto& p = *options_.tls;
    c << "listener " << tls_port_ << " 127.0.0.1\n";
    c << "cafile " << p.ca_cert << "\n";
    c << "certfile " << p.server_cert << "\n";
    c << "keyfile " << p.server_key << "\n";
    if (options_.require_client_cert) c << "require_certificate true\n";
  }
  write_file(dir_.file("mosquitto.conf"), c.str());
}

bool MosquittoBroker::start() {
  if (pid_ > 0) return true;
  pid_ = spawn({"mosquitto", "-c", dir_.file("mosquitto.conf")}, dir_.file("mosquitto.log"));
  if (pid_ <= 0) {
    pid_ = -1;
    return false;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(START_TIMEOUT_MS);
  auto remaining = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  bool ok = true;
  if (options_.tcp) ok = wait_for_port(port_, remaining());
  if (ok && options_.tls) ok = wait_for_port(tls_port_, remaining());
  if (!ok) {
    kill();
    return false;
  }
  return true;
}

void MosquittoBroker::reap_(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) {
      pid_ = -1;
      return;
    }
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void MosquittoBroker::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  reap_(STOP_TIMEOUT_MS);
}

void MosquittoBroker::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  reap_(STOP_TIMEOUT_MS);
}

void MosquittoBroker::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void MosquittoBroker::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string MosquittoBroker::log() const {
  return read_file(dir_.file("mosquitto.log"));
}

struct TcpProxy::State {
  int listen_fd = -1;
  int wake[2] = {-1, -1};  // pipe: wakes the relay thread for cut()/stop
  uint16_t target = 0;
  std::mutex mu;
  std::vector<std::pair<int, int>> pairs;  // client fd, broker fd
  bool refusing = false;
  bool cut_requested = false;
  bool stop = false;
  std::thread thread;

  static void reset_close(int fd) {
    linger l{1, 0};  // RST instead of FIN: an abrupt death
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }

  void run() {
    char buf[16384];
    while (true) {
      std::vector<pollfd> fds;
      fds.push_back({wake[0], POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      std::vector<std::pair<int, int>> snapshot;
      {
        std::lock_guard lock(mu);
        if (stop) break;
        if (cut_requested) {
          for (auto [a, b] : pairs) {
            reset_close(a);
            reset_close(b);
          }
          pairs.clear();
          cut_requested = false;
        }
        snapshot = pairs;
      }
      for (auto [a, b] : snapshot) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[0].revents) {
        char c;
        while (::read(wake[0], &c, 1) == 1) {
        }
      }
      if (fds[1].revents & POLLIN) {
        int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) {
          std::lock_guard lock(mu);
          int upstream = refusing ? -1 : ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          auto a = loopback(target);
          if (upstream >= 0 && ::connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
            pairs.emplace_back(client, upstream);
          } else {
            if (upstream >= 0) ::close(upstream);
            reset_close(client);
          }
        }
      }
      std::vector<std::pair<int, int>> dead;
      for (size_t i = 0; i < snapshot.size(); ++i) {
        auto [a, b] = snapshot[i];
        for (int dir = 0; dir < 2; ++dir) {
          const pollfd& p = fds[2 + 2 * i + static_cast<size_t>(dir)];
          if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
          int from = dir == 0 ? a : b, to = dir == 0 ? b : a;
          ssize_t n = ::read(from, buf, sizeof buf);
          if (n <= 0 || ::send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
            dead.emplace_back(a, b);
            break;
          }
        }
      }
      if (!dead.empty()) {
        std::lock_guard lock(mu);
        for (auto d : dead) {
          auto it = std::find(pairs.begin(), pairs.end(), d);
          if (it != pairs.end()) {
            ::close(d.first);
            ::close(d.second);
            pairs.erase(it);
          }
        }
      }
    }
    std::lock_guard lock(mu);
    for (auto [a, b] : pairs) {
      ::close(a);
      ::close(b);
    }
    pairs.clear();
  }

  void poke() {
    char c = 1;
    (void)!::write(wake[1], &c, 1);
  }
};

TcpProxy::TcpProxy(uint16_t target_port) : state_(std::make_unique<State>()) {
  state_->target = target_port;
  state_->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto a = loopback(0);
  socklen_t len = sizeof a;
  if (state_->listen_fd < 0 || ::bind(state_->listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(state_->listen_fd, 16) != 0 ||
      ::getsockname(state_->listen_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return;
  port_ = ntohs(a.sin_port);
  if (::pipe2(state_->wake, O_CLOEXEC | O_NONBLOCK) != 0) return;
  state_->thread = std::thread([s = state_.get()] { s->run(); });
}

TcpProxy::~TcpProxy() {
  if (state_->thread.joinable()) {
    {
      std::lock_guard lock(state_->mu);
      state_->stop = true;
    }
    state_->poke();
    state_->thread.join();
  }
  for (int fd : {state_->listen_fd, state_->wake[0], state_->wake[1]})
    if (fd >= 0) ::close(fd);
}

void TcpProxy::cut() {
  {
    std::lock_guard lock(state_->mu);
    state_->cut_requested = true;
  }
  state_->poke();
}

void TcpProxy::set_refusing(bool refusing) {
  std::lock_guard lock(state_->mu);
  state_->refusing = refusing;
}

size_t TcpProxy::connections() const {
  std::lock_guard lock(state_->mu);
  return state_->pairs.size();
}

MqttSpy::MqttSpy(uint16_t port, const std::string& filter, const std::vector<std::string>& extra) {
  // mosquitto_sub's stdout is a file, so fully buffered: its debug lines (SUBACK) may never show up.
  // Readiness is proven instead by a sentinel message on a private topic reaching the output (each
  // received message is flushed).
  static int counter = 0;
  sentinel_ = "t2m-spy/" + std::to_string(::getpid()) + "/" + std::to_string(++counter);
  std::vector<std::string> argv = {
      "mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port), "-t", filter, "-t",
      sentinel_,       "-q", "1",         "-F", "MSG %r %t %p"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  pid_ = spawn(argv, dir_.file("sub.out"));
  if (pid_ <= 0) {
    pid_ = -1;
    return;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(READY_TIMEOUT_MS);
  while (Clock::now() < deadline) {
    (void)mqtt_publish(port, sentinel_, "ready");
    for (int i = 0; i < 5; ++i) {
      if (output().find(" " + sentinel_ + " ") != std::string::npos) {
        ready_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(POLL_STEP_MS / 4));
    }
  }
}

MqttSpy::~MqttSpy() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

std::vector<MqttSpy::Msg> MqttSpy::messages() const {
  std::vector<Msg> out;
  std::istringstream in(output());
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MSG ", 0) != 0) continue;
    // "MSG <retained> <topic> <payload...>"; our test topics have no spaces.
    size_t a = 4, b = line.find(' ', a);
    if (b == std::string::npos) continue;
    size_t c = line.find(' ', b + 1);
    Msg m;
    m.retained = line.substr(a, b - a) == "1";
    m.topic = line.substr(b + 1, c == std::string::npos ? std::string::npos : c - b - 1);
    if (c != std::string::npos) m.payload = line.substr(c + 1);
    if (m.topic != sentinel_) out.push_back(std::move(m));
  }
  return out;
}

size_t MqttSpy::count(const std::string& topic) const {
  size_t n = 0;
  for (const auto& m : messages()) n += m.topic == topic;
  return n;
}

std::optional<MqttSpy::Msg> MqttSpy::last(const std::string& topic) const {
  std::optional<Msg> out;
  for (auto& m : messages())
    if (m.topic == topic) out = m;
  return out;
}

bool mqtt_publish(uint16_t port, const std::string& topic, const std::string& payload, bool retain) {
  std::vector<std::string> argv = {
      "mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(port), "-q", "1", "-t", topic, "-m", payload};
  if (retain) argv.push_back("-r");
  return run_command(argv) == 0;
}

double time_scale() {
  static const double scale = [] {
    const char* v = std::getenv("T2M_TEST_TIME_SCALE");
    if (!v || !*v) return 1.0;
    char* end = nullptr;
    double s = std::strtod(v, &end);
    // Garbage or a factor that would shorten the bounds: ignored, tests keep their own timing.
    return end && *end == '\0' && s >= 1.0 && s <= MAX_TIME_SCALE ? s : 1.0;
  }();
  return scale;
}

int scaled_ms(int ms) {
  return static_cast<int>(std::ceil(ms * time_scale()));
}

bool run_loop_until(uv_loop_t* loop, const std::function<bool()>& done, int timeout_ms) {
  UvHandle<uv_timer_t> wake;
  wake.init([&](uv_timer_t* t) { return uv_timer_init(loop, t); });
  uv_timer_start(
      wake.get(), [](uv_timer_t*) {}, LOOP_WAKE_MS, LOOP_WAKE_MS);
  auto deadline = Clock::now() + std::chrono::milliseconds(scaled_ms(timeout_ms));
  while (!done() && Clock::now() < deadline) uv_run(loop, UV_RUN_ONCE);
  uv_timer_stop(wake.get());
  return done();
}

bool run_loop_until_idle(uv_loop_t* loop, int timeout_ms) {
  // The wake-up timer is unreferenced: it bounds the wait without keeping the loop alive itself.
  UvHandle<uv_timer_t> wake;
  wake.init([&](uv_timer_t* t) { return uv_timer_init(loop, t); });
  uv_timer_start(
      wake.get(), [](uv_timer_t*) {}, LOOP_WAKE_MS, LOOP_WAKE_MS);
  uv_unref(wake.handle());
  auto deadline = Clock::now() + std::chrono::milliseconds(scaled_ms(timeout_ms));
  while (uv_loop_alive(loop) && Clock::now() < deadline) uv_run(loop, UV_RUN_ONCE);
  uv_timer_stop(wake.get());
  return !uv_loop_alive(loop);
}

void run_loop_for(uv_loop_t* loop, int ms) {
  // A duration, not a bound: not scaled (the predicate ends it on time whatever run_loop_until allows).
  auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  run_loop_until(
      loop, [&] { return Clock::now() >= deadline; }, ms + LOOP_WAKE_MS);
}

}  // namespace t2m::test

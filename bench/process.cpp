#include "bench/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bench/clock.h"

namespace t2m::bench {

namespace {

constexpr int STOP_GRACE_MS = 8000;  // SIGTERM, then SIGKILL after this long
constexpr size_t MAX_CHILDREN = 16;

// Children, for the signal/alarm handler (async-signal-safe: a fixed array of pids).
volatile sig_atomic_t g_children[MAX_CHILDREN] = {};

}  // namespace

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

bool Process::start(const std::string& name, const std::vector<std::string>& argv,
                    const std::string& log_path) {
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

bool Process::running() {
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

int64_t Process::stop() {
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

void Process::forget_() {
  if (slot_ >= 0) g_children[slot_] = 0;
  slot_ = -1;
  pid_ = -1;
}

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

std::optional<long> status_kb(pid_t pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string want = std::string(field) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(want, 0) == 0) return std::atol(line.c_str() + want.size());
  }
  return std::nullopt;
}

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

std::optional<double> runq_wait_s(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/schedstat");
  unsigned long long run = 0, wait = 0;
  if (!(f >> run >> wait)) return std::nullopt;
  return static_cast<double>(wait) / 1e9;
}

void CpuWindow::start(const std::vector<pid_t>& pids) {
  entries.clear();
  for (pid_t p : pids) entries.push_back({p, cpu_seconds(p).value_or(0), runq_wait_s(p).value_or(0)});
  t0 = mono_us();
}

std::vector<double> CpuWindow::runq_wait_percent() const {
  const double wall = static_cast<double>(mono_us() - t0) / US_PER_S;
  std::vector<double> out;
  for (const auto& e : entries)
    out.push_back(wall > 0 ? (runq_wait_s(e.pid).value_or(e.wait0) - e.wait0) / wall * 100 : 0);
  return out;
}

std::vector<double> CpuWindow::percent() const {
  const double wall = static_cast<double>(mono_us() - t0) / US_PER_S;
  std::vector<double> out;
  for (const auto& e : entries)
    out.push_back(wall > 0 ? (cpu_seconds(e.pid).value_or(e.cpu0) - e.cpu0) / wall * 100 : 0);
  return out;
}

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

}  // namespace t2m::bench

// Process control for the benchmark: the child processes it starts (mosquitto, tuya2mqtt-sim, tuya2mqtt),
// stopped on every exit path, and what it measures of them from /proc (CPU, run-queue waits, RSS, USS);
// loopback ports and connections.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace t2m::bench {

// For SIGINT, SIGTERM and SIGALRM (the time budget): kills every child still running and exits.
// Async-signal-safe.
void kill_children_from_handler(int sig);

class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() { stop(); }

  // fork + exec with stdout and stderr to `log_path`; the child dies with the driver (PR_SET_PDEATHSIG).
  bool start(const std::string& name, const std::vector<std::string>& argv, const std::string& log_path);
  bool running();
  // SIGTERM, wait, SIGKILL. Returns the milliseconds the clean stop took (-1: killed or not running).
  int64_t stop();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

 private:
  void forget_();
  std::string name_;
  pid_t pid_ = -1;
  int slot_ = -1;
  int exit_status_ = 0;
};

// CPU time (user + system) of a process in seconds, from /proc/<pid>/stat fields 14 and 15.
std::optional<double> cpu_seconds(pid_t pid);
// A /proc/<pid>/status field in kB (VmRSS, VmHWM).
std::optional<long> status_kb(pid_t pid, const char* field);
// Memory only this process holds (USS: Private_Clean + Private_Dirty of /proc/<pid>/smaps_rollup), in kB.
// RSS also counts the pages of shared libraries (libcrypto, libstdc++, libc: about 12 MB here) that every
// process using them shares; USS is what the machine gets back when the gateway exits.
std::optional<long> private_kb(pid_t pid);
// Nanoseconds the main thread of `pid` waited on a run queue (ready but not running), from
// /proc/<pid>/schedstat: on a busy shared machine this says how much of a latency is the machine's.
std::optional<double> runq_wait_s(pid_t pid);

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
  void start(const std::vector<pid_t>& pids);
  std::vector<double> runq_wait_percent() const;
  // Same order as the pids given to start().
  std::vector<double> percent() const;
};

uint16_t free_loopback_port();
// A TCP connection to 127.0.0.1:port with TCP_NODELAY, or -1.
int connect_loopback(uint16_t port);

}  // namespace t2m::bench

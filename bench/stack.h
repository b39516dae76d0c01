// The processes under test and what they need: the build's binaries, the work directory (configs and
// logs), the open-files limit and the nice value, mosquitto on a free loopback port, the simulator (with
// its control port) and the gateway. Every process started here is stopped when the Stack goes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/clients.h"
#include "bench/options.h"
#include "bench/process.h"

namespace t2m::bench {

class Stack {
 public:
  // Fills in o.bin_dir, o.work_dir and o.json_out when they were not given (prepare()).
  explicit Stack(Options& o) : o_(o) {}

  // Finds the binaries, makes the work directory, raises the open-files limit, applies --nice. false
  // (said on stderr) when the run cannot go on.
  bool prepare();
  long fd_limit() const { return fd_limit_; }
  // Removes the work directory unless the user named it or asked to keep it; false when it stays.
  bool remove_work_dir();

  // mosquitto on a free loopback port, waited for until it accepts connections.
  bool start_broker();
  void stop_broker() { broker_.stop(); }
  uint16_t broker_port() const { return broker_port_; }

  // A fresh simulator with `n` generated devices (none for 0), its control port open and answering.
  bool start_sim(size_t n);
  void stop_sim();
  double sim_start_ms() const { return sim_start_ms_; }
  SimControl& control() { return control_; }
  // The simulator's counters summed over its devices ("stats" on the control port).
  nlohmann::json sim_totals();

  // A gateway config for the first `n` simulated devices under `base`; returns its path.
  std::string write_gateway_config(size_t n, const std::string& base);
  // Throws when the gateway cannot be spawned.
  void start_gateway(size_t n, const std::string& config_path);
  // nullopt when no gateway runs; otherwise what Process::stop() returned.
  std::optional<int64_t> stop_gateway();

  pid_t gateway_pid() const { return gateway_.pid(); }
  pid_t sim_pid() const { return sim_.pid(); }
  pid_t broker_pid() const { return broker_.pid(); }

 private:
  Options& o_;
  bool work_is_user_ = false;
  long fd_limit_ = 0;
  std::string gateway_bin_, sim_bin_, broker_bin_;
  uint16_t broker_port_ = 0;
  Process broker_, sim_, gateway_;
  SimControl control_;
  nlohmann::json devices_ = nlohmann::json::array();
  double sim_start_ms_ = 0;
};

}  // namespace t2m::bench

// The scenarios, for each fleet size in ascending order: a fresh simulator, a fresh gateway (the cold
// start), then what runs at that size (refresh-all, command round trip, push throughput, footprint). Each
// scenario keeps its figures as a JSON record in the results; report.h prints and writes them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/clients.h"
#include "bench/fleet.h"
#include "bench/options.h"
#include "bench/stack.h"

namespace t2m::bench {

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)), stack_(o_) {}
  // Everything, then the report; every process started is stopped before it returns. The exit code.
  int run();

 private:
  bool prepare_();
  // Starts the gateway on the current simulator fleet and waits until every device is online with its
  // first state on MQTT. Returns the cold-start record.
  nlohmann::json start_gateway_(size_t n);
  void stop_gateway_();
  int scenarios_();
  void refresh_(size_t n);
  void command_(size_t n);
  void push_(size_t n);
  void footprint_(size_t n);

  // Declared in this order so that the MQTT client goes first and the Fleet it (and the simulator's
  // watch thread, in the Stack) writes to goes last.
  Options o_;
  Fleet fleet_;
  Stack stack_;
  std::unique_ptr<Mqtt> mqtt_;
  std::string base_;
  int run_no_ = 0;
  nlohmann::json results_ = nlohmann::json::object();
};

}  // namespace t2m::bench

// Reporting: the statistics the scenarios keep (percentiles), the machine the run is on, the line each
// figure prints as it is measured, and at the end the targets, the JSON file and the results table.
// Everything printed comes from the JSON records the scenarios make, so the table and the file agree.
#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/options.h"

namespace t2m::bench {

struct Percentiles {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};
Percentiles percentiles(std::vector<double> v);
nlohmann::json to_json(const Percentiles& p);

// CPU, kernel, memory, load, open-files limit, nice, date.
nlohmann::json machine_info(long fd_limit);
void print_header(const Options& o, const nlohmann::json& machine);

// One line (or a few) per figure, as the run goes.
void print_fleet_size(size_t n);
void print_sim_ready(double ms);
void print_cold_start(const nlohmann::json& cold, size_t n);
void print_refresh(const nlohmann::json& rec, int reps);
void print_command(const nlohmann::json& rec);
void print_push_step(const nlohmann::json& step);
void print_footprint(const nlohmann::json& rec);

// Adds the targets and the load average at the end to `results`, writes them to o.json_out and prints
// the table.
void report(nlohmann::json& results, const Options& o);

}  // namespace t2m::bench

// The driver's command line.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace t2m::bench {

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

// nullopt when the command line is wrong (a bad option or value says why on stderr); --help prints the
// usage and exits.
std::optional<Options> parse_options(int argc, char** argv);

}  // namespace t2m::bench

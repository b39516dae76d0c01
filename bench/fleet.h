// What the driver knows of the fleet under test, from the MQTT messages the gateway publishes: cold start
// (first state, online), every state and DP change, refresh-all answers, command round trips. Written by
// Paho's callback thread, read by the scenarios: everything is under `mu`, changes signal `cv`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace t2m::bench {

// Index of a generated device from its name "d00042" / its simulator id "bfsim000000000000042".
std::optional<size_t> index_of_digits(std::string_view s);
// The gateway config's name of device `i` ("d00042").
std::string device_name(size_t i);

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

  void reset(const std::string& base_topic, size_t count);
  // Paho's thread.
  void on_message(const std::string& topic, const std::string& payload, int64_t t);

 private:
  void on_state_(size_t i, const std::string& payload, int64_t t);
};

}  // namespace t2m::bench

// The driver's clocks. Latencies that cross processes (command published -> DP written on the device ->
// new state on MQTT) use CLOCK_REALTIME on both sides (the simulator stamps writes with the wall clock);
// durations inside the driver use CLOCK_MONOTONIC.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <thread>

namespace t2m::bench {

inline constexpr int64_t US_PER_S = 1000000;
inline constexpr int64_t US_PER_MS = 1000;

inline int64_t clock_us(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * US_PER_S + ts.tv_nsec / 1000;
}
inline int64_t mono_us() {
  return clock_us(CLOCK_MONOTONIC);
}
inline int64_t unix_us() {
  return clock_us(CLOCK_REALTIME);
}
inline void sleep_ms(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace t2m::bench

// Injected time (CONTRIBUTING.md, rule 10): production code asks a Timers object for the time and for
// callbacks; tests use FakeTimers (tests/fakes/fake_timers.h) and advance time by hand, so nothing depends on
// the machine's speed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/uv_handle.h"

namespace t2m {

using TimerId = uint64_t;
constexpr TimerId NO_TIMER = 0;
// Timer delays are milliseconds; configured durations are seconds.
inline constexpr uint32_t MS_PER_S = 1000;

class Timers {
 public:
  virtual ~Timers() = default;
  // Monotonic milliseconds, arbitrary origin.
  virtual uint64_t now_ms() const = 0;
  // Wall clock, Unix epoch milliseconds (for Tuya's `t` fields).
  virtual int64_t unix_ms() const = 0;
  // Calls `fn` after `delay_ms`, then every `repeat_ms` if non-zero. The callback may cancel or
  // restart any timer, itself included.
  virtual TimerId start(uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) = 0;
  // Re-arms an existing timer (cheaper than cancel + start). Returns false if `id` is unknown.
  virtual bool restart(TimerId id, uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) = 0;
  virtual void cancel(TimerId id) = 0;
};

class UvTimers final : public Timers {
 public:
  explicit UvTimers(uv_loop_t* loop) : loop_(loop) {}
  uint64_t now_ms() const override { return uv_now(loop_); }
  int64_t unix_ms() const override;
  TimerId start(uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) override;
  bool restart(TimerId id, uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) override;
  void cancel(TimerId id) override;
  size_t active() const { return entries_.size(); }

 private:
  struct Entry {
    UvHandle<uv_timer_t> handle;
    std::function<void()> fn;
    UvTimers* owner = nullptr;
    TimerId id = NO_TIMER;
    bool repeating = false;
  };
  static void on_timer(uv_timer_t* t);
  uv_loop_t* loop_;
  TimerId next_id_ = 1;
  std::unordered_map<TimerId, std::unique_ptr<Entry>> entries_;
};

// Named timers in the manner of ESPHome's set_timeout/set_interval: reusing a name replaces the
// earlier timer, and destroying the scheduler cancels everything it owns.
class Scheduler {
 public:
  explicit Scheduler(Timers& timers) : timers_(timers) {}
  ~Scheduler() { cancel_all(); }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void set_timeout(const std::string& name, uint64_t delay_ms, std::function<void()> fn);
  void set_interval(const std::string& name, uint64_t every_ms, std::function<void()> fn);
  bool cancel(const std::string& name);
  bool active(const std::string& name) const { return named_.count(name) != 0; }
  void cancel_all();
  Timers& timers() { return timers_; }

 private:
  Timers& timers_;
  std::map<std::string, TimerId, std::less<>> named_;
};

}  // namespace t2m

// Time for tests: a Timers (common/timers.h) whose clock moves only when a test advances it, firing due
// timers in deadline order, so nothing depends on the machine's speed. Header-only: the fuzzers use it too
// and build without the test tree's libraries.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "common/timers.h"

namespace t2m {

class FakeTimers final : public Timers {
 public:
  // A fixed Unix origin: Tuya's `t` fields and signatures are reproducible.
  static constexpr int64_t DEFAULT_UNIX_ORIGIN_MS = 1700000000000;

  explicit FakeTimers(int64_t unix_origin_ms = DEFAULT_UNIX_ORIGIN_MS) : unix_origin_ms_(unix_origin_ms) {}
  uint64_t now_ms() const override { return now_; }
  int64_t unix_ms() const override { return unix_origin_ms_ + static_cast<int64_t>(now_); }
  TimerId start(uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) override {
    const TimerId id = next_id_++;
    timers_[id] = Entry{now_ + delay_ms, repeat_ms, std::move(fn)};
    return id;
  }
  bool restart(TimerId id, uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) override {
    auto it = timers_.find(id);
    if (it == timers_.end()) return false;
    it->second = Entry{now_ + delay_ms, repeat_ms, std::move(fn)};
    return true;
  }
  void cancel(TimerId id) override { timers_.erase(id); }
  size_t pending() const { return timers_.size(); }

  // Moves time forward by `ms`, firing every timer that falls due on the way, earliest first. A callback
  // may start, restart or cancel timers (itself included); the new ones fire in this call if due.
  void advance(uint64_t ms) {
    const uint64_t target = now_ + ms;
    for (;;) {
      // Ties go to the older id, as libuv orders equal deadlines by start sequence.
      TimerId best = NO_TIMER;
      uint64_t best_due = 0;
      for (const auto& [id, e] : timers_) {
        if (e.due <= target && (best == NO_TIMER || e.due < best_due)) {
          best = id;
          best_due = e.due;
        }
      }
      if (best == NO_TIMER) break;
      now_ = best_due;
      auto it = timers_.find(best);
      std::function<void()> fn;
      if (it->second.repeat != 0) {
        it->second.due += it->second.repeat;
        fn = it->second.fn;
      } else {
        fn = std::move(it->second.fn);
        timers_.erase(it);
      }
      fn();
    }
    now_ = target;
  }

 private:
  struct Entry {
    uint64_t due;
    uint64_t repeat;
    std::function<void()> fn;
  };
  uint64_t now_ = 0;
  int64_t unix_origin_ms_;
  TimerId next_id_ = 1;
  std::map<TimerId, Entry> timers_;
};

}  // namespace t2m

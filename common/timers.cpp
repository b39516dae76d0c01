#include "common/timers.h"

#include <vector>

namespace t2m {

int64_t UvTimers::unix_ms() const {
  uv_timeval64_t tv{};
  uv_gettimeofday(&tv);
  return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void UvTimers::on_timer(uv_timer_t* t) {
  auto* e = static_cast<Entry*>(t->data);
  if (!e) return;
  UvTimers* owner = e->owner;
  TimerId id = e->id;
  if (e->repeating) {
    // Copy: the callback may restart or cancel this very timer.
    auto fn = e->fn;
    fn();
    return;
  }
  auto fn = std::move(e->fn);
  owner->entries_.erase(id);  // one-shot: gone before it runs, so it can re-arm under the same name
  fn();
}

TimerId UvTimers::start(uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) {
  auto e = std::make_unique<Entry>();
  if (e->handle.init([&](uv_timer_t* t) { return uv_timer_init(loop_, t); }) != 0) return NO_TIMER;
  e->owner = this;
  e->id = next_id_++;
  e->fn = std::move(fn);
  e->repeating = repeat_ms != 0;
  e->handle->data = e.get();
  uv_timer_start(e->handle.get(), &UvTimers::on_timer, delay_ms, repeat_ms);
  TimerId id = e->id;
  entries_.emplace(id, std::move(e));
  return id;
}

bool UvTimers::restart(TimerId id, uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  Entry& e = *it->second;
  e.fn = std::move(fn);
  e.repeating = repeat_ms != 0;
  uv_timer_start(e.handle.get(), &UvTimers::on_timer, delay_ms, repeat_ms);
  return true;
}

void UvTimers::cancel(TimerId id) {
  entries_.erase(id);
}

void Scheduler::set_timeout(const std::string& name, uint64_t delay_ms, std::function<void()> fn) {
  auto wrapped = [this, name, fn = std::move(fn)]() {
    named_.erase(name);
    fn();
  };
  auto it = named_.find(name);
  if (it != named_.end() && timers_.restart(it->second, delay_ms, 0, wrapped)) return;
  named_[name] = timers_.start(delay_ms, 0, std::move(wrapped));
}

void Scheduler::set_interval(const std::string& name, uint64_t every_ms, std::function<void()> fn) {
  auto it = named_.find(name);
  if (it != named_.end() && timers_.restart(it->second, every_ms, every_ms, fn)) return;
  named_[name] = timers_.start(every_ms, every_ms, std::move(fn));
}

bool Scheduler::cancel(const std::string& name) {
  auto it = named_.find(name);
  if (it == named_.end()) return false;
  timers_.cancel(it->second);
  named_.erase(it);
  return true;
}

void Scheduler::cancel_all() {
  for (const auto& [name, id] : named_) timers_.cancel(id);
  named_.clear();
}

}  // namespace t2m

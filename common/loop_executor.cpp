#include "common/loop_executor.h"

namespace t2m {

LoopExecutor::LoopExecutor(uv_loop_t* loop) : loop_(loop), loop_thread_(std::this_thread::get_id()) {
  async_.init([&](uv_async_t* a) {
    return uv_async_init(loop_, a, [](uv_async_t* h) {
      if (h->data) static_cast<LoopExecutor*>(h->data)->drain();
    });
  });
  async_->data = this;
}

LoopExecutor::~LoopExecutor() {
  close();
}

bool LoopExecutor::post(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  const bool wake = queue_.empty();
  queue_.push_back(std::move(fn));
  // uv_async_send coalesces, and drain() empties the whole queue, so one wake per empty->non-empty is enough.
  // The send stays under the lock: close() releases the handle only after it has seen closed_ under the same
  // lock, so a post racing shutdown either wakes a live handle or is dropped, never touches a freed one.
  if (wake) uv_async_send(async_.get());
  return true;
}

void LoopExecutor::drain() {
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  // Items may post() more; those land in the fresh queue and wake the loop again.
  while (!batch.empty()) {
    auto fn = std::move(batch.front());
    batch.pop_front();
    fn();
  }
}

void LoopExecutor::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    queue_.clear();
  }
  async_.close();
}

}  // namespace t2m

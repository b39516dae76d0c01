// The only door from a foreign thread (Paho, curl resolver, signal) into the loop thread (CONTRIBUTING.md,
// rule 1).
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/uv_handle.h"

namespace t2m {

class LoopExecutor {
 public:
  explicit LoopExecutor(uv_loop_t* loop);
  ~LoopExecutor();
  LoopExecutor(const LoopExecutor&) = delete;
  LoopExecutor& operator=(const LoopExecutor&) = delete;

  // Thread-safe. Runs `fn` on the loop thread soon. After close() posts are dropped silently.
  // Returns false when dropped.
  bool post(std::function<void()> fn);
  bool is_loop_thread() const { return std::this_thread::get_id() == loop_thread_; }
  // Loop thread only. Drops work posted afterwards, and releases the async handle.
  void close();
  uv_loop_t* loop() const { return loop_; }
  // Loop thread only: runs whatever is queued now (used by shutdown paths and tests).
  void drain();

 private:
  uv_loop_t* loop_;
  std::thread::id loop_thread_;
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;
  bool closed_ = false;
  UvHandle<uv_async_t> async_;
};

}  // namespace t2m

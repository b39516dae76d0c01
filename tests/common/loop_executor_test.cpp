#include "common/loop_executor.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_loop_executor_test {

TEST_CASE("posts from many threads all run on the loop thread, in order per thread") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  constexpr int THREADS = 4;
  constexpr int PER_THREAD = 2000;
  std::vector<std::vector<int>> seen(THREADS);
  int total = 0;
  bool all_on_loop = true;
  {
    t2m::LoopExecutor ex(&loop);
    std::vector<std::thread> workers;
    for (int t = 0; t < THREADS; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < PER_THREAD; ++i) {
          ex.post([&, t, i] {
            all_on_loop = all_on_loop && ex.is_loop_thread();
            seen[static_cast<size_t>(t)].push_back(i);
            if (++total == THREADS * PER_THREAD) ex.close();
          });
        }
      });
    }
    uv_run(&loop, UV_RUN_DEFAULT);  // ends when close() releases the async handle
    for (auto& w : workers) w.join();
    CHECK_FALSE(ex.post([] {}));
  }
  CHECK(total == THREADS * PER_THREAD);
  CHECK(all_on_loop);
  for (const auto& v : seen) {
    REQUIRE(v.size() == PER_THREAD);
    for (int i = 0; i < PER_THREAD; ++i) CHECK(v[static_cast<size_t>(i)] == i);
  }
  CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
}

// Regression (issue 9): post() used to wake the async handle after dropping the lock, so a post racing
// close() could send on a handle the loop had already freed. ASan/TSan builds catch it here; threads keep
// posting until they are refused, so every round overlaps close() with posts in flight.
TEST_CASE("posts racing close() are either run or refused, never touch the released handle") {
  constexpr int ROUNDS = 50;
  constexpr int THREADS = 4;
  constexpr int RUNS_BEFORE_CLOSE = 100;
  for (int round = 0; round < ROUNDS; ++round) {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    std::atomic<int> accepted{0};
    int ran = 0;
    {
      t2m::LoopExecutor ex(&loop);
      std::vector<std::thread> workers;
      for (int t = 0; t < THREADS; ++t) {
        workers.emplace_back([&] {
          while (ex.post([&] {
            if (++ran == RUNS_BEFORE_CLOSE) ex.close();
          })) {
            accepted.fetch_add(1, std::memory_order_relaxed);
          }
        });
      }
      uv_run(&loop, UV_RUN_DEFAULT);  // returns once close() has released (and freed) the async handle
      for (auto& w : workers) w.join();
      CHECK_FALSE(ex.post([] {}));
    }
    // The batch drain() already took still runs after close(); what was queued behind it is dropped.
    CHECK(ran >= RUNS_BEFORE_CLOSE);
    CHECK(ran <= accepted.load());
    CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
  }
}

}  // namespace t2m_loop_executor_test

#include "common/loop_executor.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

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

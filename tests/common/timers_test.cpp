#include "common/timers.h"
#include "tests/fakes/fake_timers.h"

#include <doctest/doctest.h>

#include <vector>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_timers_test {

TEST_CASE("FakeTimers fires in deadline order and repeats") {
  t2m::FakeTimers t;
  std::vector<int> seen;
  t.start(30, 0, [&] { seen.push_back(30); });
  t.start(10, 10, [&] { seen.push_back(10); });
  t.advance(35);
  // At t=30 both are due: the one started first runs first, as in libuv.
  CHECK(seen == std::vector<int>{10, 10, 30, 10});
  CHECK(t.now_ms() == 35);
}

TEST_CASE("Scheduler names replace and cancel") {
  t2m::FakeTimers t;
  int a = 0, b = 0;
  {
    t2m::Scheduler s(t);
    s.set_timeout("x", 100, [&] { ++a; });
    s.set_timeout("x", 50, [&] { ++b; });  // replaces the first
    t.advance(200);
    CHECK(a == 0);
    CHECK(b == 1);
    CHECK_FALSE(s.active("x"));
    s.set_interval("hb", 10, [&] { ++a; });
    t.advance(25);
    CHECK(a == 2);
    CHECK(s.cancel("hb"));
    t.advance(100);
    CHECK(a == 2);
    s.set_timeout("late", 10, [&] { ++b; });
  }  // destroying the scheduler cancels "late"
  t.advance(100);
  CHECK(b == 1);
  CHECK(t.pending() == 0);
}

TEST_CASE("a one-shot may re-arm itself under the same name") {
  t2m::FakeTimers t;
  t2m::Scheduler s(t);
  int n = 0;
  std::function<void()> again = [&] {
    if (++n < 3) s.set_timeout("r", 5, again);
  };
  s.set_timeout("r", 5, again);
  t.advance(100);
  CHECK(n == 3);
}

TEST_CASE("UvTimers on a real loop, and every handle closes") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  int fired = 0;
  {
    t2m::UvTimers timers(&loop);
    t2m::Scheduler s(timers);
    s.set_interval("tick", 1, [&] {
      if (++fired == 3) {
        s.cancel("tick");
        s.cancel("never");
      }
    });
    s.set_timeout("never", 100000, [] { FAIL("must be cancelled"); });
    uv_run(&loop, UV_RUN_DEFAULT);  // returns only once both timers are gone
  }
  CHECK(fired == 3);
  CHECK(t2m::uv_close_all_and_drain(&loop) == 0);
}

}  // namespace t2m_timers_test

#include "cloud/push_dedup.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_push_dedup_test {

using namespace t2m::cloud::push;

TEST_SUITE("push_dedup") {
  TEST_CASE("DedupWindow drops repeats inside the window only") {
    DedupWindow w(3, 1000);
    CHECK(w.first_seen("a", 0));
    CHECK_FALSE(w.first_seen("a", 10));
    CHECK(w.first_seen("b", 20));
    CHECK(w.first_seen("c", 30));
    CHECK(w.size() == 3);
    // Capacity: "d" pushes out the oldest ("a"), which is then new again.
    CHECK(w.first_seen("d", 40));
    CHECK(w.size() == 3);
    CHECK_FALSE(w.first_seen("c", 50));
    CHECK(w.first_seen("a", 60));
    // TTL: after 1000 ms "c" (seen at 30) has expired.
    CHECK(w.first_seen("c", 1100));
    CHECK_FALSE(w.first_seen("c", 1101));
  }

  TEST_CASE("NewestTracker keeps the newest value per device and DP") {
    NewestTracker n;
    CHECK(n.admit("d1", "switch_1", 100));
    CHECK_FALSE(n.admit("d1", "switch_1", 99));  // older: stale
    CHECK(n.admit("d1", "switch_1", 100));       // same time: passes (harmless)
    CHECK(n.admit("d1", "bright", 50));          // other DP, own clock
    CHECK(n.admit("d2", "switch_1", 10));        // other device
    CHECK(n.admit("d1", "switch_1", 200));
    CHECK_FALSE(n.admit("d1", "switch_1", 150));
    n.forget("d1");
    CHECK(n.admit("d1", "switch_1", 1));  // a deleted device starts afresh
  }

  TEST_CASE("filter drops only the stale items of an out-of-order report") {
    NewestTracker n;
    StatusReport newer{"d1", "x1", "pk", {{"switch_1", 1, true, 2000}, {"", 2, 50, 2000}}};
    CHECK(n.filter(newer) == 0);
    CHECK(newer.items.size() == 2);
    // Arrives late: switch_1 and dp 2 were set at t=1000, countdown is new.
    StatusReport older{
        "d1", "x0", "pk", {{"switch_1", 1, false, 1000}, {"countdown", 7, 30, 1000}, {"", 2, 10, 1000}}};
    CHECK(n.filter(older) == 2);
    REQUIRE(older.items.size() == 1);
    CHECK(older.items[0].code == "countdown");
    CHECK(NewestTracker::item_key(StatusItem{"", 2, 1, 0}) == "#2");
  }

  TEST_CASE("NewestTracker memory is bounded by device count") {
    NewestTracker n(2);
    CHECK(n.admit("a", "k", 100));
    CHECK(n.admit("b", "k", 100));
    CHECK(n.admit("c", "k", 100));  // evicts "a"
    CHECK(n.devices() == 2);
    CHECK(n.admit("a", "k", 1));  // forgotten, so accepted
    CHECK_FALSE(n.admit("c", "k", 1));
  }
}

}  // namespace t2m_push_dedup_test

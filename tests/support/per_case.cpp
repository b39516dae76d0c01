#include "tests/support/per_case.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <typeindex>

namespace t2m::test {
namespace {

struct Held {
  std::shared_ptr<void> object;
  const std::type_info* type = nullptr;
};

Held& held() {
  static Held h;
  return h;
}

bool g_releasing = false;

void release() {
  Held& h = held();
  if (!h.object) return;
  g_releasing = true;
  h.object.reset();
  h.type = nullptr;
  g_releasing = false;
}

// Releases the held object when its test case ends (after all of its SUBCASE runs) and, to be safe, when
// a new one starts.
struct PerCaseListener : doctest::IReporter {
  explicit PerCaseListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override { release(); }
  void test_case_start(const doctest::TestCaseData&) override { release(); }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override { release(); }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

namespace detail {

void* held_for_case(const std::type_info& type) {
  const Held& h = held();
  return h.object && h.type && std::type_index(*h.type) == std::type_index(type) ? h.object.get() : nullptr;
}

void hold_for_case(std::shared_ptr<void> object, const std::type_info& type) {
  release();
  held().object = std::move(object);
  held().type = &type;
}

}  // namespace detail

bool releasing_per_case() {
  return g_releasing;
}

void teardown_failed(const std::string& what) {
  if (!g_releasing) {
    FAIL_CHECK(what);
    return;
  }
  std::fprintf(stderr, "teardown after the test case: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(EXIT_FAILURE);
}

}  // namespace t2m::test

DOCTEST_REGISTER_LISTENER("t2m-per-case", 1, t2m::test::PerCaseListener);

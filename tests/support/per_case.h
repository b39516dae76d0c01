// One object per running doctest TEST_CASE, kept across the runs doctest makes of the case's body (it runs
// the body once per SUBCASE, from the top), so a case with several SUBCASEs builds its world (a broker, the
// simulator, the gateway) once instead of once per SUBCASE. A doctest listener releases the object when the
// test case ends; the next case (when one program runs several) gets a new one.
//
//   TEST_CASE("...") {
//     auto& w = test::per_case<GatewayFixture>([] { return std::make_unique<GatewayFixture>(options()); });
//     SUBCASE("a") { ... }  // every SUBCASE starts where the previous one left the world
//   }
//
// The object's destructor then runs outside the case's body, where a failed doctest assertion is no
// longer counted: it reports failures through teardown_failed() instead.
#pragma once

#include <memory>
#include <string>
#include <typeinfo>

namespace t2m::test {
namespace detail {
void* held_for_case(const std::type_info& type);
void hold_for_case(std::shared_ptr<void> object, const std::type_info& type);
}  // namespace detail

template <class T, class Make>
T& per_case(Make&& make) {
  if (void* p = detail::held_for_case(typeid(T))) return *static_cast<T*>(p);
  std::unique_ptr<T> made = make();
  T& ref = *made;
  detail::hold_for_case(std::shared_ptr<T>(std::move(made)), typeid(T));
  return ref;
}

// True while the listener releases the object of a test case that has ended.
bool releasing_per_case();

// A teardown check that failed: a doctest failure inside a case's body; after it (releasing_per_case()),
// the message on stderr and the process exits with status 1, so the test still fails.
void teardown_failed(const std::string& what);

}  // namespace t2m::test

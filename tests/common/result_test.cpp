#include "common/result.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_result_test {

using t2m::Error;
using t2m::Result;

TEST_CASE("Result carries a value or an error") {
  Result<int> good = 7;
  REQUIRE(good.ok());
  CHECK(*good == 7);
  Result<int> bad = t2m::fail("bad_crc", "CRC mismatch");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "bad_crc");
  CHECK(bad.value_or(3) == 3);
}

TEST_CASE("Result works when value and error types are the same") {
  Result<std::string, std::string> a = std::string("v");
  Result<std::string, std::string> b = t2m::fail(std::string("e"));
  CHECK(a.ok());
  CHECK(a.value() == "v");
  CHECK_FALSE(b.ok());
  CHECK(b.error() == "e");
}

TEST_CASE("Status") {
  t2m::Status s;
  CHECK(s.ok());
  t2m::Status f = t2m::fail("x", "y");
  CHECK_FALSE(f.ok());
  CHECK(f.error().message == "y");
}

}  // namespace t2m_result_test

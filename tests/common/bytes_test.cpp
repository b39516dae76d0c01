#include "common/bytes.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_bytes_test {

TEST_CASE("hex round trip and rejection") {
  t2m::Bytes b;
  REQUIRE(t2m::from_hex("00ff7A", b));
  CHECK(b == t2m::Bytes{0x00, 0xff, 0x7a});
  CHECK(t2m::to_hex(b) == "00ff7a");
  CHECK(t2m::to_hex(b, true) == "00FF7A");
  CHECK_FALSE(t2m::from_hex("abc", b));
  CHECK_FALSE(t2m::from_hex("zz", b));
}

}  // namespace t2m_bytes_test

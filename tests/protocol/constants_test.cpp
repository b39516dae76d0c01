#include "protocol/constants.h"

#include <doctest/doctest.h>

#include "protocol/crypto.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_constants_test {

using namespace t2m;
using namespace t2m::proto;

TEST_CASE("versions parse and print") {
  for (auto v : {Version::V3_1, Version::V3_2, Version::V3_3, Version::V3_4, Version::V3_5}) {
    auto parsed = parse_version(to_string(v));
    REQUIRE(parsed);
    CHECK(*parsed == v);
  }
  CHECK(to_string(Version::V3_4) == "3.4");
  CHECK_FALSE(parse_version("3.6"));
  CHECK_FALSE(parse_version("3.3 "));
  CHECK_FALSE(parse_version(""));
  CHECK(needs_session_key(Version::V3_4));
  CHECK_FALSE(needs_session_key(Version::V3_3));
  CHECK(uses_6699(Version::V3_5));
  CHECK_FALSE(uses_6699(Version::V3_4));
}

TEST_CASE("UDP key is MD5 of the discovery passphrase") {
  auto d = crypto::md5(as_bytes("yGAdlopoPVldABfn"));
  CHECK(to_hex(d) == to_hex(ByteView(UDP_KEY, sizeof(UDP_KEY))));
}

}  // namespace t2m_constants_test

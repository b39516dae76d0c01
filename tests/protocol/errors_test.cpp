#include "protocol/errors.h"

#include <set>
#include <string>

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_errors_test {

using namespace t2m::proto;

TEST_CASE("every error code has a distinct stable name") {
  std::set<std::string> names;
  for (int c = static_cast<int>(ErrorCode::TRUNCATED); c <= static_cast<int>(ErrorCode::BAD_ARGUMENT); ++c) {
    auto name = std::string(to_string(static_cast<ErrorCode>(c)));
    CHECK(name != "unknown");
    CHECK(names.insert(name).second);
  }
  CHECK(names.size() == 16);
  CHECK(to_string(ErrorCode::BAD_CRC) == "bad_crc");
  auto e = proto_fail(ErrorCode::BAD_TAG, "x");
  CHECK(e.error.code == ErrorCode::BAD_TAG);
  CHECK(e.error.detail == "x");
}

}  // namespace t2m_errors_test

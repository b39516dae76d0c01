#include "gateway/error_code.h"

#include <doctest/doctest.h>

#include <set>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_error_code_test {

using namespace t2m;
using namespace t2m::gw;

TEST_CASE("error codes keep their wire spellings") {
  CHECK(to_string(ErrorCode::UNKNOWN_DEVICE) == "unknown_device");
  CHECK(to_string(ErrorCode::OFFLINE) == "offline");
  CHECK(to_string(ErrorCode::BAD_REQUEST) == "bad_request");
  CHECK(to_string(ErrorCode::WRONG_KEY) == "wrong_key");
  CHECK(to_string(ErrorCode::WRONG_VERSION) == "wrong_version");
  CHECK(to_string(ErrorCode::CLOUD_COMMAND_FAILED) == "cloud_command_failed");
}

TEST_CASE("every error code has its own spelling") {
  std::set<std::string_view> seen;
  for (int i = 0; i <= static_cast<int>(ErrorCode::WRONG_VERSION); ++i) {
    auto text = to_string(static_cast<ErrorCode>(i));
    CHECK_FALSE(text.empty());
    CHECK(seen.insert(text).second);
  }
}

TEST_CASE("fail and is carry the code's spelling") {
  Status st = gw::fail(ErrorCode::NAME_TAKEN, "'x' is already used");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == "name_taken");
  CHECK(is(st.error(), ErrorCode::NAME_TAKEN));
  CHECK_FALSE(is(st.error(), ErrorCode::EXISTS));
}

}  // namespace t2m_error_code_test

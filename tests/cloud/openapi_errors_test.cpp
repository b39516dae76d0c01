// The Tuya error table: every documented code maps to the client's action and its own Error::code.
#include "cloud/openapi_errors.h"

#include <doctest/doctest.h>

#include <string>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_openapi_errors_test {

using namespace t2m;
using namespace t2m::cloud;

TEST_CASE("error codes map to the reference's actions") {
  CHECK(classify_tuya_code(1010).action == CodeAction::REFRESH_TOKEN);
  CHECK(classify_tuya_code(1011).action == CodeAction::NEW_TOKEN);
  CHECK(classify_tuya_code(1400).action == CodeAction::NEW_TOKEN);
  CHECK(classify_tuya_code(1013).action == CodeAction::CLOCK_SKEW);
  for (int c : {500, 1110, 1111, 1112, 1199})
    CHECK(classify_tuya_code(c).action == CodeAction::RETRY_BACKOFF);
  for (int c : {1001, 1005, 1008, 28841002, 28841004})
    CHECK(classify_tuya_code(c).action == CodeAction::STOP);
  for (int c : {1000, 2002, 2003, 2005, 2006, 2010})
    CHECK(std::string(classify_tuya_code(c).error_code) == ERR_NOT_FOUND);
  CHECK(std::string(classify_tuya_code(2001).error_code) == ERR_OFFLINE);
  CHECK(std::string(classify_tuya_code(28841105).error_code) == ERR_NOT_AUTHORIZED);
  CHECK(classify_tuya_code(28841105).action == CodeAction::FAIL);
  CHECK(std::string(classify_tuya_code(1106).hint).find("data center") != std::string::npos);
  CHECK(std::string(classify_tuya_code(424242).error_code) == ERR_OTHER);
  CHECK(tuya_code_of(Error{"x", "[1106] permission deny"}) == 1106);
  CHECK(tuya_code_of(Error{"x", "no code"}) == 0);
}

TEST_CASE("a Tuya answer becomes an Error with its code, the tid and the hint") {
  const Error e = tuya_error(1106, "permission deny", "tid-1");
  CHECK(e.code == ERR_PERMISSION);
  CHECK(e.message.rfind("[1106] permission deny (tid tid-1): permission denied", 0) == 0);
  CHECK(tuya_code_of(e) == 1106);
  CHECK(tuya_error(1103, "failed", "").message == "[1103] failed");  // no tid, no hint
}

}  // namespace t2m_openapi_errors_test

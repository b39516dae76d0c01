#include "common/log.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_log_test {

TEST_CASE("registered secrets never reach a sink") {
  t2m::log_set_stderr(false);
  std::vector<std::string> lines;
  int id =
      t2m::log_add_sink([&](t2m::LogLevel, std::string_view, std::string_view m) { lines.emplace_back(m); });
  t2m::log_register_secret("0123456789abcdef");
  T2M_LOGE("test", "key is %s and again %s", "0123456789abcdef", "0123456789abcdef!");
  t2m::log_remove_sink(id);
  t2m::log_clear_secrets();
  t2m::log_set_stderr(true);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("0123456789abcdef") == std::string::npos);
  CHECK(lines[0] == "key is <redacted:16> and again <redacted:16>!");
}

TEST_CASE("level filter") {
  t2m::log_set_stderr(false);
  int count = 0;
  int id = t2m::log_add_sink([&](t2m::LogLevel, std::string_view, std::string_view) { ++count; });
  t2m::log_set_level(t2m::LogLevel::WARN);
  T2M_LOGI("t", "hidden");
  T2M_LOGW("t", "shown");
  t2m::log_set_level(t2m::LogLevel::INFO);
  t2m::log_remove_sink(id);
  t2m::log_set_stderr(true);
  CHECK(count == 1);
  t2m::LogLevel l;
  CHECK(t2m::parse_log_level("debug", l));
  CHECK(l == t2m::LogLevel::DEBUG);
  CHECK_FALSE(t2m::parse_log_level("loud", l));
}

TEST_CASE("strformat grows past the stack buffer") {
  std::string big(2000, 'x');
  CHECK(t2m::strformat("%s-%d", big.c_str(), 5) == big + "-5");
}

TEST_CASE("log_escape keeps a line one line and cuts long ones") {
  CHECK(t2m::log_escape("device said: \n<3>error [gateway.app] forged") ==
        "device said: \\n<3>error [gateway.app] forged");
  CHECK(t2m::log_escape(std::string("a\x01\x7f\tb", 5)) == "a\\x01\\x7f\\tb");
  const std::string long_text(10000, 'x');
  const auto cut = t2m::log_escape(long_text, 100);
  CHECK(cut.size() < 200);
  CHECK(cut.find("9900 more bytes") != std::string::npos);
}

TEST_CASE("a sink never sees a raw newline from a logged value") {
  std::string seen;
  const int id = t2m::log_add_sink([&](t2m::LogLevel, std::string_view, std::string_view m) { seen = m; });
  t2m::log_set_stderr(false);
  T2M_LOGE("test", "device said: %s", "ok\nerror [forged] line");
  t2m::log_remove_sink(id);
  CHECK(seen.find('\n') == std::string::npos);
  CHECK(seen.find("\\n") != std::string::npos);
}

}  // namespace t2m_log_test

// A check that survives NDEBUG: a broken property aborts, which libFuzzer reports as a finding.
#pragma once

#include <cstdio>
#include <cstdlib>

#define T2M_FUZZ_CHECK(cond)                                                                 \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

#include <string_view>

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
inline bool t2m_fuzz_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    unsigned cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// KNOWN BUG (reported to the lead, issue 6): protocol/dps.cpp quote() calls json::dump() without an
// error handler, so a string value holding invalid UTF-8 makes every refused conversion throw
// nlohmann::type_error 316 out of value_to_wire()/command_to_dps() (an MQTT bare value such as the
// byte 0xFF on <name>/set/<dp> reaches it). Until it is fixed, the targets below keep such strings away
// from the value converters so the fuzzers can look for other bugs; set T2M_FUZZ_NO_UTF8_GUARD=1 in
// the environment to fuzz through it.
#include <cstdlib>
inline bool t2m_fuzz_utf8_guard() {
  static const bool on = std::getenv("T2M_FUZZ_NO_UTF8_GUARD") == nullptr;
  return on;
}

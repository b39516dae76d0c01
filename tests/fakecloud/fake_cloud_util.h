// Helpers shared by the fake cloud's sources (request parsing, lenient JSON and number reads); not for
// tests, which use the fake through fake_cloud.h.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/sign.h"

namespace t2m::fakecloud::detail {

inline std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// json::value() with a string default trips GCC's -Wnull-dereference inside nlohmann; this does not.
inline std::string sval(const nlohmann::json& j, const char* key, const char* fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const nlohmann::json& v = j.at(key);
  if (!v.is_string()) return fallback;
  return v.get_ref<const std::string&>();
}

inline std::string query_get(const cloud::KeyValues& q, const std::string& key) {
  for (const auto& [k, v] : q) {
    if (k == key) return v;
  }
  return {};
}

inline bool query_has(const cloud::KeyValues& q, const std::string& key) {
  return std::any_of(q.begin(), q.end(), [&](const auto& kv) { return kv.first == key; });
}

inline int to_int(const std::string& s, int fallback) {
  if (s.empty()) return fallback;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  return (end && *end == 0) ? static_cast<int>(v) : fallback;
}

inline int64_t to_i64(const std::string& s, int64_t fallback) {
  if (s.empty()) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  return (end && *end == 0) ? v : fallback;
}

}  // namespace t2m::fakecloud::detail

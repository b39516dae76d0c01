// Internal helpers shared by the model's sources (derived model, entity rules, state and command
// conversion). Not part of the public API.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "model/derived_model.h"

namespace t2m::model::detail {

// Cover positions are percentages, 100 = fully open.
inline constexpr int POSITION_MAX = 100;

inline std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A DP id written as a JSON key ("19"), within the ids the config accepts.
inline std::optional<int> dp_id(std::string_view key) {
  int id = 0;
  auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec != std::errc() || p != key.data() + key.size() || id < config::MIN_DP_ID || id > config::MAX_DP_ID)
    return std::nullopt;
  return id;
}

// The wire value of DP `id` in a `dps` object, or nullptr.
inline const nlohmann::json* wire(const nlohmann::json& dps, int id) {
  if (!dps.is_object()) return nullptr;
  auto it = dps.find(std::to_string(id));
  return it == dps.end() ? nullptr : &*it;
}

inline std::optional<int> role_dp(const Entity& e, std::string_view r) {
  auto it = e.dps.find(r);
  if (it == e.dps.end()) return std::nullopt;
  return it->second;
}

inline std::string state_key(const Entity& e, std::string_view r) {
  auto it = e.state_keys.find(r);
  return it == e.state_keys.end() ? std::string() : it->second;
}

// A JSON number, or a string that is one in full ("21.5"); never NaN or infinite.
inline std::optional<double> number(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    double d = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc() && p == s.data() + s.size() && std::isfinite(d)) return d;
  }
  return std::nullopt;
}

}  // namespace t2m::model::detail

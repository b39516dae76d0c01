// Small helpers shared by the model tests: a device of a category, JSON literals, entity look-ups.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "model/derived_model.h"

namespace t2m::model::testing {

using V = std::vector<std::string>;

inline config::DeviceConfig device(const char* category) {
  config::DeviceConfig d;
  d.id = "dev1";
  d.local_key = "0123456789abcdef";
  d.category = category;
  return d;
}

inline nlohmann::json j(const char* text) {
  return nlohmann::json::parse(text);
}

// "component:key" for every entity, in model order.
inline std::vector<std::string> summary(const DerivedModel& m) {
  std::vector<std::string> out;
  for (const auto& e : m.entities) out.push_back(std::string(to_string(e.component)) + ":" + e.key);
  return out;
}

inline const Entity& entity(const DerivedModel& m, const std::string& key) {
  auto it = std::find_if(m.entities.begin(), m.entities.end(), [&](const Entity& e) { return e.key == key; });
  REQUIRE_MESSAGE(it != m.entities.end(), key);
  return *it;
}

}  // namespace t2m::model::testing

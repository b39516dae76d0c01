// Files for the device-list, wizard and wizard command-line tests: private paths in the build tree
// (one per test, so parallel test cases never share one) and reading back what was written.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace t2m::cloud::testing {

// A path under the build tree, removed first so every run starts without the file.
inline std::string temp_path(const char* name) {
  std::string p = std::string(T2M_BINARY_DIR) + "/cloud_wizard_" + name;
  std::remove(p.c_str());
  return p;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(slurp(path), nullptr, false);
}

// The entry of a device list with this id, or null.
inline const nlohmann::json* find_id(const nlohmann::json& list, const std::string& id) {
  for (const auto& e : list) {
    if (e.contains("id") && e["id"] == id) return &e;
  }
  return nullptr;
}

}  // namespace t2m::cloud::testing

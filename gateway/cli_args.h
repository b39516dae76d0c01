// A small argument reader for the tuya2mqtt subcommands: --flag value, --flag=value, -f value, and
// positionals. Unknown flags are an error, so a typo never silently does something else.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace t2m::gw {

struct ArgSpec {
  std::set<std::string> value_flags;           // take a value: "--config", "-c"
  std::set<std::string> bool_flags;            // no value: "--json", "--help"
  std::map<std::string, std::string> aliases;  // "-c" -> "--config"
};

struct Args {
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  std::vector<std::string> positional;

  bool has(const std::string& flag) const { return flags.count(flag) || values.count(flag); }
  std::optional<std::string> get(const std::string& flag) const {
    auto it = values.find(flag);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

Result<Args> parse_args(const std::vector<std::string>& argv, const ArgSpec& spec);

}  // namespace t2m::gw

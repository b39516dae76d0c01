// The one door for JSON that comes from outside (MQTT, HTTP, the cloud, devices, definition files):
// a size and a nesting limit are checked before nlohmann's parser runs, because its parser and its
// serializer recurse once per level and a deep enough document exhausts the stack.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace t2m {

enum class JsonInputError { too_large, too_deep, invalid };
std::string_view to_string(JsonInputError e);

struct JsonLimits {
  size_t max_bytes = 1024 * 1024;
  // Nothing the gateway reads legitimately nests past a dozen levels; 64 leaves room and keeps
  // recursion in the parser and in every later dump() a few kilobytes of stack.
  unsigned max_depth = 64;
};

struct JsonInputFailure {
  JsonInputError code;
  std::string message;
};

// Parses `text` within `limits`. The error message says which limit and where, never the text.
Result<nlohmann::json, JsonInputFailure> parse_json(std::string_view text, const JsonLimits& limits = {});

// The deepest nesting of arrays and objects in `text` (strings skipped); stops counting at `stop`.
unsigned json_depth(std::string_view text, unsigned stop);

}  // namespace t2m

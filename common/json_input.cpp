#include "common/json_input.h"

#include "common/log.h"

namespace t2m {

std::string_view to_string(JsonInputError e) {
  switch (e) {
    case JsonInputError::too_large:
      return "too_large";
    case JsonInputError::too_deep:
      return "too_deep";
    case JsonInputError::invalid:
      return "invalid";
  }
  return "invalid";
}

unsigned json_depth(std::string_view text, unsigned stop) {
  unsigned depth = 0;
  unsigned deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest >= stop) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

Result<nlohmann::json, JsonInputFailure> parse_json(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return fail(JsonInputFailure{
        JsonInputError::too_large,
        strformat("JSON of %zu bytes is over the limit of %zu bytes", text.size(), limits.max_bytes)});
  }
  if (json_depth(text, limits.max_depth + 1) > limits.max_depth) {
    return fail(JsonInputFailure{JsonInputError::too_deep,
                                 strformat("JSON nested deeper than %u levels", limits.max_depth)});
  }
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again with exceptions for the position; only this rare path pays for it.
    std::string why = "not valid JSON";
    try {
      const auto unused = nlohmann::json::parse(text.begin(), text.end());
      (void)unused;
    } catch (const nlohmann::json::parse_error& e) {
      why = strformat("not valid JSON (at byte %zu)", e.byte);
    }
    return fail(JsonInputFailure{JsonInputError::invalid, why});
  }
  return j;
}

}  // namespace t2m

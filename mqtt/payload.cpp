#include "mqtt/payload.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include "common/json_input.h"
#include "protocol/dps.h"

namespace t2m::mqtt {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 6> STATE_WORDS = {"ON", "OFF", "TOGGLE", "OPEN", "CLOSE", "STOP"};
constexpr std::array<std::string_view, 3> SWITCH_WORDS = {"ON", "OFF", "TOGGLE"};

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
  return out;
}

template <size_t N>
std::optional<std::string> match_word(const std::array<std::string_view, N>& words, std::string_view text) {
  if (text.size() > 8) return std::nullopt;
  std::string up = upper(text);
  for (auto w : words)
    if (up == w) return up;
  return std::nullopt;
}

Status check_size(std::string_view payload, size_t limit) {
  if (payload.size() > limit)
    return fail("mqtt_payload_too_large", "payload of " + std::to_string(payload.size()) +
                                              " bytes exceeds the limit of " + std::to_string(limit));
  return {};
}

// Never echoes payload text: a malformed device/options request may carry a local key. Depth-limited
// (common/json_input.h): a bridge request nested 60,000 levels deep once crashed the gateway when
// its transaction was echoed back.
Result<json> parse_json(std::string_view text) {
  auto r = t2m::parse_json(text);
  if (r.ok()) return std::move(r).value();
  if (r.error().code == JsonInputError::too_deep) return fail("mqtt_payload_too_deep", r.error().message);
  if (r.error().code == JsonInputError::too_large) return fail("mqtt_payload_too_large", r.error().message);
  return fail("mqtt_payload_invalid_json", r.error().message);
}

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool looks_like_json_number(std::string_view s) {
  size_t i = 0;
  auto digit = [&](size_t k) { return k < s.size() && std::isdigit(static_cast<unsigned char>(s[k])); };
  if (i < s.size() && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == s.size();
}

}  // namespace

Result<json> parse_set_payload(std::string_view payload) {
  if (auto size = check_size(payload, MAX_COMMAND_PAYLOAD_BYTES); !size) return fail(size.error());
  std::string_view text = trim(payload);
  if (text.empty()) return fail("mqtt_payload_empty", "empty /set payload: expected a JSON object");
  if (auto word = match_word(STATE_WORDS, text)) return json{{"state", *word}};
  auto parsed = parse_json(text);
  if (!parsed) return parsed;
  if (!parsed->is_object())
    return fail("mqtt_payload_not_object",
                std::string("/set payload must be a JSON object or ON/OFF/TOGGLE, got a JSON ") +
                    parsed->type_name());
  return parsed;
}

Result<json> parse_bare_value(std::string_view payload) {
  if (auto size = check_size(payload, MAX_COMMAND_PAYLOAD_BYTES); !size) return fail(size.error());
  std::string_view text = trim(payload);
  if (text.empty()) return fail("mqtt_payload_empty", "empty value");
  if (text == "true") return json(true);
  if (text == "false") return json(false);
  if (text == "null") return json(nullptr);
  if (auto word = match_word(SWITCH_WORDS, text)) return json(*word);
  if (looks_like_json_number(text) || text.front() == '"' || text.front() == '{' || text.front() == '[')
    return parse_json(text);
  return json(std::string(text));
}

Result<std::vector<std::string>> parse_get_payload(std::string_view payload) {
  if (auto size = check_size(payload, MAX_COMMAND_PAYLOAD_BYTES); !size) return fail(size.error());
  std::string_view text = trim(payload);
  std::vector<std::string> out;
  if (text.empty()) return out;
  if (text.front() != '{' && text.front() != '[' && text.front() != '"') {
    out.emplace_back(text);
    return out;
  }
  auto parsed = parse_json(text);
  if (!parsed) return fail(parsed.error());
  if (parsed->is_object()) {
    for (auto it = parsed->begin(); it != parsed->end(); ++it) out.push_back(it.key());
  } else if (parsed->is_array()) {
    for (const auto& v : *parsed) {
      if (!v.is_string())
        return fail("mqtt_payload_invalid", "/get array must hold attribute names (strings)");
      out.push_back(v.get<std::string>());
    }
  } else if (parsed->is_string()) {
    out.push_back(parsed->get<std::string>());
  } else {
    return fail(
        "mqtt_payload_invalid",
        std::string("/get payload must be an object, array or name, got a JSON ") + parsed->type_name());
  }
  return out;
}

Result<BridgeRequest> parse_bridge_request(std::string_view payload) {
  if (auto size = check_size(payload, MAX_REQUEST_PAYLOAD_BYTES); !size) return fail(size.error());
  std::string_view text = trim(payload);
  BridgeRequest req;
  if (text.empty()) return req;
  char first = text.front();
  bool json_like = first == '{' || first == '[' || first == '"' || looks_like_json_number(text) ||
                   text == "true" || text == "false" || text == "null";
  if (!json_like) {
    req.data = std::string(text);  // legacy bare string
    return req;
  }
  auto parsed = parse_json(text);
  if (!parsed) return fail(parsed.error());
  if (parsed->is_object()) {
    if (auto it = parsed->find("transaction"); it != parsed->end()) {
      req.transaction = std::move(*it);
      parsed->erase(it);
    }
  }
  req.data = std::move(parsed.value());
  return req;
}

std::string dump_json(const json& j) {
  return proto::dump_lossy(j);
}

std::string make_response(const json& data, const json& transaction) {
  json out = {{"data", data.is_null() ? json::object() : data}, {"status", "ok"}};
  if (!transaction.is_null()) out["transaction"] = transaction;
  return dump_json(out);
}

std::string make_error_response(std::string_view message, const json& transaction) {
  json out = {{"data", json::object()}, {"status", "error"}, {"error", std::string(message)}};
  if (!transaction.is_null()) out["transaction"] = transaction;
  return dump_json(out);
}

}  // namespace t2m::mqtt

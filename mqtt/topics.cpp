#include "mqtt/topics.h"

#include <array>

namespace t2m::mqtt {
namespace {

constexpr std::string_view SET = "set";
constexpr std::string_view GET = "get";
constexpr std::string_view AVAILABILITY = "availability";
constexpr std::string_view BRIDGE = "bridge";
constexpr std::string_view REQUEST = "request";
constexpr std::string_view RESULT = "result";

constexpr std::array<std::string_view, 4> RESERVED = {SET, GET, AVAILABILITY, BRIDGE};
// bridge/<leaf> topics we publish ourselves; "response" is followed by a path.
constexpr std::array<std::string_view, 8> BRIDGE_OWN = {"state",   "info",   "devices",  "event",
                                                        "logging", "health", "response", "groups"};

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

std::string join(const std::vector<std::string_view>& parts, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) {
    if (i != from) out += '/';
    out += parts[i];
  }
  return out;
}

bool has_forbidden_char(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '+' || c == '#' || u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

template <size_t N>
bool contains(const std::array<std::string_view, N>& set, std::string_view word) {
  for (auto w : set)
    if (w == word) return true;
  return false;
}

}  // namespace

bool is_reserved_word(std::string_view segment) {
  return contains(RESERVED, segment);
}

Status validate_friendly_name(std::string_view name) {
  if (name.empty()) return fail("mqtt_name_invalid", "friendly name is empty");
  if (name.size() > MAX_FRIENDLY_NAME_BYTES)
    return fail("mqtt_name_invalid",
                "friendly name is longer than " + std::to_string(MAX_FRIENDLY_NAME_BYTES) + " bytes");
  if (has_forbidden_char(name))
    return fail("mqtt_name_invalid",
                "friendly name '" + std::string(name) + "' contains '+', '#' or a control character");
  auto levels = split(name);
  if (levels.size() > MAX_NAME_LEVELS)
    return fail("mqtt_name_invalid", "friendly name '" + std::string(name) + "' has more than " +
                                         std::to_string(MAX_NAME_LEVELS) + " levels");
  for (auto level : levels) {
    if (level.empty())
      return fail("mqtt_name_invalid", "friendly name '" + std::string(name) +
                                           "' has an empty level (leading, trailing or double '/')");
    if (is_reserved_word(level))
      return fail("mqtt_name_invalid", "friendly name '" + std::string(name) + "' uses the reserved word '" +
                                           std::string(level) + "' as a level");
  }
  return {};
}

Status validate_base_topic(std::string_view base) {
  if (base.empty()) return fail("mqtt_base_topic_invalid", "base topic is empty");
  if (base.size() > MAX_TOPIC_BYTES / 2) return fail("mqtt_base_topic_invalid", "base topic is too long");
  if (has_forbidden_char(base))
    return fail("mqtt_base_topic_invalid", "base topic contains '+', '#' or a control character");
  for (auto level : split(base))
    if (level.empty()) return fail("mqtt_base_topic_invalid", "base topic has an empty level");
  return {};
}

Topics::Topics(std::string base) : base_(std::move(base)) {}

std::string Topics::device_(std::string_view name, std::string_view suffix) const {
  std::string t;
  t.reserve(base_.size() + name.size() + suffix.size() + 2);
  t += base_;
  t += '/';
  t += name;
  if (!suffix.empty()) {
    t += '/';
    t += suffix;
  }
  return t;
}

std::string Topics::state(std::string_view name) const {
  return device_(name, {});
}
std::string Topics::availability(std::string_view name) const {
  return device_(name, AVAILABILITY);
}
std::string Topics::set(std::string_view name) const {
  return device_(name, SET);
}
std::string Topics::set_attr(std::string_view name, std::string_view attr) const {
  return device_(name, std::string(SET) + '/' + std::string(attr));
}
std::string Topics::get(std::string_view name) const {
  return device_(name, GET);
}
std::string Topics::get_attr(std::string_view name, std::string_view attr) const {
  return device_(name, std::string(GET) + '/' + std::string(attr));
}
std::string Topics::set_result(std::string_view name) const {
  return device_(name, std::string(SET) + '/' + std::string(RESULT));
}
std::optional<std::string> Topics::attribute(std::string_view name, std::string_view code) const {
  if (code.empty() || is_reserved_word(code) || has_forbidden_char(code) ||
      code.find('/') != std::string_view::npos)
    return std::nullopt;
  return device_(name, code);
}

std::string Topics::bridge(std::string_view leaf) const {
  return base_ + '/' + std::string(BRIDGE) + '/' + std::string(leaf);
}
std::string Topics::bridge_request(std::string_view path) const {
  return bridge("request/" + std::string(path));
}
std::string Topics::bridge_response(std::string_view path) const {
  return bridge("response/" + std::string(path));
}

std::vector<std::string> Topics::subscriptions() const {
  std::vector<std::string> out;
  std::string prefix = base_;
  for (size_t level = 1; level <= MAX_NAME_LEVELS; ++level) {
    prefix += "/+";
    out.push_back(prefix + "/set");
    out.push_back(prefix + "/set/+");
    out.push_back(prefix + "/get");
    out.push_back(prefix + "/get/+");
  }
  out.push_back(bridge("request/#"));
  return out;
}

Result<ParsedTopic> Topics::parse(std::string_view topic) const {
  if (topic.size() > MAX_TOPIC_BYTES) return fail("mqtt_topic_invalid", "topic is too long");
  if (topic.size() <= base_.size() + 1 || topic.compare(0, base_.size(), base_) != 0 ||
      topic[base_.size()] != '/')
    return fail("mqtt_topic_foreign", "topic '" + std::string(topic) + "' is not under '" + base_ + "/'");
  std::string_view rest = topic.substr(base_.size() + 1);
  if (has_forbidden_char(rest))
    return fail("mqtt_topic_invalid",
                "topic '" + std::string(topic) + "' contains a wildcard or control character");
  auto seg = split(rest);
  for (auto s : seg)
    if (s.empty()) return fail("mqtt_topic_invalid", "topic '" + std::string(topic) + "' has an empty level");
  const size_t n = seg.size();

  ParsedTopic out;
  if (seg[0] == BRIDGE) {
    if (n >= 2 && seg[1] == REQUEST) {
      if (n == 2)
        return fail("mqtt_topic_invalid", "bridge request topic '" + std::string(topic) + "' has no path");
      out.kind = TopicKind::BRIDGE_REQUEST;
      out.path = join(seg, 2, n);
      return out;
    }
    if (n >= 2 && contains(BRIDGE_OWN, seg[1])) {
      out.kind = TopicKind::OWN;
      return out;
    }
    return fail("mqtt_topic_unknown", "unknown bridge topic '" + std::string(topic) + "'");
  }

  // From the end: <name>/set/<attr>, <name>/get/<attr>, <name>/set, <name>/get, anything else is ours.
  size_t name_end = n;
  if (n >= 3 && (seg[n - 2] == SET || seg[n - 2] == GET)) {
    bool is_set = seg[n - 2] == SET;
    if (is_set && seg[n - 1] == RESULT) {
      out.kind = TopicKind::OWN;
    } else {
      out.kind = is_set ? TopicKind::SET_ATTR : TopicKind::GET_ATTR;
      out.attribute = std::string(seg[n - 1]);
    }
    name_end = n - 2;
  } else if (n >= 2 && (seg[n - 1] == SET || seg[n - 1] == GET)) {
    out.kind = seg[n - 1] == SET ? TopicKind::SET : TopicKind::GET;
    name_end = n - 1;
  } else if (n >= 2 && seg[n - 1] == AVAILABILITY) {
    out.kind = TopicKind::OWN;
    name_end = n - 1;
  } else {
    // State or a plain per-DP topic: only the gateway publishes these. A lone reserved word has no name.
    if (n == 1 && is_reserved_word(seg[0]))
      return fail("mqtt_topic_invalid", "topic '" + std::string(topic) + "' has no device name");
    out.kind = TopicKind::OWN;
    return out;
  }
  std::string name = join(seg, 0, name_end);
  if (auto valid = validate_friendly_name(name); !valid)
    return fail("mqtt_topic_invalid", "topic '" + std::string(topic) + "': " + valid.error().message);
  out.name = std::move(name);
  return out;
}

}  // namespace t2m::mqtt

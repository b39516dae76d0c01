// The gateway's MQTT topic grammar, zigbee2mqtt style (docs/conventions.md §1.1, §6). Pure: no I/O.
//
//   <base>/<name>                      device state (JSON), we publish
//   <base>/<name>/availability         {"state":"online|offline"}, we publish
//   <base>/<name>/set                  JSON object (or bare ON/OFF/TOGGLE), incoming
//   <base>/<name>/set/<attr>           bare value for one DP (code or id), incoming
//   <base>/<name>/get[/<attr>]         refresh request, incoming
//   <base>/<name>/set/result           answers to commands, we publish
//   <base>/<name>/<code>               optional plain per-DP topics, we publish
//   <base>/bridge/{state,info,devices,event,logging,health}
//   <base>/bridge/request/<path...>  -> <base>/bridge/response/<path...>
//
// Friendly names may contain '/' (as in zigbee2mqtt), so topics are parsed from the end. That is
// unambiguous only because no name segment may be a reserved word (set, get, availability, bridge).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace t2m::mqtt {

inline constexpr std::string_view DEFAULT_BASE_TOPIC = "tuya2mqtt";
// Names may nest ("floor1/kitchen/plug"), but subscriptions use one '+' per level (see
// Topics::subscriptions()), so the depth is bounded.
inline constexpr size_t MAX_NAME_LEVELS = 5;
inline constexpr size_t MAX_FRIENDLY_NAME_BYTES = 128;
// MQTT limits a topic to 65535 bytes; ours stay far below, and a longer one is rejected early.
inline constexpr size_t MAX_TOPIC_BYTES = 1024;

enum class TopicKind {
  SET,             // <name>/set
  SET_ATTR,        // <name>/set/<attr>
  GET,             // <name>/get
  GET_ATTR,        // <name>/get/<attr>
  BRIDGE_REQUEST,  // bridge/request/<path>
  OWN,             // a topic the gateway itself publishes (state, availability, set/result, bridge/*):
                   // an echo of our own traffic, to be ignored without counting an error
};

struct ParsedTopic {
  TopicKind kind = TopicKind::OWN;
  std::string name;       // device friendly name (SET..GET_ATTR)
  std::string attribute;  // DP code or id as written (SET_ATTR, GET_ATTR)
  std::string path;       // "device/rename" (BRIDGE_REQUEST)
};

// True for words that may not be a name segment (they would make topics ambiguous) and may not be
// used as a plain per-DP topic leaf.
bool is_reserved_word(std::string_view segment);

// For configuration and rename: non-empty, at most MAX_FRIENDLY_NAME_BYTES and MAX_NAME_LEVELS
// levels, no empty level (leading, trailing or double '/'), no '+', '#', control characters, and
// no level that is a reserved word.
Status validate_friendly_name(std::string_view name);
// The base topic: non-empty, no wildcards, no empty level, no control characters.
Status validate_base_topic(std::string_view base);

class Topics {
 public:
  // `base` should have passed validate_base_topic().
  explicit Topics(std::string base = std::string(DEFAULT_BASE_TOPIC));

  const std::string& base() const { return base_; }

  std::string state(std::string_view name) const;
  std::string availability(std::string_view name) const;
  std::string set(std::string_view name) const;
  std::string set_attr(std::string_view name, std::string_view attr) const;
  std::string get(std::string_view name) const;
  std::string get_attr(std::string_view name, std::string_view attr) const;
  std::string set_result(std::string_view name) const;
  // Plain per-DP topic; nullopt when `code` is reserved or not a valid single level (it would collide
  // with a command or availability topic).
  std::optional<std::string> attribute(std::string_view name, std::string_view code) const;

  std::string bridge(std::string_view leaf) const;  // <base>/bridge/<leaf>
  std::string bridge_state() const { return bridge("state"); }
  std::string bridge_info() const { return bridge("info"); }
  std::string bridge_devices() const { return bridge("devices"); }
  std::string bridge_event() const { return bridge("event"); }
  std::string bridge_logging() const { return bridge("logging"); }
  std::string bridge_health() const { return bridge("health"); }
  std::string bridge_request(std::string_view path) const;
  std::string bridge_response(std::string_view path) const;

  // Filters the gateway subscribes to. One '+' per name level up to MAX_NAME_LEVELS for each of
  // set, set/+, get, get/+, plus bridge/request/#. Subscribing to <base>/# (as zigbee2mqtt does)
  // would also deliver every state message we publish (thousands a second) and, on each reconnect,
  // every retained state back to us; bounded '+' filters keep that traffic off the gateway at the
  // price of a depth limit on names. Our own set/result still matches <name>/set/+ and parses as OWN.
  std::vector<std::string> subscriptions() const;

  // Parses an incoming topic. Errors: topic outside the base, empty level, wildcard, invalid name,
  // empty request path, unknown bridge topic.
  Result<ParsedTopic> parse(std::string_view topic) const;

 private:
  std::string device_(std::string_view name, std::string_view suffix) const;
  std::string base_;
};

}  // namespace t2m::mqtt

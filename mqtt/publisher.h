// The retained messages the gateway owns (state, availability, bridge/state, bridge/info, discovery
// configs): remembered so that after every (re)connect they are all published again (a broker without
// persistence forgets them), and cleared with an empty retained payload when a device is renamed or
// removed. Loop thread only. It sits on the hot path (thousands of state messages a second): one hash
// lookup, one payload copy and one Client::publish per message.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "mqtt/client.h"

namespace t2m::mqtt {

class Publisher {
 public:
  enum class When {
    ALWAYS,      // publish every time (device state: every report is news to Node-RED flows)
    IF_CHANGED,  // skip when the stored payload is identical (availability, bridge/info)
  };

  struct Stats {
    uint64_t published = 0;    // accepted by the client
    uint64_t unchanged = 0;    // IF_CHANGED and identical: not sent
    uint64_t deferred = 0;     // stored while disconnected: sent by on_connected()
    uint64_t republished = 0;  // sent again by on_connected()
    uint64_t cleared = 0;      // empty retained payloads sent
    uint64_t failed = 0;       // rejected by the client (buffer full, invalid topic)
  };

  explicit Publisher(Client& client) : client_(client) {}
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Stores the retained message under `owner` (a device id; "" for the bridge itself) and publishes
  // it if connected. While disconnected it is only stored: on_connected() sends the latest value,
  // which is better than a backlog of stale ones. Returns true if it was handed to the client now.
  bool set_retained(std::string_view owner, const std::string& topic, std::string payload,
                    When when = When::ALWAYS, Qos qos = Qos::AT_LEAST_ONCE);

  // Like set_retained, but for large documents that are cheap to build again (bridge/devices: about
  // 2 kB per device): only a digest of the payload is kept (for IF_CHANGED), and after a reconnect the
  // payload comes from `render`, which must give the document as it is then. retained_payload() is null
  // for such a topic.
  using Render = std::function<std::string()>;
  bool set_retained_rendered(std::string_view owner, const std::string& topic, std::string payload,
                             Render render, When when = When::ALWAYS, Qos qos = Qos::AT_LEAST_ONCE);

  // Not retained and not remembered (bridge/event, bridge/response, set/result). While disconnected
  // the client buffers QoS 1 and drops QoS 0 (see Client::publish).
  Status publish(Message message);

  // Forgets the topic and clears it on the broker (empty retained payload). If disconnected, the
  // clear is sent by on_connected(). Clears a topic even if we did not know it (stale leftovers).
  void clear_retained(const std::string& topic);
  // Clears every retained topic of `owner`; with a prefix, only the topics equal to it or below it
  // (rename: clear "<base>/<old name>" but keep the id-based discovery configs). Returns how many.
  size_t clear_owner(std::string_view owner, std::string_view topic_prefix = {});

  // Call from ClientHandlers::on_connected: sends pending clears, then every stored retained message
  // in the order they were first set (bridge/state first if it was set first).
  void on_connected();

  const std::string* retained_payload(const std::string& topic) const;
  size_t retained_count() const { return entries_.size(); }
  size_t pending_clears() const { return pending_clears_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  struct Entry {
    std::string topic;
    std::string payload;  // empty when `render` is set
    std::string owner;
    Qos qos = Qos::AT_LEAST_ONCE;
    Render render;
    size_t digest = 0;  // of the last rendered payload
  };
  Entry& upsert_(std::string_view owner, const std::string& topic, Qos qos);
  bool send_(const Entry& e, std::string* payload = nullptr);
  void send_clear_(const std::string& topic);
  void erase_at_(size_t index);

  Client& client_;
  std::vector<Entry> entries_;                     // dense, for a fast republish
  std::unordered_map<std::string, size_t> index_;  // topic -> position in entries_
  std::vector<std::string> pending_clears_;
  Stats stats_;
};

}  // namespace t2m::mqtt

// De-duplication and ordering for push messages (docs/cloud.md §6.a, §8.13): Pulsar redelivers every message
// not acked within ackTimeoutMillis and MQTT QoS 1 may deliver twice, so ids seen recently are dropped;
// reports can arrive out of order, so per device and DP only a value at least as new as the last one
// passes. Pure: time is a parameter, memory is bounded.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "cloud/push_envelope.h"

namespace t2m::cloud::push {

// Remembers the last `capacity` ids for at most `ttl_ms`.
class DedupWindow {
 public:
  static constexpr size_t DEFAULT_CAPACITY = 4096;
  // Far longer than any redelivery delay (ackTimeoutMillis is 3-30 s, reconnects add a minute).
  static constexpr uint64_t DEFAULT_TTL_MS = 10 * 60 * 1000;

  explicit DedupWindow(size_t capacity = DEFAULT_CAPACITY, uint64_t ttl_ms = DEFAULT_TTL_MS);
  // True the first time `id` is seen inside the window (and records it); false for a repeat.
  bool first_seen(std::string_view id, uint64_t now_ms);
  size_t size() const { return order_.size(); }

 private:
  void expire_(uint64_t now_ms);
  struct Entry {
    std::string id;
    uint64_t seen_ms;
  };
  size_t capacity_;
  uint64_t ttl_ms_;
  std::deque<Entry> order_;
  std::unordered_set<std::string> ids_;
};

// Newest-wins per (device, DP). A DP is keyed by its code, or by "#<dpId>" on the dpId-only variant.
class NewestTracker {
 public:
  static constexpr size_t DEFAULT_MAX_DEVICES = 4096;
  static constexpr size_t MAX_KEYS_PER_DEVICE = 512;

  explicit NewestTracker(size_t max_devices = DEFAULT_MAX_DEVICES);
  // True if `t_ms` is not older than the newest time recorded for the key (then records it).
  bool admit(std::string_view dev_id, std::string_view key, int64_t t_ms);
  // Drops the items older than what was already seen; returns how many were dropped.
  size_t filter(StatusReport& report);
  // A deleted device starts afresh if it is bound again.
  void forget(std::string_view dev_id);
  size_t devices() const { return devices_.size(); }

  static std::string item_key(const StatusItem& item);

 private:
  std::unordered_map<std::string, std::unordered_map<std::string, int64_t>> devices_;
  std::deque<std::string> insertion_;  // eviction order when max_devices is exceeded
  size_t max_devices_;
};

}  // namespace t2m::cloud::push

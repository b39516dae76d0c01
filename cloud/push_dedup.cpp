#include "cloud/push_dedup.h"

#include <algorithm>

namespace t2m::cloud::push {

DedupWindow::DedupWindow(size_t capacity, uint64_t ttl_ms)
    : capacity_(std::max<size_t>(capacity, 1)), ttl_ms_(ttl_ms) {}

void DedupWindow::expire_(uint64_t now_ms) {
  while (!order_.empty() && (order_.size() >= capacity_ || now_ms - order_.front().seen_ms > ttl_ms_)) {
    ids_.erase(order_.front().id);
    order_.pop_front();
  }
}

bool DedupWindow::first_seen(std::string_view id, uint64_t now_ms) {
  // Expire by age first so an id older than the TTL counts as new again.
  while (!order_.empty() && now_ms - order_.front().seen_ms > ttl_ms_) {
    ids_.erase(order_.front().id);
    order_.pop_front();
  }
  std::string key(id);
  if (ids_.count(key) != 0) return false;
  expire_(now_ms);
  ids_.insert(key);
  order_.push_back(Entry{std::move(key), now_ms});
  return true;
}

NewestTracker::NewestTracker(size_t max_devices) : max_devices_(std::max<size_t>(max_devices, 1)) {}

std::string NewestTracker::item_key(const StatusItem& item) {
  if (!item.code.empty()) return item.code;
  return "#" + std::to_string(item.dp_id.value_or(-1));
}

bool NewestTracker::admit(std::string_view dev_id, std::string_view key, int64_t t_ms) {
  std::string dev(dev_id);
  auto it = devices_.find(dev);
  if (it == devices_.end()) {
    while (devices_.size() >= max_devices_ && !insertion_.empty()) {
      devices_.erase(insertion_.front());
      insertion_.pop_front();
    }
    it = devices_.emplace(dev, std::unordered_map<std::string, int64_t>{}).first;
    insertion_.push_back(dev);
  }
  auto& keys = it->second;
  std::string k(key);
  auto kit = keys.find(k);
  if (kit == keys.end()) {
    // A device with an absurd number of DP codes is not tracked further: pass, never block.
    if (keys.size() < MAX_KEYS_PER_DEVICE) keys.emplace(std::move(k), t_ms);
    return true;
  }
  if (t_ms < kit->second) return false;
  kit->second = t_ms;
  return true;
}

size_t NewestTracker::filter(StatusReport& report) {
  size_t before = report.items.size();
  auto stale = [&](const StatusItem& item) { return !admit(report.dev_id, item_key(item), item.t_ms); };
  report.items.erase(std::remove_if(report.items.begin(), report.items.end(), stale), report.items.end());
  return before - report.items.size();
}

void NewestTracker::forget(std::string_view dev_id) {
  std::string dev(dev_id);
  if (devices_.erase(dev) == 0) return;
  insertion_.erase(std::remove(insertion_.begin(), insertion_.end(), dev), insertion_.end());
}

}  // namespace t2m::cloud::push

#include "mqtt/publisher.h"

#include <algorithm>

#include "common/log.h"

namespace t2m::mqtt {
namespace {
constexpr const char* PUBLISHER_TAG = "mqtt.publisher";
}

Publisher::Entry& Publisher::upsert_(std::string_view owner, const std::string& topic, Qos qos) {
  if (auto it = index_.find(topic); it != index_.end()) {
    Entry& e = entries_[it->second];
    e.qos = qos;
    if (e.owner != owner) e.owner = std::string(owner);
    return e;
  }
  index_.emplace(topic, entries_.size());
  entries_.push_back(Entry{topic, std::string(), std::string(owner), qos, Render(), 0});
  // A topic set again after a clear that has not gone out yet must not be cleared afterwards.
  if (!pending_clears_.empty())
    pending_clears_.erase(std::remove(pending_clears_.begin(), pending_clears_.end(), topic),
                          pending_clears_.end());
  return entries_.back();
}

bool Publisher::set_retained(std::string_view owner, const std::string& topic, std::string payload, When when,
                             Qos qos) {
  if (auto it = index_.find(topic); it != index_.end() && when == When::IF_CHANGED) {
    const Entry& old = entries_[it->second];
    if (!old.render && old.payload == payload && old.qos == qos) {
      ++stats_.unchanged;
      return false;
    }
  }
  Entry& e = upsert_(owner, topic, qos);
  e.payload = std::move(payload);
  e.render = nullptr;
  if (!client_.connected()) {
    ++stats_.deferred;
    return false;
  }
  return send_(e);
}

bool Publisher::set_retained_rendered(std::string_view owner, const std::string& topic, std::string payload,
                                      Render render, When when, Qos qos) {
  // A 64-bit digest: a collision would skip one update of a document that changes again soon after.
  const size_t digest = std::hash<std::string>{}(payload);
  if (auto it = index_.find(topic); it != index_.end() && when == When::IF_CHANGED) {
    const Entry& old = entries_[it->second];
    if (old.render && old.digest == digest && old.qos == qos) {
      ++stats_.unchanged;
      return false;
    }
  }
  Entry& e = upsert_(owner, topic, qos);
  e.payload.clear();
  e.payload.shrink_to_fit();
  e.render = std::move(render);
  e.digest = digest;
  if (!client_.connected()) {
    ++stats_.deferred;
    return false;
  }
  return send_(e, &payload);
}

bool Publisher::send_(const Entry& e, std::string* payload) {
  std::string body;
  if (payload) {
    body = std::move(*payload);
  } else if (e.render) {
    body = e.render();
  } else {
    body = e.payload;
  }
  auto st = client_.publish(Message{e.topic, std::move(body), e.qos, true});
  if (!st) {
    ++stats_.failed;
    T2M_LOGW(PUBLISHER_TAG, "publish to %s failed: %s", e.topic.c_str(), st.error().message.c_str());
    return false;
  }
  ++stats_.published;
  return true;
}

Status Publisher::publish(Message message) {
  message.retained = false;
  auto st = client_.publish(std::move(message));
  if (st)
    ++stats_.published;
  else
    ++stats_.failed;
  return st;
}

void Publisher::send_clear_(const std::string& topic) {
  auto st = client_.publish(Message{topic, std::string(), Qos::AT_LEAST_ONCE, true});
  if (st) {
    ++stats_.cleared;
  } else {
    ++stats_.failed;
    T2M_LOGW(PUBLISHER_TAG, "clearing %s failed: %s", topic.c_str(), st.error().message.c_str());
  }
}

void Publisher::erase_at_(size_t index) {
  index_.erase(entries_[index].topic);
  if (index + 1 != entries_.size()) {
    entries_[index] = std::move(entries_.back());
    index_[entries_[index].topic] = index;
  }
  entries_.pop_back();
}

void Publisher::clear_retained(const std::string& topic) {
  if (auto it = index_.find(topic); it != index_.end()) erase_at_(it->second);
  if (client_.connected()) {
    send_clear_(topic);
  } else if (std::find(pending_clears_.begin(), pending_clears_.end(), topic) == pending_clears_.end()) {
    pending_clears_.push_back(topic);
  }
}

size_t Publisher::clear_owner(std::string_view owner, std::string_view topic_prefix) {
  auto under = [&](const std::string& topic) {
    if (topic_prefix.empty()) return true;
    if (topic.compare(0, topic_prefix.size(), topic_prefix) != 0) return false;
    return topic.size() == topic_prefix.size() || topic[topic_prefix.size()] == '/';
  };
  std::vector<std::string> doomed;
  for (const auto& e : entries_)
    if (e.owner == owner && under(e.topic)) doomed.push_back(e.topic);
  for (const auto& topic : doomed) clear_retained(topic);
  return doomed.size();
}

void Publisher::on_connected() {
  auto clears = std::move(pending_clears_);
  pending_clears_.clear();
  for (const auto& topic : clears) send_clear_(topic);
  for (const auto& e : entries_)
    if (send_(e)) ++stats_.republished;
  T2M_LOGD(PUBLISHER_TAG, "republished %zu retained messages, %zu clears", entries_.size(), clears.size());
}

const std::string* Publisher::retained_payload(const std::string& topic) const {
  auto it = index_.find(topic);
  if (it == index_.end() || entries_[it->second].render) return nullptr;
  return &entries_[it->second].payload;
}

}  // namespace t2m::mqtt

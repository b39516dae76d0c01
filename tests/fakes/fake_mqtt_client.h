// FakeMqttClient: a Client for unit tests. It records what the code under test publishes and
// subscribes, keeps a broker-like retained store, and lets the test play the broker: connect,
// drop the connection, deliver messages, report errors. Everything runs synchronously on the calling
// (test) thread, which stands in for the loop thread.
//
// Semantics mirror PahoClient: while disconnected, QoS 1/2 publishes are buffered (up to
// max_buffered(), then publish fails with mqtt_buffer_full) and delivered by simulate_connect();
// QoS 0 publishes are dropped and counted. Subscriptions are remembered across reconnects (PahoClient
// restores them itself before on_connected), and accepted while disconnected.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mqtt/client.h"

namespace t2m::mqtt {

class FakeMqttClient final : public Client {
 public:
  explicit FakeMqttClient(size_t max_buffered = 1000) : max_buffered_(max_buffered) {}

  // --- Client ---
  Status connect(const ConnectOptions& options, ClientHandlers handlers) override {
    ++connect_calls;
    options_ = options;
    handlers_ = std::move(handlers);
    if (fail_connect) return fail(*fail_connect);
    return {};
  }

  Status publish(Message message) override {
    ++publish_calls;
    if (fail_publish) return fail(*fail_publish);
    if (message.topic.empty() || message.topic.find_first_of("+#") != std::string::npos)
      return fail("mqtt_topic_invalid", "invalid topic for publish: '" + message.topic + "'");
    if (!connected_) {
      if (message.qos == Qos::AT_MOST_ONCE) {
        ++dropped_offline;
        return {};
      }
      if (buffered.size() >= max_buffered_) return fail("mqtt_buffer_full", "offline buffer full");
      buffered.push_back(std::move(message));
      return {};
    }
    deliver_(std::move(message));
    return {};
  }

  Status subscribe(const std::string& filter, Qos qos) override {
    if (fail_subscribe) return fail(*fail_subscribe);
    subscriptions[filter] = qos;
    subscribe_log.push_back(filter);
    return {};
  }

  Status unsubscribe(const std::string& filter) override {
    subscriptions.erase(filter);
    unsubscribe_log.push_back(filter);
    return {};
  }

  bool connected() const override { return connected_; }

  void disconnect(std::function<void()> done) override {
    ++disconnect_calls;
    connected_ = false;
    if (done) done();
  }

  size_t max_buffered() const override { return max_buffered_; }

  // --- broker side, driven by the test ---
  // Connects (or reconnects): flushes the offline buffer, then calls on_connected.
  void simulate_connect(bool session_present = false) {
    connected_ = true;
    auto pending = std::move(buffered);
    buffered.clear();
    for (auto& m : pending) deliver_(std::move(m));
    if (handlers_.on_connected) handlers_.on_connected(session_present);
  }
  void simulate_connection_lost(const std::string& cause = "connection lost") {
    connected_ = false;
    if (handlers_.on_connection_lost) handlers_.on_connection_lost(cause);
  }
  void simulate_error(const Error& error) {
    if (handlers_.on_error) handlers_.on_error(error);
  }
  // Delivers a message to the code under test as if the broker sent it (no filter check).
  void inject(Message message) {
    if (handlers_.on_message) handlers_.on_message(std::move(message));
  }
  void inject(const std::string& topic, const std::string& payload) {
    inject(Message{topic, payload, Qos::AT_MOST_ONCE, false});
  }
  // The broker's last will: what it would publish if this client died.
  const std::optional<Message>& will() const { return options_.will; }
  const ConnectOptions& options() const { return options_; }

  // --- inspection ---
  std::vector<Message> published_to(const std::string& topic) const {
    std::vector<Message> out;
    for (const auto& m : published)
      if (m.topic == topic) out.push_back(m);
    return out;
  }
  std::optional<Message> last_published(const std::string& topic) const {
    for (auto it = published.rbegin(); it != published.rend(); ++it)
      if (it->topic == topic) return *it;
    return std::nullopt;
  }
  bool has_retained(const std::string& topic) const { return retained.count(topic) != 0; }
  void clear_log() { published.clear(); }

  // Everything delivered to the broker, in order (buffered ones once flushed).
  std::vector<Message> published;
  // Broker-side retained store: an empty retained payload deletes the topic.
  std::map<std::string, std::string> retained;
  std::vector<Message> buffered;
  std::map<std::string, Qos> subscriptions;
  std::vector<std::string> subscribe_log;
  std::vector<std::string> unsubscribe_log;
  size_t publish_calls = 0;
  size_t connect_calls = 0;
  size_t disconnect_calls = 0;
  size_t dropped_offline = 0;
  // Set to make the next calls fail with this error (until reset).
  std::optional<Error> fail_connect;
  std::optional<Error> fail_publish;
  std::optional<Error> fail_subscribe;

 private:
  void deliver_(Message m) {
    if (m.retained) {
      if (m.payload.empty())
        retained.erase(m.topic);
      else
        retained[m.topic] = m.payload;
    }
    published.push_back(std::move(m));
  }

  size_t max_buffered_;
  bool connected_ = false;
  ConnectOptions options_;
  ClientHandlers handlers_;
};

}  // namespace t2m::mqtt

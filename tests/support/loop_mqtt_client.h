// A small MQTT 3.1.1 client on a test's uv loop (plain TCP to 127.0.0.1): the observer of the gateway
// fixtures and any extra subscriber or publisher a test needs. Not Paho on purpose: Paho serves every
// client of a process from one poll thread, so a second Paho client next to the gateway's makes the
// gateway's connect wait about two seconds for that thread, on every start and every reconnect.
//
// QoS 1 both ways (what the broker delivers at QoS 1 is acknowledged), no keep-alive, clean session.
// After a lost or refused connection it connects again every `reconnect_ms` and subscribes again;
// ready() is true once connected and every subscription is acknowledged, so a test that waited for it
// knows the broker routes the topics to it. Loop thread only; test code.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace t2m::test {

struct MqttMessage {
  std::string topic;
  std::string payload;
  bool retained = false;
};

class LoopMqttClient {
 public:
  struct Options {
    uint16_t port = 0;
    std::string client_id;
    std::string username, password;
    std::vector<std::string> subscriptions;  // QoS 1, made again on every connect
    int reconnect_ms = 100;
  };
  using MessageFn = std::function<void(MqttMessage)>;
  // `acked(true)` on PUBACK, `acked(false)` when the connection ended first.
  using AckFn = std::function<void(bool)>;

  LoopMqttClient(uv_loop_t* loop, Options options, MessageFn on_message);
  // Closes what is still open; the loop must run afterwards for the handles to go.
  ~LoopMqttClient();
  LoopMqttClient(const LoopMqttClient&) = delete;
  LoopMqttClient& operator=(const LoopMqttClient&) = delete;

  void start();
  bool ready() const;
  bool connected() const;
  size_t connects() const;  // CONNACKs accepted so far
  // QoS 1. While not connected the message waits and goes out after the next connect.
  void publish(const std::string& topic, const std::string& payload, bool retain = false, AckFn acked = {});
  // Adds a subscription (made now if connected, and on every later connect).
  void subscribe(const std::string& filter);
  // Stops connecting again after the current connection ends (true) or resumes it (false).
  void set_paused(bool paused);
  // DISCONNECT, then closes the socket and the timer; `done` runs on the loop once they are gone.
  void close(std::function<void()> done);

 private:
  struct Impl;
  Impl* impl_;  // frees itself once its handles are closed
};

}  // namespace t2m::test

// PahoClient: the real Client, on Paho MQTT C++'s async_client (MQTT 3.1.1).
//
// Threads (docs/architecture.md): every Paho callback copies its data and LoopExecutor::post()s it; no Paho
// callback touches our members or blocks, and loop-side calls never wait on a token. All handlers run
// on the loop thread. mqtt::exception never leaves this adapter.
//
// Reconnect: our own back-off on the loop (reconnect_min_ms doubling to reconnect_max_ms, reset after
// a success) rather than Paho's automatic_reconnect, which counts in whole seconds and does not cover
// a failed first connect. Subscriptions made through subscribe() are remembered and restored on every
// connect before on_connected runs, so an owner that resubscribes in on_connected only repeats them.
//
// Offline buffering: QoS 1/2 publishes made while disconnected are kept by Paho (send-while-
// disconnected, bounded by ConnectOptions::max_buffered) and sent after the reconnect; past the bound
// publish() fails with mqtt_buffer_full. QoS 0 publishes made while disconnected are dropped and
// counted (at-most-once; the Publisher republishes retained state anyway). Messages already in flight
// when the connection dies are failed by Paho; non-retained QoS 1/2 ones are queued again (up to
// twice), retained ones are not (an old state must not overwrite a newer one: the Publisher
// republishes the latest).
//
// Errors through on_error (once per run of failures; retries continue with back-off): TLS handshake
// failures ("TLS handshake with ssl://127.0.0.1:8883 failed: certificate verify failed"), refused
// credentials, unreadable certificate files. Never a password or key password in a message.
//
// Lifetime: the LoopExecutor must outlive this object. Call disconnect(done) and let `done` run before
// destroying it; destroying a connected client drops the connection (the broker then sends the will).
#pragma once

#include <cstdint>
#include <memory>

#include "common/loop_executor.h"
#include "mqtt/client.h"

namespace t2m::mqtt {

class PahoClient final : public Client {
 public:
  struct Stats {
    uint64_t publishes = 0;         // accepted by Paho (sent or buffered)
    uint64_t publish_failures = 0;  // rejected (buffer full, bad topic) or failed delivery
    uint64_t dropped_offline = 0;   // QoS 0 while disconnected
    uint64_t messages_received = 0;
    uint64_t connects = 0;  // successful connects, first one included
    uint64_t connection_losses = 0;
    uint64_t connect_failures = 0;
    uint64_t resent = 0;  // non-retained QoS 1/2 queued again after failing in flight
  };

  // Bounds the clean disconnect: in-flight QoS 1 messages get this long to complete.
  static constexpr int DISCONNECT_TIMEOUT_MS = 2000;
  static constexpr int CONNECT_TIMEOUT_S = 10;

  explicit PahoClient(LoopExecutor& executor);
  ~PahoClient() override;
  PahoClient(const PahoClient&) = delete;
  PahoClient& operator=(const PahoClient&) = delete;

  // Starts connecting (once per object). Synchronous errors: invalid options, unreadable TLS files.
  Status connect(const ConnectOptions& options, ClientHandlers handlers) override;
  Status publish(Message message) override;
  Status subscribe(const std::string& filter, Qos qos) override;
  Status unsubscribe(const std::string& filter) override;
  bool connected() const override;
  void disconnect(std::function<void()> done) override;
  size_t max_buffered() const override;

  const Stats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace t2m::mqtt

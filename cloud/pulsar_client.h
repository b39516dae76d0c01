// Tuya Message Service consumer over Pulsar's WebSocket API (docs/cloud.md §6.a), on our libuv loop through
// libwebsockets: authenticates with the username/password upgrade headers, decodes every frame through
// PushProcessor, acks each message on the same socket, pings every 30 s, and reconnects with capped
// exponential back-off plus jitter. DNS is resolved with uv_getaddrinfo (lws 4.1 would block the loop),
// TLS verifies the certificate and the host name (unlike Tuya's own Python client).
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "cloud/push_processor.h"
#include "common/result.h"
#include "common/timers.h"

struct lws;  // libwebsockets stays out of this header

namespace t2m::cloud {

class LwsContext;

// Pulsar WebSocket base URL of a data center (docs/cloud.md §3): cn, us, us-e, eu, eu-w, in, sg. The us-e,
// eu-w and sg hosts follow Tuya's naming pattern but are unconfirmed (§9.2). nullopt for unknown codes.
std::optional<std::string> pulsar_url_for_region(std::string_view region);
inline constexpr std::string_view PULSAR_ENV_PROD = "event";
inline constexpr std::string_view PULSAR_ENV_TEST = "event-test";

struct PulsarOptions {
  std::string url =
      "wss://mqe.tuyaus.com:8285/";  // see pulsar_url_for_region(); ws:// only for loopback tests
  std::string access_id;
  std::string access_secret;  // secret: registered with the log scrubber
  std::string env = std::string(PULSAR_ENV_PROD);
  uint32_t ack_timeout_ms = 3000;  // sent as ackTimeoutMillis (Tuya Python SDK value)
  std::string ca_file;             // extra CA for wss (the system store is always used)
  size_t max_message_bytes = 256 * 1024;
  uint32_t reconnect_min_ms = 1000;
  uint32_t reconnect_max_ms = 60000;
  uint16_t ping_interval_s = 30;
  uint16_t idle_hangup_s = 90;
  uint32_t jitter_seed = 0;  // 0: seeded from std::random_device
};

enum class PulsarState { STOPPED, RESOLVING, CONNECTING, CONNECTED, WAITING_RETRY };
std::string_view to_string(PulsarState state);

struct PulsarStats {
  uint64_t connects = 0;          // upgrades that succeeded
  uint64_t disconnects = 0;       // established connections that ended
  uint64_t connect_failures = 0;  // DNS, TCP, TLS or upgrade failures
  uint64_t auth_failures = 0;     // upgrade refused with 401/403
  uint64_t acks_sent = 0;
  uint64_t oversize = 0;  // messages dropped for exceeding max_message_bytes
  uint32_t last_retry_delay_ms = 0;
};

class PulsarClient {
 public:
  PulsarClient(uv_loop_t* loop, Timers& timers, push::PushSink& sink, PulsarOptions options);
  ~PulsarClient();
  PulsarClient(const PulsarClient&) = delete;
  PulsarClient& operator=(const PulsarClient&) = delete;

  // Validates the options and starts connecting; never blocks. Failures after this are reported through
  // the sink (on_push_channel / on_push_error) and retried.
  Status start();
  // Closes the connection and cancels retries; idempotent. May be called from a PushSink callback (the
  // lws context is then released on the next loop turn). The lws context finishes closing on the loop:
  // at shutdown run lws_drain() (cloud/pulsar_lws.h) before the final close-walk. Do not destroy the
  // client from inside a PushSink callback.
  void stop();

  PulsarState state() const { return state_; }
  const PulsarStats& stats() const { return stats_; }
  const push::PushCounters& counters() const { return processor_.counters(); }
  // Request path of the WebSocket upgrade (§6.a), e.g. /ws/v2/consumer/persistent/<id>/out/event/<id>-sub?...
  std::string request_path() const;

 private:
  friend struct PulsarCallbacks;
  struct Resolve;
  struct LwsState;
  void connect_();
  void on_resolved_(int status, const std::string& ip);
  void schedule_retry_(const char* why);
  void on_established_(lws* wsi);
  void on_receive_(lws* wsi, const void* in, size_t len);
  int on_writeable_(lws* wsi);
  void on_connection_error_(lws* wsi, const char* why);
  void on_closed_();
  int append_headers_(void* in, size_t len);

  uv_loop_t* loop_;
  Timers& timers_;
  push::PushSink& sink_;
  PulsarOptions options_;
  push::PushProcessor processor_;
  PulsarStats stats_;
  PulsarState state_ = PulsarState::STOPPED;

  // Parsed from options_.url.
  bool tls_ = true;
  std::string host_;
  int port_ = 0;
  std::string base_path_;
  std::string password_;
  Bytes key_;

  std::unique_ptr<LwsState> lws_;        // context + retry policy; null when stopped
  std::unique_ptr<LwsState> graveyard_;  // stopped from inside an lws callback: released next turn
  TimerId grave_timer_ = NO_TIMER;
  int callback_depth_ = 0;
  bool auth_reported_ = false;
  lws* wsi_ = nullptr;
  Resolve* resolving_ = nullptr;  // owned by the pending uv_getaddrinfo request
  TimerId retry_timer_ = NO_TIMER;
  uint32_t attempt_ = 0;
  uint64_t connected_at_ms_ = 0;
  bool received_since_connect_ = false;
  bool stopping_ = false;
  std::string rx_;
  bool rx_oversize_ = false;
  std::deque<std::string> acks_;
  std::minstd_rand rng_;
};

}  // namespace t2m::cloud

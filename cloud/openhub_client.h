// The MQTT "open-hub" push channel (docs/cloud.md §6.b), over the abstract mqtt::Client: fetch a config
// (OpenAPI call, supplied by the caller as OpenhubConfigFetcher), connect with its client id /
// username / password, subscribe to every source topic, decrypt each message with password[8..24) per
// msg_encrypted_version, and hand it to PushProcessor. Before the config expires a new one is fetched,
// a new client connected, and the old one dropped; refused credentials fetch a new config at once;
// fetch failures back off 1 s -> 60 s with jitter.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cloud/push_processor.h"
#include "common/result.h"
#include "common/timers.h"
#include "mqtt/client.h"

namespace t2m::cloud {

// OpenAPI paths of the config call (§6.b): smart-home projects, and custom/industry projects.
inline constexpr std::string_view OPENHUB_CONFIG_PATH_SMART_HOME = "/v1.0/open-hub/access/config";
inline constexpr std::string_view OPENHUB_CONFIG_PATH_INDUSTRY = "/v1.0/iot-03/open-hub/access-config";

struct OpenhubConfig {
  std::string url;  // ssl://host:8883 or tcp://host:port
  std::string client_id;
  std::string username;
  std::string password;                    // secret; its characters [8, 24) are the AES key
  int64_t expire_time_s = 0;               // validity in seconds from the moment it was fetched
  std::vector<std::string> source_topics;  // every value of source_topic
  std::string msg_encrypted_version = std::string(push::OPENHUB_V1);  // the version that was requested
};

// Body of the signed config call: {"uid","link_id","link_type":"mqtt","topics":"device",
// "msg_encrypted_version"}. "1.0" (ECB) is preferred: the 2.0 AAD is unsettled (§9.1).
nlohmann::json openhub_config_request(std::string_view uid, std::string_view link_id,
                                      std::string_view msg_encrypted_version = push::OPENHUB_V1);
// Parses the call's `result` object. `requested_version` is what the request asked for (the response
// does not repeat it). Errors: code "openhub.config" with the missing/invalid field named.
Result<OpenhubConfig> parse_openhub_config(const nlohmann::json& result, std::string_view requested_version);

// Asynchronous config source: call `done` exactly once, on the loop thread, with a config or an error.
using OpenhubConfigDone = std::function<void(Result<OpenhubConfig>)>;
using OpenhubConfigFetcher = std::function<void(OpenhubConfigDone done)>;
// Makes a fresh, unconnected client (PahoClient connects once per object).
using MqttClientFactory = std::function<mqtt::ClientPtr()>;

struct OpenhubOptions {
  std::string ca_file;             // CA for ssl:// brokers (Tuya's public CA chain)
  uint32_t refresh_margin_s = 60;  // fetch a new config this long before expiry (§6.b)
  uint32_t min_validity_s = 30;    // never schedule a refresh sooner than this
  uint32_t fetch_backoff_min_ms = 1000;
  uint32_t fetch_backoff_max_ms = 60000;
  int keep_alive_s = 60;
  int reconnect_min_ms = 1000;  // the MQTT client's own reconnect back-off
  int reconnect_max_ms = 60000;
  uint32_t jitter_seed = 0;  // 0: seeded from std::random_device
};

enum class OpenhubState { STOPPED, FETCHING, CONNECTING, CONNECTED, WAITING_RETRY };
std::string_view to_string(OpenhubState state);

struct OpenhubStats {
  uint64_t config_fetches = 0;
  uint64_t config_failures = 0;
  uint64_t connects = 0;  // on_connected of any client generation
  uint64_t connection_losses = 0;
  uint64_t auth_errors = 0;  // on_error from the client (refused credentials, bad TLS)
  uint64_t rotations = 0;    // a newer client took over from an older one
  uint32_t last_retry_delay_ms = 0;
};

class OpenhubClient {
 public:
  OpenhubClient(Timers& timers, push::PushSink& sink, OpenhubConfigFetcher fetcher, MqttClientFactory factory,
                OpenhubOptions options = {});
  ~OpenhubClient();
  OpenhubClient(const OpenhubClient&) = delete;
  OpenhubClient& operator=(const OpenhubClient&) = delete;

  // Starts fetching a config and connecting; never blocks.
  Status start();
  // Disconnects every client and cancels timers; `done` (optional) runs when all disconnects completed.
  void stop(std::function<void()> done = {});

  OpenhubState state() const { return state_; }
  const OpenhubStats& stats() const { return stats_; }
  const push::PushCounters& counters() const { return processor_.counters(); }
  // Clients alive (the current one, plus an older one during a rotation, plus ones disconnecting).
  size_t clients() const { return gens_.size(); }

 private:
  struct Generation {
    uint64_t id = 0;
    OpenhubConfig config;
    Bytes key;
    mqtt::ClientPtr client;
    bool connected = false;
    bool retiring = false;
  };
  void fetch_();
  void on_config_(Result<OpenhubConfig> config);
  void schedule_fetch_retry_(const std::string& why);
  void connect_(OpenhubConfig config);
  void on_connected_(uint64_t gen);
  void on_lost_(uint64_t gen, const std::string& cause);
  void on_message_(uint64_t gen, const mqtt::Message& msg);
  void on_error_(uint64_t gen, const Error& e);
  void retire_older_than_(uint64_t gen);
  void retire_(Generation& g);
  Generation* find_(uint64_t gen);
  void erase_(uint64_t gen);
  uint64_t newest_connected_() const;

  Timers& timers_;
  push::PushSink& sink_;
  OpenhubConfigFetcher fetcher_;
  MqttClientFactory factory_;
  OpenhubOptions options_;
  push::PushProcessor processor_;
  OpenhubStats stats_;
  OpenhubState state_ = OpenhubState::STOPPED;
  std::list<Generation> gens_;
  uint64_t next_gen_ = 1;
  bool fetching_ = false;
  bool channel_up_ = false;
  uint32_t fetch_attempt_ = 0;
  TimerId fetch_timer_ = NO_TIMER;
  std::function<void()> stop_done_;
  // Handlers hold a weak reference: anything arriving after destruction is dropped.
  std::shared_ptr<OpenhubClient*> alive_;
  std::minstd_rand rng_;
};

}  // namespace t2m::cloud

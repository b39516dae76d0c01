// A fake of Tuya's Pulsar WebSocket message service (docs/cloud.md §7): a libwebsockets server on 127.0.0.1
// (free port), on the caller's libuv loop, that checks the consumer path and the username/password
// headers, sends encrypted frames (ECB or GCM per message, announced in properties.em), expects
// {"messageId"} acks, redelivers unacked frames after ack_timeout_ms with redeliveryCount + 1 (and to a
// new consumer after a reconnect), and drops connections on demand.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/pulsar_lws.h"
#include "common/bytes.h"
#include "common/result.h"
#include "common/timers.h"

namespace t2m::fakecloud {

struct FakePulsarOptions {
  std::string access_id = "1KAD46OrT9HafiKdsXeg";
  std::string access_secret = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC";
  std::string env = "event";
  uint64_t ack_timeout_ms = 300;
  uint64_t redelivery_check_ms = 25;
};

class FakePulsar {
 public:
  FakePulsar(uv_loop_t* loop, Timers& timers, FakePulsarOptions options = {});
  ~FakePulsar();
  FakePulsar(const FakePulsar&) = delete;
  FakePulsar& operator=(const FakePulsar&) = delete;

  Status start();
  int port() const { return port_; }
  // Base URL for PulsarOptions::url.
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }

  // Encrypts `plain_json` with the access secret (em "aes_ecb" or "aes_gcm"), wraps it in the §6.0
  // envelope with time `t` and queues it for the consumer. Returns the messageId.
  std::string publish(int protocol, std::string_view plain_json, std::string_view em,
                      uint64_t t = 1700000000123);
  // Queues a frame whose payload is given verbatim (base64 of an envelope, or junk); returns its id.
  std::string publish_payload(std::string_view payload_b64, std::string_view em);
  // Sends arbitrary text as a frame (not tracked for acks).
  void send_raw(std::string text);
  // Closes every consumer connection (the client should reconnect and get unacked frames again).
  void drop_connections();
  // Acks for the next `n` messages are "lost": the frame stays unacked and is redelivered.
  void lose_next_acks(size_t n) { lose_acks_ = n; }

  size_t connections() const { return sessions_.size(); }
  size_t accepted_total() const { return accepted_total_; }
  size_t auth_rejections() const { return auth_rejections_; }
  size_t redeliveries() const { return redeliveries_; }
  size_t unacked() const { return pending_.size(); }
  const std::vector<std::string>& acked() const { return acked_; }
  const std::vector<std::string>& rejected_paths() const { return rejected_paths_; }
  std::string expected_path() const;

  static int lws_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

 private:
  struct Pending {
    std::string payload;
    std::string em;
    int redelivery = 0;
    uint64_t sent_at = 0;
    bool sent = false;
  };
  struct Session {
    std::vector<std::string> out;
    bool drop = false;
  };
  std::string frame_(const std::string& id, const Pending& p) const;
  void send_to_all_(const std::string& text);
  void flush_pending_(bool only_due);
  bool check_auth_(lws* wsi);
  void on_ack_(const std::string& text);

  uv_loop_t* loop_;
  Timers& timers_;
  FakePulsarOptions options_;
  Bytes key_;
  std::unique_ptr<cloud::LwsContext> ctx_;
  int port_ = -1;
  std::map<lws*, Session> sessions_;
  std::map<std::string, Pending> pending_;  // by messageId
  std::vector<std::string> acked_;
  std::vector<std::string> rejected_paths_;
  uint64_t next_id_ = 1;
  size_t accepted_total_ = 0;
  size_t auth_rejections_ = 0;
  size_t redeliveries_ = 0;
  size_t lose_acks_ = 0;
  TimerId check_timer_ = NO_TIMER;
  uint32_t gcm_counter_ = 0;
};

}  // namespace t2m::fakecloud

// One persistent session per LAN device (or per Tuya gateway, with sub-devices addressed by cid):
// connect, 3.4/3.5 negotiation, version probing, heartbeats while idle, a resync query after every
// reconnect, a serialised command queue correlated with the device's answers, and reconnect with
// exponential back-off and jitter. Loop thread only; time and randomness are injected.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/result.h"
#include "common/timers.h"
#include "gateway/transport.h"
#include "protocol/constants.h"
#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/session.h"

namespace t2m::gw {

// Timings default to what works in the field (docs/protocol.md §6.3, §10).
struct SessionOptions {
  std::string device_id;
  Bytes local_key;  // 16 raw bytes
  std::string host;
  uint16_t port = proto::PORT_TCP;
  std::optional<proto::Version> version;  // nullopt: probe 3.3, 3.4, 3.5 and remember the winner
  std::optional<proto::Version>
      preferred_version;  // with version unset: probe this one first (learned earlier)
  bool device22 = false;
  std::vector<std::string> known_dp_ids;  // device22 queries name these ({"1":null,...})

  uint32_t connect_timeout_ms = 5000;
  uint32_t response_timeout_ms = 3000;  // replies are < 0.5 s at p99; 3 s leaves room for busy devices
  uint32_t heartbeat_idle_ms = 10000;   // devices drop idle links after ~30 s; 10 s is the field value
  uint32_t poll_interval_ms = 0;        // 0: rely on pushes; otherwise a periodic query
  uint32_t updatedps_interval_ms = 0;   // 0: off
  std::vector<int> updatedps_ids;       // e.g. {18, 19, 20}: short lists only (large ones crash plugs)
  size_t max_dps_per_write = 0;         // 0: all at once; 1: one DP per CONTROL
  uint32_t write_pacing_ms = 0;         // pause between writes for devices that drop fast writes
  uint32_t command_retries = 1;         // re-sends after a timeout before a write fails
  uint32_t offline_command_timeout_ms = 10000;  // how long a command waits for an offline device
  size_t max_queue = 64;
  uint32_t backoff_min_ms = 1000;
  uint32_t backoff_max_ms = 60000;
  uint32_t wrong_key_backoff_ms = 60000;  // a wrong key will not fix itself quickly: retry slowly
};

enum class LinkState { STOPPED, CONNECTING, HANDSHAKING, PROBING, ONLINE, BACKOFF };
std::string_view to_string(LinkState s);

struct SessionStats {
  uint64_t connects = 0;
  uint64_t disconnects = 0;
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t bad_frames = 0;
  uint64_t reports = 0;
  uint64_t commands_ok = 0;
  uint64_t commands_failed = 0;
  uint64_t timeouts = 0;
};

// Fills a buffer with random bytes (nonces, IV prefixes, jitter).
using RandomSource = std::function<void(uint8_t* out, size_t n)>;
RandomSource system_random();

class DeviceSession {
 public:
  using Done = std::function<void(const Status&)>;
  struct Callbacks {
    // A DP report (push, query reply, or command echo); `cid` names a sub-device behind a gateway.
    std::function<void(const nlohmann::json& dps, const std::optional<std::string>& cid)> on_report;
    // Link up/down with a reason a person can act on.
    std::function<void(bool online, const std::string& reason)> on_link;
    // A counted problem: codes wrong_key, wrong_version, no_answer, connect_failed, bad_frame, device_error.
    std::function<void(const Error&)> on_error;
    // Version probing found the version, or the device turned out to need device22 queries.
    std::function<void(proto::Version, bool device22)> on_mode_learned;
  };

  DeviceSession(SessionOptions options, Timers& timers, TransportFactory& transports, RandomSource random,
                Callbacks callbacks);
  ~DeviceSession();
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;

  void start();
  // Fails every queued command with "stopped" and closes the link. No callback other than those runs.
  void stop();

  // Writes DPs (DP id -> wire value). Split per max_dps_per_write; `done` runs once, with the first error.
  void set_dps(nlohmann::json dps, std::optional<std::string> cid, Done done);
  // Asks for every DP again; the answer arrives through on_report.
  void refresh(std::optional<std::string> cid, Done done);
  void request_updatedps(std::vector<int> dp_ids, Done done);

  // A broadcast or the user moved the device: reconnect there (now, if not online).
  void set_address(const std::string& host, uint16_t port);
  void set_local_key(Bytes key);

  LinkState state() const { return state_; }
  bool online() const { return state_ == LinkState::ONLINE; }
  std::optional<proto::Version> version() const;
  bool device22() const { return device22_; }
  const SessionStats& stats() const { return stats_; }
  // Bytes between frames, skipped to find the next frame's prefix (counted by the frame splitter).
  uint64_t garbage_bytes() const { return splitter_.skipped_bytes(); }
  const SessionOptions& options() const { return options_; }
  size_t queued() const { return queue_.size() + (inflight_ ? 1 : 0); }

 private:
  enum class Kind { QUERY, CONTROL, HEARTBEAT, UPDATEDPS };
  struct Request {
    Kind kind;
    nlohmann::json dps;
    std::optional<std::string> cid;
    std::vector<int> ids;
    Done done;
    uint64_t enqueued_ms = 0;
    uint32_t attempts = 0;
    uint32_t expect_cmd = 0;
  };
  struct Batch;  // shared completion for a write split into several requests

  void connect_();
  void on_connected_();
  void on_data_(ByteView data);
  void on_closed_(int status);
  void on_frame_(const Bytes& frame);
  void on_handshake_frame_(const Bytes& frame);
  void on_message_(const proto::Message& m);
  void go_online_();
  void link_down_(const std::string& reason, bool count_failure);
  void schedule_reconnect_(uint32_t delay_ms);
  void probe_failed_(const std::string& why);
  void report_error_(const std::string& code, const std::string& message);

  void enqueue_(Request r, bool front = false);
  void pump_();
  void send_request_(Request& r);
  void complete_inflight_(const Status& st);
  void on_request_timeout_();
  void expire_offline_();
  void arm_heartbeat_();
  bool send_(uint32_t cmd, const std::string& json);
  Bytes next_iv_();
  proto::Version current_version_() const;

  SessionOptions options_;
  Timers& timers_;
  Scheduler sched_;
  TransportFactory& transports_;
  RandomSource random_;
  Callbacks cb_;

  LinkState state_ = LinkState::STOPPED;
  TransportPtr transport_;
  proto::FrameSplitter splitter_;
  std::unique_ptr<proto::MessageCodec> codec_;
  std::unique_ptr<proto::ClientHandshake> handshake_;
  std::vector<proto::Version> candidates_;
  size_t candidate_ = 0;
  bool version_known_ = false;
  bool device22_ = false;
  bool wrong_key_ = false;
  bool key_proven_ = false;  // this link's 3.4/3.5 negotiation succeeded
  uint32_t seqno_ = 1;
  uint32_t failures_ = 0;  // consecutive failed connection attempts, for back-off
  uint32_t consecutive_timeouts_ = 0;
  uint32_t consecutive_bad_ = 0;
  std::string last_down_reason_ = "not connected yet";
  std::array<uint8_t, 4> iv_prefix_{};
  uint64_t iv_counter_ = 0;

  std::deque<Request> queue_;
  std::optional<Request> inflight_;
  SessionStats stats_;
  std::shared_ptr<bool> alive_;  // lets callbacks notice that the session was destroyed under them
};

}  // namespace t2m::gw

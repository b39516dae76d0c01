// DeviceSession, the link side: connect, the 3.4/3.5 session key negotiation and version probing, frame
// and message handling, going online, link loss and back-off. The request queue is device_session_queue.cpp.
#include "gateway/device_session.h"

#include <uv.h>

#include <algorithm>

#include "common/log.h"
#include "gateway/device_session_timers.h"
#include "protocol/crypto.h"
#include "protocol/payload.h"

namespace t2m::gw {
namespace {

constexpr std::string_view DEVICE_SESSION_TAG = "gateway.session";
// After a version probe fails the next candidate is tried soon, but not at once: some devices need a
// moment after a dropped connection before they accept the next one.
constexpr uint32_t PROBE_NEXT_DELAY_MS = 200;
// Consecutive undecodable frames before the link is reset: one bad frame may be line noise, a run of
// them means the stream is lost or the device talks another dialect.
constexpr uint32_t MAX_CONSECUTIVE_BAD_FRAMES = 3;
constexpr double JITTER_FRACTION = 0.25;  // back-off is spread by +-25% so devices do not reconnect in step

using session_timers::OFFLINE_EXPIRY_TICK_MS;
using session_timers::T_CONNECT;
using session_timers::T_HANDSHAKE;
using session_timers::T_HEARTBEAT;
using session_timers::T_OFFLINE;
using session_timers::T_PACE;
using session_timers::T_POLL;
using session_timers::T_RECONNECT;
using session_timers::T_REQUEST;
using session_timers::T_UPDATEDPS;

std::string describe_uv(int status) {
  if (status == 0) return "connection closed by the device";
  return std::string(uv_err_name(status)) + " (" + uv_strerror(status) + ")";
}

}  // namespace

std::string_view to_string(LinkState s) {
  switch (s) {
    case LinkState::STOPPED:
      return "stopped";
    case LinkState::CONNECTING:
      return "connecting";
    case LinkState::HANDSHAKING:
      return "handshaking";
    case LinkState::PROBING:
      return "probing";
    case LinkState::ONLINE:
      return "online";
    case LinkState::BACKOFF:
      return "backoff";
  }
  return "unknown";
}

RandomSource system_random() {
  return [](uint8_t* out, size_t n) {
    // Synchronous uv_random reads the kernel CSPRNG (getrandom): a syscall, no blocking in practice.
    if (uv_random(nullptr, nullptr, out, n, 0, nullptr) != 0) {
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(uv_hrtime() >> (i % 8));
    }
  };
}

DeviceSession::DeviceSession(SessionOptions options, Timers& timers, TransportFactory& transports,
                             RandomSource random, Callbacks callbacks)
    : options_(std::move(options)),
      timers_(timers),
      sched_(timers),
      transports_(transports),
      random_(std::move(random)),
      cb_(std::move(callbacks)),
      device22_(options_.device22),
      alive_(std::make_shared<bool>(true)) {
  if (options_.version) {
    candidates_ = {*options_.version};
    version_known_ = true;
  } else {
    candidates_ = {proto::Version::V3_3, proto::Version::V3_4, proto::Version::V3_5};
    if (options_.preferred_version) {
      // What worked last time goes first; the others stay as fallbacks (firmware updates change versions).
      std::erase(candidates_, *options_.preferred_version);
      candidates_.insert(candidates_.begin(), *options_.preferred_version);
    }
  }
}

DeviceSession::~DeviceSession() {
  *alive_ = false;
  sched_.cancel_all();
  if (transport_) transport_->close();
}

std::optional<proto::Version> DeviceSession::version() const {
  if (!version_known_) return std::nullopt;
  return candidates_[candidate_];
}

proto::Version DeviceSession::current_version_() const {
  return candidates_[candidate_];
}

void DeviceSession::start() {
  if (state_ != LinkState::STOPPED) return;
  connect_();
}

void DeviceSession::stop() {
  if (state_ == LinkState::STOPPED) return;
  bool was_online = state_ == LinkState::ONLINE;
  state_ = LinkState::STOPPED;
  sched_.cancel_all();
  if (transport_) {
    transport_->close();
    transport_.reset();
  }
  auto alive = alive_;
  std::deque<Request> pending;
  if (inflight_) pending.push_back(std::move(*inflight_));
  inflight_.reset();
  for (auto& r : queue_) pending.push_back(std::move(r));
  queue_.clear();
  for (auto& r : pending) {
    if (r.done) r.done(fail("stopped", "the gateway is shutting down the session of " + options_.device_id));
    if (!*alive) return;
  }
  if (was_online && cb_.on_link) cb_.on_link(false, "stopped");
}

void DeviceSession::connect_() {
  state_ = LinkState::CONNECTING;
  key_proven_ = false;
  ++stats_.connects;
  splitter_.reset();
  handshake_.reset();
  seqno_ = 1;
  consecutive_bad_ = 0;
  random_(iv_prefix_.data(), iv_prefix_.size());
  iv_counter_ = 0;
  codec_ = std::make_unique<proto::MessageCodec>(proto::Role::CLIENT, current_version_(), options_.local_key,
                                                 device22_);
  transport_ = transports_.create();
  sched_.set_timeout(T_CONNECT, options_.connect_timeout_ms, [this] {
    report_error_("connect_failed",
                  "connecting to " + options_.host + ":" + std::to_string(options_.port) + " timed out");
    link_down_("connect timeout", true);
  });
  T2M_LOGD(DEVICE_SESSION_TAG, "%s: connecting to %s:%u (protocol %s)", options_.device_id.c_str(),
           options_.host.c_str(), options_.port, std::string(proto::to_string(current_version_())).c_str());
  transport_->connect(options_.host, options_.port,
                      TransportHandlers{[this] { on_connected_(); }, [this](ByteView d) { on_data_(d); },
                                        [this](int status) { on_closed_(status); }});
}

Bytes DeviceSession::next_iv_() {
  // A random per-connection prefix and a counter: unique per frame under one session key, with no
  // syscall per frame.
  Bytes iv(proto::crypto::GCM_IV_SIZE);
  std::copy(iv_prefix_.begin(), iv_prefix_.end(), iv.begin());
  uint64_t c = ++iv_counter_;
  for (size_t i = 0; i < sizeof c; ++i) iv[iv.size() - 1 - i] = static_cast<uint8_t>(c >> (8 * i));
  return iv;
}

void DeviceSession::on_connected_() {
  sched_.cancel(T_CONNECT);
  const auto v = current_version_();
  if (proto::needs_session_key(v)) {
    state_ = LinkState::HANDSHAKING;
    Bytes nonce(proto::NONCE_SIZE);
    random_(nonce.data(), nonce.size());
    handshake_ = std::make_unique<proto::ClientHandshake>(v, options_.local_key, std::move(nonce));
    auto frame = handshake_->start(seqno_++, next_iv_());
    if (!frame) {
      report_error_("protocol_error", "cannot start the session key negotiation: " + frame.error().detail);
      link_down_("handshake error", true);
      return;
    }
    ++stats_.frames_out;
    transport_->write(std::move(frame.value()));
    sched_.set_timeout(T_HANDSHAKE, options_.response_timeout_ms,
                       [this] { probe_failed_("no answer to the session key negotiation"); });
    return;
  }
  state_ = LinkState::PROBING;
  // The resync query doubles as the probe: the first valid answer proves version and key.
  enqueue_(Request{Kind::QUERY, {}, std::nullopt, {}, nullptr, timers_.now_ms(), 0, 0}, true);
}

void DeviceSession::on_data_(ByteView data) {
  splitter_.feed(data);
  auto alive = alive_;
  while (*alive && transport_) {
    auto next = splitter_.next();
    if (!next) break;
    if (!next->ok()) {
      ++stats_.bad_frames;
      report_error_("bad_frame", "framing lost: " + std::string(proto::to_string(next->error().code)) + " " +
                                     next->error().detail);
      if (!*alive) return;
      link_down_("garbage from the device", true);
      return;
    }
    on_frame_(next->value());
  }
}

void DeviceSession::on_frame_(const Bytes& frame) {
  const auto v = current_version_();
  auto peek = proto::peek_header(frame);
  if (peek && peek->is_6699 != proto::uses_6699(v)) {
    // The device speaks the other frame format: certainly the wrong version.
    report_error_("wrong_version", options_.device_id + " answered with " +
                                       (peek->is_6699 ? "6699" : "55AA") + " frames, so it is not protocol " +
                                       std::string(proto::to_string(v)));
    if (!version_known_ && peek->is_6699) {
      candidate_ = candidates_.size() - 1;  // 6699 means 3.5
      state_ = LinkState::BACKOFF;
      if (transport_) transport_->close();
      transport_.reset();
      schedule_reconnect_(PROBE_NEXT_DELAY_MS);
      return;
    }
    probe_failed_("wrong frame format");
    return;
  }
  if (state_ == LinkState::HANDSHAKING) {
    on_handshake_frame_(frame);
    return;
  }
  auto msg = codec_->decode(frame);
  if (!msg) {
    ++stats_.bad_frames;
    const auto code = msg.error().code;
    if ((code == proto::ErrorCode::BAD_PADDING || code == proto::ErrorCode::BAD_HMAC ||
         code == proto::ErrorCode::BAD_TAG) &&
        state_ == LinkState::PROBING && !key_proven_) {
      wrong_key_ = true;
      report_error_("wrong_key", "the local key of " + options_.device_id +
                                     " does not decrypt its answers: re-fetch the key (wizard --refresh)");
      link_down_("wrong local key", true);
      return;
    }
    auto alive = alive_;
    report_error_("bad_frame",
                  "undecodable frame: " + std::string(proto::to_string(code)) + " " + msg.error().detail);
    if (*alive && ++consecutive_bad_ >= MAX_CONSECUTIVE_BAD_FRAMES)
      link_down_("too many undecodable frames", true);
    return;
  }
  consecutive_bad_ = 0;
  ++stats_.frames_in;
  on_message_(msg.value());
}

void DeviceSession::on_handshake_frame_(const Bytes& frame) {
  auto finish = handshake_->on_response(frame, seqno_++, next_iv_());
  if (!finish) {
    if (finish.error().code == proto::ErrorCode::WRONG_KEY) {
      version_known_ = true;  // the device answered in this version's format: only the key is wrong
      wrong_key_ = true;
      report_error_("wrong_key",
                    "session key negotiation with " + options_.device_id +
                        " failed: the device rejected the local key (refresh it from the cloud)");
      link_down_("wrong local key", true);
      return;
    }
    report_error_("protocol_error", "session key negotiation failed: " + finish.error().detail);
    probe_failed_("negotiation failed");
    return;
  }
  sched_.cancel(T_HANDSHAKE);
  ++stats_.frames_out;
  transport_->write(std::move(finish.value()));
  codec_->set_session_key(handshake_->session_key());
  handshake_.reset();
  // The device's answer carried an HMAC made with the local key: whatever goes wrong on this link
  // from now on, the key is not the cause.
  key_proven_ = true;
  state_ = LinkState::PROBING;
  enqueue_(Request{Kind::QUERY, {}, std::nullopt, {}, nullptr, timers_.now_ms(), 0, 0}, true);
}

void DeviceSession::on_message_(const proto::Message& m) {
  auto alive = alive_;
  if (state_ == LinkState::PROBING) {
    go_online_();
    if (!*alive) return;
  }
  const auto kind = proto::classify_payload(m.payload);
  if (kind == proto::PayloadKind::DEVICE_ERROR) {
    if (inflight_ && inflight_->kind == Kind::QUERY && !device22_ && proto::is_device22_error(m.payload)) {
      // "json obj data unvalid": this device wants CONTROL_NEW queries with null DPs (§4.5).
      device22_ = true;
      codec_->set_device22(true);
      T2M_LOGI(DEVICE_SESSION_TAG, "%s: switching to device22 queries", options_.device_id.c_str());
      if (cb_.on_mode_learned) cb_.on_mode_learned(current_version_(), true);
      if (!*alive) return;
      send_request_(*inflight_);
      return;
    }
    if (inflight_ && m.cmd == inflight_->expect_cmd) {
      complete_inflight_(fail("device_error", "the device refused the request: " + m.payload));
      return;
    }
    report_error_("device_error", "device said: " + m.payload);
    return;
  }
  bool had_dps = false;
  if (kind == proto::PayloadKind::JSON) {
    auto report = proto::parse_report(m.payload);
    if (!report) {
      ++stats_.bad_frames;
      report_error_("bad_frame", "unreadable report: " + report.error().detail);
    } else if (!report->dps.empty()) {
      had_dps = true;
      ++stats_.reports;
      if (cb_.on_report) cb_.on_report(report->dps, report->cid);
      if (!*alive) return;
    }
  }
  if (!inflight_) return;
  const bool answers = m.cmd == inflight_->expect_cmd ||
                       // device22 devices may answer their CONTROL_NEW query with a STATUS
                       (inflight_->kind == Kind::QUERY && device22_ && had_dps &&
                        m.cmd == static_cast<uint32_t>(proto::Command::STATUS));
  if (answers) {
    if (m.retcode && *m.retcode != 0 && !had_dps) {
      complete_inflight_(
          fail("device_error", "the device answered with error code " + std::to_string(*m.retcode)));
    } else {
      complete_inflight_(Status{});
    }
  }
}

void DeviceSession::go_online_() {
  state_ = LinkState::ONLINE;
  failures_ = 0;
  wrong_key_ = false;
  auto alive = alive_;
  if (!version_known_) {
    version_known_ = true;
    T2M_LOGI(DEVICE_SESSION_TAG, "%s: speaks protocol %s", options_.device_id.c_str(),
             std::string(proto::to_string(current_version_())).c_str());
    if (cb_.on_mode_learned) cb_.on_mode_learned(current_version_(), device22_);
    if (!*alive) return;
  }
  if (options_.poll_interval_ms > 0) {
    sched_.set_interval(T_POLL, options_.poll_interval_ms, [this] {
      // Skip a poll while one is still waiting: a slow device must not accumulate queries.
      bool pending = inflight_ && inflight_->kind == Kind::QUERY;
      for (const auto& r : queue_) pending = pending || r.kind == Kind::QUERY;
      if (!pending) enqueue_(Request{Kind::QUERY, {}, std::nullopt, {}, nullptr, timers_.now_ms(), 0, 0});
    });
  }
  if (options_.updatedps_interval_ms > 0 && !options_.updatedps_ids.empty()) {
    sched_.set_interval(T_UPDATEDPS, options_.updatedps_interval_ms, [this] {
      enqueue_(Request{
          Kind::UPDATEDPS, {}, std::nullopt, options_.updatedps_ids, nullptr, timers_.now_ms(), 0, 0});
    });
  }
  sched_.cancel(T_OFFLINE);
  if (cb_.on_link)
    cb_.on_link(true, "connected, protocol " + std::string(proto::to_string(current_version_())) +
                          (device22_ ? " (device22)" : ""));
  if (!*alive) return;
  pump_();
}

void DeviceSession::probe_failed_(const std::string& why) {
  if (!version_known_ && candidate_ + 1 < candidates_.size()) {
    T2M_LOGD(DEVICE_SESSION_TAG, "%s: protocol %s: %s; trying the next version", options_.device_id.c_str(),
             std::string(proto::to_string(current_version_())).c_str(), why.c_str());
    ++candidate_;
    sched_.cancel(T_HANDSHAKE);
    sched_.cancel(T_REQUEST);
    if (transport_) transport_->close();
    transport_.reset();
    if (inflight_) {
      if (inflight_->done) queue_.push_front(std::move(*inflight_));
      inflight_.reset();
    }
    state_ = LinkState::BACKOFF;
    schedule_reconnect_(PROBE_NEXT_DELAY_MS);
    return;
  }
  std::string msg =
      key_proven_
          ? options_.device_id + " did not answer (" + why + ") after a good key negotiation: device busy"
      : version_known_ ? options_.device_id + " did not answer (" + why + "): wrong local key or device busy"
                       : options_.device_id + " answered none of protocols 3.3, 3.4, 3.5 (" + why +
                             "): wrong key, or set the version explicitly";
  if (!version_known_) candidate_ = 0;
  report_error_("no_answer", msg);
  link_down_(why, true);
}

void DeviceSession::on_closed_(int status) {
  transport_.reset();
  switch (state_) {
    case LinkState::CONNECTING: {
      std::string why = describe_uv(status);
      std::string hint =
          status == UV_ECONNREFUSED ? " (is another app holding the device's only local connection?)" : "";
      report_error_("connect_failed", "cannot connect to " + options_.host + ":" +
                                          std::to_string(options_.port) + ": " + why + hint);
      link_down_(why, true);
      return;
    }
    case LinkState::HANDSHAKING:
    case LinkState::PROBING:
      if (version_known_ && !key_proven_) {
        // The device accepted the connection, so it is there and free, then dropped it on our first
        // frame: with the version known, the key is the likely culprit (re-paired device). Not after
        // a negotiation that proved the key.
        report_error_("wrong_key", options_.device_id + " closed the connection on the first " +
                                       (state_ == LinkState::HANDSHAKING ? "negotiation frame" : "query") +
                                       ": its local key has probably changed (re-paired?); refresh it");
        link_down_("local key rejected", true);
        return;
      }
      probe_failed_("the device closed the connection");
      return;
    case LinkState::ONLINE:
      link_down_(describe_uv(status), false);
      return;
    case LinkState::BACKOFF:
    case LinkState::STOPPED:
      return;
  }
}

void DeviceSession::link_down_(const std::string& reason, bool count_failure) {
  const bool was_online = state_ == LinkState::ONLINE;
  for (const char* t : {T_CONNECT, T_HANDSHAKE, T_REQUEST, T_HEARTBEAT, T_POLL, T_UPDATEDPS, T_PACE})
    sched_.cancel(t);
  if (transport_) {
    transport_->close();
    transport_.reset();
  }
  handshake_.reset();
  if (inflight_) {
    // Heartbeats and the automatic resync are dropped (a new resync follows the reconnect); anything a
    // user asked for is re-sent after the reconnect.
    if (inflight_->kind != Kind::HEARTBEAT && inflight_->done) {
      inflight_->attempts = 0;
      queue_.push_front(std::move(*inflight_));
    }
    inflight_.reset();
  }
  std::erase_if(queue_, [](const Request& r) {
    return r.kind == Kind::HEARTBEAT || (!r.done && r.kind == Kind::QUERY);
  });
  state_ = LinkState::BACKOFF;
  consecutive_timeouts_ = 0;
  if (count_failure || !was_online) ++failures_;
  if (was_online) ++stats_.disconnects;

  uint32_t delay;
  if (wrong_key_) {
    delay = options_.wrong_key_backoff_ms;
  } else if (was_online && !count_failure) {
    delay = options_.backoff_min_ms;  // a link that was fine: come back quickly
  } else {
    uint64_t d = options_.backoff_min_ms;
    for (uint32_t i = 1; i < failures_ && d < options_.backoff_max_ms; ++i) d *= 2;
    delay = static_cast<uint32_t>(std::min<uint64_t>(d, options_.backoff_max_ms));
  }
  uint16_t r = 0;
  random_(reinterpret_cast<uint8_t*>(&r), sizeof r);
  const double spread = (static_cast<double>(r) / UINT16_MAX * 2.0 - 1.0) * JITTER_FRACTION;
  delay = static_cast<uint32_t>(std::max(0.0, delay * (1.0 + spread)));
  last_down_reason_ = reason;
  T2M_LOGI(DEVICE_SESSION_TAG, "%s: link down (%s); reconnecting in %u ms", options_.device_id.c_str(),
           reason.c_str(), delay);
  schedule_reconnect_(delay);
  if (!queue_.empty()) sched_.set_interval(T_OFFLINE, OFFLINE_EXPIRY_TICK_MS, [this] { expire_offline_(); });
  if (was_online && cb_.on_link) cb_.on_link(false, reason);
}

void DeviceSession::schedule_reconnect_(uint32_t delay_ms) {
  sched_.set_timeout(T_RECONNECT, delay_ms, [this] {
    if (state_ == LinkState::BACKOFF) connect_();
  });
}

void DeviceSession::report_error_(const std::string& code, const std::string& message) {
  T2M_LOGW(DEVICE_SESSION_TAG, "%s: %s", options_.device_id.c_str(), message.c_str());
  if (cb_.on_error) cb_.on_error(Error{code, message});
}

void DeviceSession::set_address(const std::string& host, uint16_t port) {
  if (host == options_.host && port == options_.port) return;
  T2M_LOGI(DEVICE_SESSION_TAG, "%s: address is now %s:%u", options_.device_id.c_str(), host.c_str(), port);
  options_.host = host;
  options_.port = port;
  if (state_ == LinkState::BACKOFF) {
    sched_.cancel(T_RECONNECT);
    connect_();
  }
}

void DeviceSession::set_local_key(Bytes key) {
  options_.local_key = std::move(key);
  if (state_ == LinkState::BACKOFF) {
    wrong_key_ = false;
    failures_ = 0;
    sched_.cancel(T_RECONNECT);
    connect_();
  }
}

}  // namespace t2m::gw

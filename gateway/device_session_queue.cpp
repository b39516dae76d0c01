// DeviceSession, the request queue: writes split per max_dps_per_write, one request in flight at a time
// correlated with the device's answer, retries and timeouts, write pacing, idle heartbeats, and
// commands for an offline device expiring. The link side is device_session.cpp.
#include "gateway/device_session.h"

#include "gateway/device_session_timers.h"
#include "protocol/payload.h"

namespace t2m::gw {
namespace {

constexpr uint32_t MAX_CONSECUTIVE_TIMEOUTS = 2;

using session_timers::OFFLINE_EXPIRY_TICK_MS;
using session_timers::T_HEARTBEAT;
using session_timers::T_OFFLINE;
using session_timers::T_PACE;
using session_timers::T_REQUEST;

}  // namespace

struct DeviceSession::Batch {
  size_t remaining = 0;
  std::optional<Error> first_error;
  Done done;
};

void DeviceSession::set_dps(nlohmann::json dps, std::optional<std::string> cid, Done done) {
  if (!dps.is_object() || dps.empty()) {
    if (done) done(fail("bad_request", "nothing to write"));
    return;
  }
  const size_t chunk = options_.max_dps_per_write == 0 ? dps.size() : options_.max_dps_per_write;
  if (chunk >= dps.size()) {
    enqueue_(
        Request{Kind::CONTROL, std::move(dps), std::move(cid), {}, std::move(done), timers_.now_ms(), 0, 0});
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->done = std::move(done);
  std::vector<nlohmann::json> parts;
  for (auto it = dps.begin(); it != dps.end(); ++it) {
    if (parts.empty() || parts.back().size() >= chunk) parts.emplace_back(nlohmann::json::object());
    parts.back()[it.key()] = it.value();
  }
  batch->remaining = parts.size();
  for (auto& part : parts) {
    enqueue_(Request{Kind::CONTROL,
                     std::move(part),
                     cid,
                     {},
                     [batch](const Status& st) {
                       if (!st.ok() && !batch->first_error) batch->first_error = st.error();
                       if (--batch->remaining == 0 && batch->done) {
                         if (batch->first_error)
                           batch->done(Unexpected<Error>{*batch->first_error});
                         else
                           batch->done(Status{});
                       }
                     },
                     timers_.now_ms(),
                     0,
                     0});
  }
}

void DeviceSession::refresh(std::optional<std::string> cid, Done done) {
  if (!done) done = [](const Status&) {};
  enqueue_(Request{Kind::QUERY, {}, std::move(cid), {}, std::move(done), timers_.now_ms(), 0, 0});
}

void DeviceSession::request_updatedps(std::vector<int> dp_ids, Done done) {
  if (!done) done = [](const Status&) {};
  enqueue_(
      Request{Kind::UPDATEDPS, {}, std::nullopt, std::move(dp_ids), std::move(done), timers_.now_ms(), 0, 0});
}

void DeviceSession::enqueue_(Request r, bool front) {
  if (state_ == LinkState::STOPPED) {
    if (r.done) r.done(fail("stopped", "the session of " + options_.device_id + " is stopped"));
    return;
  }
  if (queue_.size() >= options_.max_queue && r.kind != Kind::HEARTBEAT) {
    if (r.done)
      r.done(fail("queue_full", options_.device_id + " has " + std::to_string(queue_.size()) +
                                    " commands waiting; try again later"));
    return;
  }
  if (front)
    queue_.push_front(std::move(r));
  else
    queue_.push_back(std::move(r));
  if (state_ == LinkState::BACKOFF || state_ == LinkState::CONNECTING || state_ == LinkState::HANDSHAKING) {
    if (!sched_.active(T_OFFLINE))
      sched_.set_interval(T_OFFLINE, OFFLINE_EXPIRY_TICK_MS, [this] { expire_offline_(); });
    return;
  }
  pump_();
}

void DeviceSession::expire_offline_() {
  if (state_ == LinkState::ONLINE || queue_.empty()) {
    sched_.cancel(T_OFFLINE);
    return;
  }
  const uint64_t now = timers_.now_ms();
  auto alive = alive_;
  std::deque<Request> expired;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->done && now >= it->enqueued_ms + options_.offline_command_timeout_ms) {
      expired.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  if (queue_.empty()) sched_.cancel(T_OFFLINE);
  for (auto& r : expired) {
    ++stats_.commands_failed;
    r.done(fail("offline", options_.device_id + " is offline (" + last_down_reason_ + ")"));
    if (!*alive) return;
  }
}

void DeviceSession::pump_() {
  if (inflight_ || queue_.empty() || !transport_) return;
  if (state_ != LinkState::ONLINE && state_ != LinkState::PROBING) return;
  if (state_ == LinkState::PROBING && queue_.front().kind != Kind::QUERY) return;
  if (sched_.active(T_PACE)) return;
  inflight_ = std::move(queue_.front());
  queue_.pop_front();
  send_request_(*inflight_);
}

void DeviceSession::send_request_(Request& r) {
  const auto v = current_version_();
  const int64_t unix_s = timers_.unix_ms() / MS_PER_S;
  const proto::Target target{options_.device_id, r.cid};
  uint32_t cmd = 0;
  std::string body;
  switch (r.kind) {
    case Kind::QUERY: {
      cmd = proto::query_command(v, device22_);
      std::vector<std::string> ids = options_.known_dp_ids;
      if (ids.empty()) ids.push_back("1");
      body = proto::build_query(v, device22_, target, unix_s, ids);
      break;
    }
    case Kind::CONTROL:
      cmd = proto::control_command(v);
      body = proto::build_control(v, target, unix_s, r.dps);
      break;
    case Kind::HEARTBEAT:
      cmd = static_cast<uint32_t>(proto::Command::HEART_BEAT);
      body = proto::build_heartbeat(target);
      break;
    case Kind::UPDATEDPS:
      cmd = static_cast<uint32_t>(proto::Command::UPDATEDPS);
      body = proto::build_updatedps(r.ids);
      break;
  }
  r.expect_cmd = cmd;
  ++r.attempts;
  if (!send_(cmd, body)) return;
  sched_.set_timeout(T_REQUEST, options_.response_timeout_ms, [this] { on_request_timeout_(); });
}

bool DeviceSession::send_(uint32_t cmd, const std::string& json) {
  auto frame = codec_->encode(cmd, json, seqno_++, next_iv_());
  if (!frame) {
    report_error_("protocol_error", "cannot encode a request: " + frame.error().detail);
    complete_inflight_(fail("protocol_error", frame.error().detail));
    return false;
  }
  ++stats_.frames_out;
  transport_->write(std::move(frame.value()));
  arm_heartbeat_();
  return true;
}

void DeviceSession::arm_heartbeat_() {
  sched_.set_timeout(T_HEARTBEAT, options_.heartbeat_idle_ms, [this] {
    if (state_ != LinkState::ONLINE) return;
    if (inflight_ || !queue_.empty()) {
      arm_heartbeat_();
      return;
    }
    enqueue_(Request{Kind::HEARTBEAT, {}, std::nullopt, {}, nullptr, timers_.now_ms(), 0, 0});
  });
}

void DeviceSession::on_request_timeout_() {
  if (!inflight_) return;
  ++stats_.timeouts;
  if (state_ == LinkState::PROBING) {
    probe_failed_("no answer to the status query");
    return;
  }
  switch (inflight_->kind) {
    case Kind::HEARTBEAT:
      link_down_("heartbeat not answered", true);
      return;
    case Kind::UPDATEDPS:
      // Many devices ignore UPDATEDPS: not a sign of a dead link.
      complete_inflight_(fail("timeout", "the device did not acknowledge UPDATEDPS"));
      return;
    case Kind::QUERY:
    case Kind::CONTROL:
      break;
  }
  if (inflight_->attempts <= options_.command_retries) {
    send_request_(*inflight_);
    return;
  }
  ++consecutive_timeouts_;
  const bool dead = consecutive_timeouts_ >= MAX_CONSECUTIVE_TIMEOUTS;
  auto alive = alive_;
  complete_inflight_(fail("timeout", options_.device_id + " did not answer within " +
                                         std::to_string(options_.response_timeout_ms) + " ms"));
  if (*alive && dead && state_ == LinkState::ONLINE) link_down_("the device stopped answering", true);
}

void DeviceSession::complete_inflight_(const Status& st) {
  sched_.cancel(T_REQUEST);
  if (!inflight_) return;
  Request r = std::move(*inflight_);
  inflight_.reset();
  if (st.ok()) consecutive_timeouts_ = 0;
  if (r.done) {
    if (st.ok())
      ++stats_.commands_ok;
    else
      ++stats_.commands_failed;
    auto alive = alive_;
    r.done(st);
    if (!*alive) return;
  }
  if (r.kind == Kind::CONTROL && options_.write_pacing_ms > 0) {
    sched_.set_timeout(T_PACE, options_.write_pacing_ms, [this] { pump_(); });
    return;
  }
  pump_();
}

}  // namespace t2m::gw

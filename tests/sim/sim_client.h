// Test support for the simulator's tests: a minimal Tuya LAN client built only from the protocol API
// (FrameSplitter, MessageCodec in the CLIENT role, ClientHandshake) on a real loopback TCP connection,
// and run_until(), which runs a loop until a condition holds or a guard timer fires.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/payload.h"
#include "protocol/session.h"
#include "tests/sim/src/uv_owned.h"

namespace t2m::sim::testing {

// Runs `loop` until `pred()` or `timeout_ms` elapsed. Returns pred().
inline bool run_until(uv_loop_t* loop, const std::function<bool()>& pred, uint64_t timeout_ms = 3000) {
  bool timed_out = false;
  OwnedHandle<uv_timer_t> guard;
  guard.init([&](uv_timer_t* t) { return uv_timer_init(loop, t); });
  guard.get()->data = &timed_out;
  uv_timer_start(
      guard.get(), [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, timeout_ms, 0);
  while (!pred() && !timed_out) uv_run(loop, UV_RUN_ONCE);
  return pred();
}

// Runs `loop` for `ms` whatever happens (to check that something does NOT happen).
inline void run_for(uv_loop_t* loop, uint64_t ms) {
  run_until(
      loop, [] { return false; }, ms);
}

class SimClient {
 public:
  SimClient(uv_loop_t* loop, proto::Version v, std::string dev_id, std::string key, bool device22 = false)
      : loop_(loop),
        version_(v),
        dev_id_(std::move(dev_id)),
        key_(std::move(key)),
        codec_(proto::Role::CLIENT, v, to_bytes(key_), device22) {}
  ~SimClient() { close(); }
  SimClient(const SimClient&) = delete;
  SimClient& operator=(const SimClient&) = delete;

  // Starts connecting to 127.0.0.1:port (or `host`); 3.4/3.5 then negotiate the session key.
  void connect(uint16_t port, const std::string& host = "127.0.0.1") {
    tcp_.init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); });
    tcp_.get()->data = this;
    auto cr = std::make_unique<ConnectReq>();
    cr->owner = this;
    cr->req.data = cr.get();
    sockaddr_in addr{};
    uv_ip4_addr(host.c_str(), port, &addr);
    int rc = uv_tcp_connect(&cr->req, tcp_.get(), reinterpret_cast<const sockaddr*>(&addr), &on_connect);
    if (rc == 0) pending_ = cr.release();
    if (rc != 0) {
      connect_status = rc;
      closed = true;
    }
  }
  void close() {
    if (pending_) pending_->owner = nullptr;  // the request finishes (cancelled) after we are gone
    pending_ = nullptr;
    tcp_.close();
    connected = false;
  }
  // Sends `json` as `cmd` with the next seqno.
  void send(uint32_t cmd, const std::string& json) {
    auto f = codec_.encode(cmd, json, seq_++, iv());
    if (f) write(std::move(f).value());
  }
  void send_cmd(proto::Command c, const std::string& json) { send(static_cast<uint32_t>(c), json); }
  void write(Bytes data) {
    if (!tcp_.open()) return;
    auto* w = new_write(std::move(data));
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(tcp_.get()), &b, 1, &on_write) != 0) delete_write(w);
  }

  proto::Target target(std::optional<std::string> cid = {}) const {
    return proto::Target{dev_id_, std::move(cid)};
  }
  bool ready() const { return connected && codec_.ready(); }
  proto::MessageCodec& codec() { return codec_; }
  // Messages with `cmd` received so far.
  std::vector<proto::Message> with_cmd(proto::Command c) const {
    std::vector<proto::Message> out;
    for (const auto& m : received) {
      if (m.cmd == static_cast<uint32_t>(c)) out.push_back(m);
    }
    return out;
  }
  size_t count(proto::Command c) const { return with_cmd(c).size(); }

  bool connected = false;
  bool closed = false;  // the peer closed (EOF / reset) or connecting failed
  int connect_status = 0;
  int close_status = 0;
  bool handshake_failed = false;
  std::vector<proto::Message> received;
  std::vector<proto::ErrorCode> frame_errors;   // splitter errors (oversize, bad suffix)
  std::vector<proto::ErrorCode> decode_errors;  // frames that did not verify/decrypt
  size_t bytes_in = 0;
  uint64_t skipped_bytes() const { return splitter_.skipped_bytes(); }

 private:
  struct WriteReq {
    uv_write_t req{};
    Bytes data;
  };
  struct ConnectReq {
    uv_connect_t req{};
    SimClient* owner = nullptr;
  };
  static WriteReq* new_write(Bytes data) {
    auto w = std::make_unique<WriteReq>();
    w->data = std::move(data);
    w->req.data = w.get();
    return w.release();
  }
  static void delete_write(WriteReq* w) { std::unique_ptr<WriteReq> owner(w); }
  static void on_write(uv_write_t* r, int) { delete_write(static_cast<WriteReq*>(r->data)); }

  Bytes iv() {
    if (!proto::uses_6699(version_)) return {};
    Bytes b(12);
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return b;
  }

  static void on_connect(uv_connect_t* req, int status) {
    std::unique_ptr<ConnectReq> cr(static_cast<ConnectReq*>(req->data));
    SimClient* self = cr->owner;
    if (!self) return;
    self->pending_ = nullptr;
    if (!self->tcp_.open()) return;
    if (status != 0) {
      self->connect_status = status;
      self->closed = true;
      return;
    }
    self->connected = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(self->tcp_.get()), &on_alloc, &on_read);
    if (proto::needs_session_key(self->version_)) {
      Bytes nonce(16);
      for (auto& x : nonce) x = static_cast<uint8_t>(self->rng_());
      self->hs_.emplace(self->version_, to_bytes(self->key_), nonce);
      auto f = self->hs_->start(self->seq_++, self->iv());
      if (f) self->write(std::move(f).value());
    }
  }
  static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    static char storage[64 * 1024];
    *buf = uv_buf_init(storage, sizeof storage);
  }
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<SimClient*>(s->data);
    if (!self) return;
    if (nread < 0) {
      self->close_status = static_cast<int>(nread);
      self->closed = true;
      self->close();
      return;
    }
    self->bytes_in += static_cast<size_t>(nread);
    self->splitter_.feed(ByteView(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)));
    while (auto next = self->splitter_.next()) {
      if (!*next) {
        self->frame_errors.push_back(next->error().code);
        continue;
      }
      self->on_frame(next->value());
    }
  }
  void on_frame(const Bytes& frame) {
    if (hs_ && !codec_.ready()) {
      auto fin = hs_->on_response(frame, seq_++, iv());
      if (!fin) {
        handshake_failed = true;
        return;
      }
      write(std::move(fin).value());
      codec_.set_session_key(hs_->session_key());
      return;
    }
    auto m = codec_.decode(frame);
    if (!m) {
      decode_errors.push_back(m.error().code);
      return;
    }
    received.push_back(std::move(m).value());
  }

  uv_loop_t* loop_;
  proto::Version version_;
  std::string dev_id_;
  std::string key_;
  proto::MessageCodec codec_;
  std::optional<proto::ClientHandshake> hs_;
  proto::FrameSplitter splitter_;
  OwnedHandle<uv_tcp_t> tcp_;
  ConnectReq* pending_ = nullptr;
  uint32_t seq_ = 1;
  std::mt19937 rng_{12345};
};

}  // namespace t2m::sim::testing

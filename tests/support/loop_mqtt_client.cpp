#include "tests/support/loop_mqtt_client.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "tests/support/mqtt_wire.h"

namespace t2m::test {
namespace {

constexpr size_t READ_CHUNK = 64 * 1024;
constexpr int QOS = 1;

}  // namespace

struct LoopMqttClient::Impl {
  enum class State { IDLE, CONNECTING, WAIT_CONNACK, UP };

  // One TCP connection; freed in its close callback.
  struct Conn {
    uv_tcp_t tcp{};
    uv_connect_t req{};
    Impl* owner = nullptr;
    bool live = true;  // false once the owner let go of it
    std::array<char, READ_CHUNK> rbuf{};
  };
  struct Write {
    uv_write_t req{};
    std::string data;
    std::function<void()> then;
  };
  struct Out {
    std::string topic, payload;
    bool retain = false;
    AckFn acked;
  };

  uv_loop_t* loop;
  Options opt;
  MessageFn on_message;
  uv_timer_t timer{};
  int open_handles = 0;
  Conn* conn = nullptr;
  State state = State::IDLE;
  wire::PacketReader reader;
  std::set<uint16_t> pending_subacks;
  std::map<uint16_t, AckFn> inflight;
  std::vector<Out> outbox;
  uint16_t last_id = 0;
  size_t connects = 0;
  bool started = false;
  bool paused = false;
  bool closing = false;
  std::function<void()> done;

  Impl(uv_loop_t* l, Options o, MessageFn fn) : loop(l), opt(std::move(o)), on_message(std::move(fn)) {
    uv_timer_init(loop, &timer);
    timer.data = this;
    ++open_handles;
  }

  uint16_t next_id() {
    last_id = static_cast<uint16_t>(last_id == 0xFFFF ? 1 : last_id + 1);
    return last_id;
  }

  void connect_() {
    if (closing || conn) return;
    auto* c = new Conn;
    c->owner = this;
    c->tcp.data = c;
    c->req.data = c;
    uv_tcp_init(loop, &c->tcp);
    ++open_handles;
    conn = c;
    uv_tcp_nodelay(&c->tcp, 1);
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", opt.port, &addr);
    state = State::CONNECTING;
    const int rc = uv_tcp_connect(&c->req, &c->tcp, reinterpret_cast<const sockaddr*>(&addr),
                                  [](uv_connect_t* r, int status) {
                                    auto* cc = static_cast<Conn*>(r->data);
                                    if (!cc->live) return;
                                    cc->owner->on_connect_(status);
                                  });
    if (rc != 0) end_connection_();
  }

  void on_connect_(int status) {
    if (status < 0) {
      end_connection_();
      return;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&conn->tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* cc = static_cast<Conn*>(h->data);
          buf->base = cc->rbuf.data();
          buf->len = cc->rbuf.size();
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
          auto* cc = static_cast<Conn*>(s->data);
          if (!cc->live) return;
          if (n < 0) {
            cc->owner->end_connection_();
            return;
          }
          cc->owner->on_data_(buf->base, static_cast<size_t>(n));
        });
    wire::ConnectFields f;
    f.client_id = opt.client_id;
    f.username = opt.username;
    f.password = opt.password;
    state = State::WAIT_CONNACK;
    send_(wire::connect_packet(f));
  }

  void on_data_(const char* data, size_t n) {
    reader.feed(data, n);
    Conn* current = conn;
    while (conn == current && conn) {
      auto p = reader.next();
      if (!p) {
        if (reader.failed()) end_connection_();
        return;
      }
      on_packet_(*p);
    }
  }

  void on_packet_(const wire::Packet& p) {
    switch (p.type()) {
      case wire::CONNACK:
        if (p.body.size() != 2 || p.body[1] != 0) {
          end_connection_();  // refused: try again later
          return;
        }
        on_connack_();
        return;
      case wire::SUBACK:
        pending_subacks.erase(p.id());
        return;
      case wire::PUBACK: {
        auto it = inflight.find(p.id());
        if (it == inflight.end()) return;
        AckFn fn = std::move(it->second);
        inflight.erase(it);
        if (fn) fn(true);
        return;
      }
      case wire::PUBLISH: {
        auto pub = wire::parse_publish(p);
        if (!pub) {
          end_connection_();
          return;
        }
        if (pub->qos == 1) send_(wire::puback_packet(pub->id));
        if (on_message) on_message(MqttMessage{std::move(pub->topic), std::move(pub->payload), pub->retain});
        return;
      }
      default:
        return;
    }
  }

  void on_connack_() {
    state = State::UP;
    ++connects;
    pending_subacks.clear();
    if (!opt.subscriptions.empty()) {
      const uint16_t id = next_id();
      pending_subacks.insert(id);
      send_(wire::subscribe_packet(id, opt.subscriptions, QOS));
    }
    // After the SUBSCRIBE: the broker handles packets in order, so answers to these are routed to us.
    auto queued = std::move(outbox);
    outbox.clear();
    for (auto& o : queued) publish_now_(std::move(o));
  }

  void publish_now_(Out o) {
    const uint16_t id = next_id();
    inflight[id] = std::move(o.acked);
    send_(wire::publish_packet(o.topic, o.payload, QOS, o.retain, id));
  }

  void send_(std::string data, std::function<void()> then = {}) {
    if (!conn) return;
    auto* w = new Write;
    w->data = std::move(data);
    w->then = std::move(then);
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    const int rc =
        uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&conn->tcp), &buf, 1, [](uv_write_t* r, int) {
          std::unique_ptr<Write> owned(static_cast<Write*>(r->data));
          if (owned->then) owned->then();
        });
    if (rc != 0) {
      delete w;
      end_connection_();
    }
  }

  // The connection is gone (or given up): fail what was in flight, and connect again later.
  void end_connection_() {
    if (conn) {
      Conn* c = conn;
      conn = nullptr;
      c->live = false;
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
        auto* cc = static_cast<Conn*>(h->data);
        Impl* owner = cc->owner;
        delete cc;
        owner->handle_closed_();
      });
    }
    state = State::IDLE;
    reader.clear();
    pending_subacks.clear();
    auto failed = std::move(inflight);
    inflight.clear();
    for (auto& [id, fn] : failed)
      if (fn) fn(false);
    if (!closing && !paused) {
      uv_timer_start(
          &timer, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->connect_(); },
          static_cast<uint64_t>(std::max(opt.reconnect_ms, 1)), 0);
    }
  }

  void close(std::function<void()> on_done) {
    if (closing) return;
    closing = true;
    done = std::move(on_done);
    uv_timer_stop(&timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer),
             [](uv_handle_t* h) { static_cast<Impl*>(h->data)->handle_closed_(); });
    auto dropped = std::move(outbox);
    outbox.clear();
    for (auto& o : dropped)
      if (o.acked) o.acked(false);
    if (state == State::UP) {
      send_(wire::disconnect_packet(), [this] { end_connection_(); });
    } else {
      end_connection_();
    }
  }

  void handle_closed_() {
    if (--open_handles > 0) return;
    auto fn = std::move(done);
    delete this;
    if (fn) fn();
  }
};

LoopMqttClient::LoopMqttClient(uv_loop_t* loop, Options options, MessageFn on_message)
    : impl_(new Impl(loop, std::move(options), std::move(on_message))) {}

LoopMqttClient::~LoopMqttClient() {
  if (!impl_) return;
  impl_->on_message = nullptr;
  impl_->close(nullptr);
}

void LoopMqttClient::start() {
  if (!impl_ || impl_->started) return;
  impl_->started = true;
  impl_->connect_();
}

bool LoopMqttClient::ready() const {
  return impl_ && impl_->state == Impl::State::UP && impl_->pending_subacks.empty();
}

bool LoopMqttClient::connected() const {
  return impl_ && impl_->state == Impl::State::UP;
}

size_t LoopMqttClient::connects() const {
  return impl_ ? impl_->connects : 0;
}

void LoopMqttClient::publish(const std::string& topic, const std::string& payload, bool retain, AckFn acked) {
  if (!impl_) {
    if (acked) acked(false);
    return;
  }
  Impl::Out o{topic, payload, retain, std::move(acked)};
  if (impl_->state == Impl::State::UP) {
    impl_->publish_now_(std::move(o));
  } else {
    impl_->outbox.push_back(std::move(o));
  }
}

void LoopMqttClient::subscribe(const std::string& filter) {
  if (!impl_) return;
  auto& subs = impl_->opt.subscriptions;
  if (std::find(subs.begin(), subs.end(), filter) == subs.end()) subs.push_back(filter);
  if (impl_->state != Impl::State::UP) return;
  const uint16_t id = impl_->next_id();
  impl_->pending_subacks.insert(id);
  impl_->send_(wire::subscribe_packet(id, {filter}, QOS));
}

void LoopMqttClient::set_paused(bool paused) {
  if (!impl_) return;
  impl_->paused = paused;
  if (paused) {
    uv_timer_stop(&impl_->timer);
  } else if (impl_->started && !impl_->conn) {
    impl_->connect_();
  }
}

void LoopMqttClient::close(std::function<void()> done) {
  if (!impl_) {
    if (done) done();
    return;
  }
  Impl* impl = impl_;
  impl_ = nullptr;  // it frees itself once its handles are closed
  impl->close(std::move(done));
}

}  // namespace t2m::test

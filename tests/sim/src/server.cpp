// The simulator's TCP side: each device's listener, the one client a device takes at a time (a second one
// is reset, like real devices do), reading and splitting frames, the 3.4/3.5 session key negotiation, and
// sending (now, or behind a DELAY fault, in order). What a decoded message means is device.cpp's.
#include <algorithm>
#include <memory>

#include "common/log.h"
#include "tests/sim/src/simulator_impl.h"

namespace t2m::sim {

namespace {

using proto::Command;

constexpr int LISTEN_BACKLOG = 8;

// A write libuv could not take at once: the bytes live until its callback.
struct WriteReq {
  uv_write_t req{};
  Bytes data;
};

}  // namespace

// --- listening and connections ---------------------------------------------------------------------------

Status Simulator::Impl::listen(Device& d) {
  sockaddr_in addr{};
  uint16_t port = d.bound_port != 0 ? d.bound_port : d.spec.port;
  if (uv_ip4_addr(d.spec.host.c_str(), port, &addr) != 0) return fail("listen", "bad address " + d.spec.host);
  int rc = d.listener.init([&](uv_tcp_t* t) { return uv_tcp_init(loop, t); });
  if (rc != 0) return fail("listen", uv_strerror(rc));
  d.listener.get()->data = &d;
  rc = uv_tcp_bind(d.listener.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(d.listener.get()), LISTEN_BACKLOG, &Impl::on_connection);
  if (rc != 0) {
    d.listener.close();
    return fail("listen", d.spec.id + ": cannot listen on " + d.spec.host + ":" + std::to_string(port) +
                              ": " + uv_strerror(rc));
  }
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(d.listener.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    d.bound_port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  return {};
}

void Simulator::Impl::on_connection(uv_stream_t* server, int status) {
  auto* d = static_cast<Device*>(server->data);
  if (!d || status < 0) return;
  d->sim->accept(*d, server);
}

void Simulator::Impl::accept(Device& d, uv_stream_t* server) {
  OwnedHandle<uv_tcp_t> client;
  if (client.init([&](uv_tcp_t* t) { return uv_tcp_init(loop, t); }) != 0) return;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(client.get())) != 0) return;
  if (d.conn || d.rebooting) {
    // One client at a time, like real devices: the second one is reset.
    d.c.refused++;
    T2M_LOGD(TAG, "%s: refusing a second connection", d.spec.id.c_str());
    client.close(true);
    return;
  }
  d.c.accepted++;
  d.conn_gen++;
  auto conn = std::make_unique<Conn>(d.spec.version, to_bytes(d.key), d.spec.device22);
  conn->last_rx_ms = now();
  conn->tcp = std::move(client);
  conn->tcp.get()->data = &d;
  uv_tcp_nodelay(conn->tcp.get(), 1);
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(conn->tcp.get()), &Impl::on_alloc, &Impl::on_read);
  d.conn = std::move(conn);
  if (rc != 0) {
    close_conn(d, false);
    return;
  }
  T2M_LOGD(TAG, "%s: client connected", d.spec.id.c_str());
  if (d.spec.idle_timeout_ms != 0) schedule(d.spec.idle_timeout_ms, d, EvKind::IDLE, d.conn_gen);
}

void Simulator::Impl::close_conn(Device& d, bool reset) {
  if (!d.conn) return;
  d.conn->tcp.close(reset);
  d.conn.reset();
  d.conn_gen++;
}

// One read buffer for every socket: reads are consumed (copied into a splitter) before the next one.
void Simulator::Impl::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* d = static_cast<Device*>(h->data);
  if (!d) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(d->sim->read_buf.data(), static_cast<unsigned>(d->sim->read_buf.size()));
}

void Simulator::Impl::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* d = static_cast<Device*>(s->data);
  if (!d) return;
  Impl* self = d->sim;
  if (nread < 0) {
    T2M_LOGD(TAG, "%s: client gone (%s)", d->spec.id.c_str(), uv_err_name(static_cast<int>(nread)));
    self->close_conn(*d, false);
    return;
  }
  if (nread == 0 || !d->conn) return;
  uint32_t gen = d->conn_gen;
  d->c.bytes_in += static_cast<uint64_t>(nread);
  d->conn->last_rx_ms = self->now();
  d->conn->splitter.feed(ByteView(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)));
  while (d->conn && d->conn_gen == gen) {
    auto next = d->conn->splitter.next();
    if (!next) break;
    if (!*next) {
      d->c.decode_errors++;
      continue;
    }
    self->on_frame(*d, *d->conn, next->value());
  }
}

void Simulator::Impl::on_idle_check(Device& d, const Event& e) {
  if (!d.conn || e.gen != d.conn_gen || d.spec.idle_timeout_ms == 0) return;
  uint64_t idle_for = now() - d.conn->last_rx_ms;
  if (idle_for >= d.spec.idle_timeout_ms) {
    T2M_LOGD(TAG, "%s: closing a connection idle for %llu ms", d.spec.id.c_str(),
             static_cast<unsigned long long>(idle_for));
    d.c.idle_closes++;
    close_conn(d, false);
  } else {
    schedule(d.spec.idle_timeout_ms - idle_for, d, EvKind::IDLE, d.conn_gen);
  }
}

// --- receiving -------------------------------------------------------------------------------------------

void Simulator::Impl::on_frame(Device& d, Conn& c, const Bytes& frame) {
  d.c.frames_in++;
  auto peek = proto::peek_header(frame);
  if (!peek) {
    d.c.decode_errors++;
    return;
  }
  if (d.silent) return;
  const proto::Version v = d.spec.version;
  if (proto::needs_session_key(v)) {
    if (peek->cmd == cmd_u32(Command::SESS_KEY_NEG_START)) {
      c.codec.clear_session_key();
      c.hs.emplace(v, to_bytes(d.key), random_bytes(proto::NONCE_SIZE));
      Bytes iv = proto::uses_6699(v) ? random_bytes(IV_SIZE) : Bytes{};
      auto resp = c.hs->on_start(frame, reply_seq(d, peek->seqno), iv);
      if (!resp) {
        // A real device with another key stays silent or drops the socket; dropping is clearer.
        d.c.handshake_failures++;
        T2M_LOGD(TAG, "%s: handshake start rejected (%s)", d.spec.id.c_str(), resp.error().detail.c_str());
        close_conn(d, false);
        return;
      }
      send(d, std::move(resp).value());
      return;
    }
    if (peek->cmd == cmd_u32(Command::SESS_KEY_NEG_FINISH)) {
      if (!c.hs) {
        d.c.decode_errors++;
        return;
      }
      auto st = c.hs->on_finish(frame);
      if (!st) {
        d.c.handshake_failures++;
        close_conn(d, false);
        return;
      }
      c.codec.set_session_key(c.hs->session_key());
      c.hs.reset();
      d.c.handshakes++;
      return;
    }
    if (!c.codec.ready()) {
      d.c.decode_errors++;
      return;
    }
  }
  auto m = c.codec.decode(frame);
  if (!m) {
    d.c.decode_errors++;
    T2M_LOGD(TAG, "%s: undecodable frame cmd 0x%02x: %s", d.spec.id.c_str(), peek->cmd,
             std::string(proto::to_string(m.error().code)).c_str());
    return;
  }
  on_message(d, *m);
}

// --- sending ---------------------------------------------------------------------------------------------

void Simulator::Impl::write_now(Device& d, Conn& c, Bytes frame) {
  d.c.frames_out++;
  d.c.bytes_out += frame.size();
  auto* stream = reinterpret_cast<uv_stream_t*>(c.tcp.get());
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(frame.data()), static_cast<unsigned>(frame.size()));
  int n = uv_try_write(stream, &b, 1);
  if (n == static_cast<int>(frame.size())) return;
  if (n < 0 && n != UV_EAGAIN) {
    close_conn(d, false);
    return;
  }
  size_t done = n > 0 ? static_cast<size_t>(n) : 0;
  auto w = std::make_unique<WriteReq>();
  w->data.assign(frame.begin() + static_cast<std::ptrdiff_t>(done), frame.end());
  w->req.data = w.get();
  uv_buf_t rest = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, stream, &rest, 1, [](uv_write_t* r, int) {
    std::unique_ptr<WriteReq> owner(static_cast<WriteReq*>(r->data));
  });
  if (rc == 0) {
    (void)w.release();
  } else {
    close_conn(d, false);
  }
}

void Simulator::Impl::send(Device& d, Bytes frame) {
  if (!d.conn || frame.empty()) return;
  Conn& c = *d.conn;
  if (d.delay_ms > 0 || !c.delayed.empty()) {
    uint64_t due = std::max(now() + d.delay_ms, c.last_delayed_due);
    c.last_delayed_due = due;
    c.delayed.emplace_back(due, std::move(frame));
    if (c.delayed.size() == 1) schedule(due - now(), d, EvKind::DELAYED, d.conn_gen);
    return;
  }
  write_now(d, c, std::move(frame));
}

Bytes Simulator::Impl::encode(Device& d, uint32_t cmd, std::string_view body, uint32_t seqno,
                              uint32_t retcode) {
  if (!d.conn) return {};
  Bytes iv = proto::uses_6699(d.spec.version) ? random_bytes(IV_SIZE) : Bytes{};
  auto r = d.conn->codec.encode(cmd, body, seqno, iv, retcode);
  if (!r) {
    T2M_LOGW(TAG, "%s: cannot encode cmd 0x%02x: %s", d.spec.id.c_str(), cmd, r.error().detail.c_str());
    return {};
  }
  return std::move(r).value();
}

// 3.5 devices number every frame from one counter; older ones echo the request's seqno (§4.7).
uint32_t Simulator::Impl::reply_seq(Device& d, uint32_t req) {
  return proto::uses_6699(d.spec.version) ? ++d.seq : req;
}

void Simulator::Impl::on_delayed_due(Device& d, const Event& e) {
  if (!d.conn || e.gen != d.conn_gen) return;
  Conn& c = *d.conn;
  while (!c.delayed.empty() && c.delayed.front().first <= now()) {
    Bytes b = std::move(c.delayed.front().second);
    c.delayed.pop_front();
    write_now(d, c, std::move(b));
    if (!d.conn || e.gen != d.conn_gen) return;
  }
  if (!c.delayed.empty()) schedule(c.delayed.front().first - now(), d, EvKind::DELAYED, d.conn_gen);
}

}  // namespace t2m::sim

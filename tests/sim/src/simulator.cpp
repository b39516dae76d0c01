#include "tests/sim/src/simulator.h"

#include <algorithm>
#include <array>
#include <queue>
#include <random>
#include <unordered_map>

#include "common/log.h"
#include "protocol/discovery.h"
#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/payload.h"
#include "protocol/session.h"
#include "tests/sim/src/uv_owned.h"

namespace t2m::sim {

namespace {

using nlohmann::json;
using proto::Command;

constexpr const char* TAG = "sim";
constexpr int LISTEN_BACKLOG = 8;
constexpr size_t READ_BUFFER_SIZE = 64 * 1024;
constexpr size_t IV_SIZE = 12;
constexpr uint32_t RETCODE_ERROR = 1;
// Curtain position updates while the motor runs.
constexpr uint32_t MOTION_STEP_MS = 500;
// A header declaring 1 MiB: far over any bound a client should accept (docs/protocol.md §2.3).
constexpr uint32_t OVERSIZE_LENGTH = 1024 * 1024;
constexpr size_t OVERSIZE_TAIL = 256;
constexpr const char* DEVICE22_ERROR = "json obj data unvalid";
constexpr const char* DEVID_NOT_FOUND = "devid not found";
constexpr const char* DATA_FORMAT_ERROR = "data format error";
constexpr const char* DEFAULT_FOREIGN_ID = "bf00000000000foreign";
constexpr uint16_t ROOT = 0xFFFF;  // event node index for the device itself

uint32_t cmd_u32(Command c) {
  return static_cast<uint32_t>(c);
}

int64_t unix_us_now() {
  uv_timeval64_t tv{};
  uv_gettimeofday(&tv);
  return tv.tv_sec * 1000000 + tv.tv_usec;
}

struct WriteReq {
  uv_write_t req{};
  Bytes data;
};

enum class EvKind : uint8_t { IDLE, DRIFT, MOTION, COUNTDOWN, DELAYED, FAULT_END, REBOOT_END, BROADCAST };

struct Event {
  uint64_t due;
  uint32_t dev;
  uint32_t gen;
  uint16_t node;
  EvKind kind;
  bool operator>(const Event& o) const { return due > o.due; }
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------

std::optional<FaultKind> parse_fault_kind(std::string_view n) {
  if (n == "close") return FaultKind::CLOSE;
  if (n == "silence") return FaultKind::SILENCE;
  if (n == "delay") return FaultKind::DELAY;
  if (n == "garbage") return FaultKind::GARBAGE;
  if (n == "corrupt") return FaultKind::CORRUPT;
  if (n == "oversize") return FaultKind::OVERSIZE;
  if (n == "change_key") return FaultKind::CHANGE_KEY;
  if (n == "reboot") return FaultKind::REBOOT;
  if (n == "foreign") return FaultKind::FOREIGN;
  if (n == "clear") return FaultKind::CLEAR;
  return std::nullopt;
}

std::string_view to_string(FaultKind k) {
  switch (k) {
    case FaultKind::CLOSE:
      return "close";
    case FaultKind::SILENCE:
      return "silence";
    case FaultKind::DELAY:
      return "delay";
    case FaultKind::GARBAGE:
      return "garbage";
    case FaultKind::CORRUPT:
      return "corrupt";
    case FaultKind::OVERSIZE:
      return "oversize";
    case FaultKind::CHANGE_KEY:
      return "change_key";
    case FaultKind::REBOOT:
      return "reboot";
    case FaultKind::FOREIGN:
      return "foreign";
    case FaultKind::CLEAR:
      return "clear";
  }
  return "?";
}

Result<Fault> parse_fault(const json& j) {
  if (!j.is_object()) return fail("bad_request", "a fault must be an object");
  auto name = j.find("fault");
  if (name == j.end() || !name->is_string()) return fail("bad_request", "'fault' (string) is required");
  auto kind = parse_fault_kind(name->get<std::string>());
  if (!kind) {
    return fail("bad_request",
                "unknown fault '" + name->get<std::string>() +
                    "' (close, silence, delay, garbage, corrupt, oversize, change_key, reboot, "
                    "foreign, clear)");
  }
  Fault f;
  f.kind = *kind;
  auto u32 = [&](const char* k, uint32_t& out) -> Status {
    auto it = j.find(k);
    if (it == j.end()) return {};
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > UINT32_MAX) {
      return fail("bad_request", std::string("'") + k + "' must be a non-negative integer");
    }
    out = it->get<uint32_t>();
    return {};
  };
  if (auto s = u32("ms", f.ms); !s) return fail(s.error());
  if (auto s = u32("duration_ms", f.duration_ms); !s) return fail(s.error());
  uint32_t bytes = 0;
  if (auto s = u32("bytes", bytes); !s) return fail(s.error());
  f.bytes = bytes;
  if (f.kind == FaultKind::REBOOT && !j.contains("ms")) f.ms = DEFAULT_REBOOT_MS;
  if (f.kind == FaultKind::GARBAGE && f.bytes == 0) f.bytes = DEFAULT_GARBAGE_BYTES;
  if (j.contains("key")) {
    if (!j["key"].is_string() || j["key"].get<std::string>().size() != LOCAL_KEY_SIZE) {
      return fail("bad_request", "'key' must be a 16-character string");
    }
    f.key = j["key"].get<std::string>();
  }
  if (j.contains("other_id")) {
    if (!j["other_id"].is_string()) return fail("bad_request", "'other_id' must be a string");
    f.other_id = j["other_id"].get<std::string>();
  }
  f.keep_connection = j.value("keep_connection", false);
  f.reset = j.value("reset", false);
  return f;
}

void Counters::add(const Counters& o) {
  frames_in += o.frames_in;
  frames_out += o.frames_out;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  writes += o.writes;
  pushes += o.pushes;
  queries += o.queries;
  heartbeats += o.heartbeats;
  accepted += o.accepted;
  refused += o.refused;
  handshakes += o.handshakes;
  handshake_failures += o.handshake_failures;
  decode_errors += o.decode_errors;
  idle_closes += o.idle_closes;
  faults += o.faults;
}

json Counters::to_json() const {
  return json{{"frames_in", frames_in},
              {"frames_out", frames_out},
              {"bytes_in", bytes_in},
              {"bytes_out", bytes_out},
              {"writes", writes},
              {"pushes", pushes},
              {"queries", queries},
              {"heartbeats", heartbeats},
              {"accepted", accepted},
              {"refused", refused},
              {"handshakes", handshakes},
              {"handshake_failures", handshake_failures},
              {"decode_errors", decode_errors},
              {"idle_closes", idle_closes},
              {"faults", faults}};
}

// ---------------------------------------------------------------------------------------------------------

struct Node {
  std::string cid;  // empty for the device itself
  DpModel model;
  uint32_t motion_gen = 0;
  uint32_t countdown_gen = 0;
};

struct Conn {
  OwnedHandle<uv_tcp_t> tcp;
  proto::FrameSplitter splitter;
  proto::MessageCodec codec;
  std::optional<proto::DeviceHandshake> hs;
  uint64_t last_rx_ms = 0;
  uint64_t last_delayed_due = 0;
  std::deque<std::pair<uint64_t, Bytes>> delayed;

  Conn(proto::Version v, Bytes key, bool device22)
      : codec(proto::Role::DEVICE, v, std::move(key), device22) {}
};

struct Device {
  Simulator::Impl* sim = nullptr;
  uint32_t index = 0;
  DeviceSpec spec;
  std::string key;
  std::vector<Node> nodes;  // [0] = the device itself, then sub-devices
  OwnedHandle<uv_tcp_t> listener;
  uint16_t bound_port = 0;
  std::unique_ptr<Conn> conn;
  uint32_t conn_gen = 0;
  uint32_t seq = 0;
  bool silent = false;
  uint32_t delay_ms = 0;
  uint32_t fault_gen = 0;
  bool rebooting = false;
  uint32_t reboot_gen = 0;
  uint32_t drift_gen = 0;
  Counters c;
};

struct Simulator::Impl {
  uv_loop_t* loop;
  SimConfig config;
  std::vector<std::unique_ptr<Device>> devices;
  std::unordered_map<std::string, uint32_t> by_id;
  OwnedHandle<uv_timer_t> timer;
  uint64_t armed_due = UINT64_MAX;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
  OwnedHandle<uv_udp_t> bcast;
  OwnedHandle<uv_udp_t> disc;
  std::optional<Endpoint> disc_bound;
  std::deque<WriteRecord> writes;
  uint64_t write_seq = 0;
  std::vector<std::pair<int, std::function<void(const WriteRecord&)>>> write_listeners;
  int next_listener = 1;
  std::array<char, READ_BUFFER_SIZE> read_buf{};
  std::mt19937_64 rng{std::random_device{}()};
  bool running = false;

  Impl(uv_loop_t* l, SimConfig c) : loop(l), config(std::move(c)) {
    uint64_t seed = 1;
    for (auto& spec : config.devices) {
      auto d = std::make_unique<Device>();
      d->sim = this;
      d->index = static_cast<uint32_t>(devices.size());
      d->key = spec.key;
      log_register_secret(spec.key);
      d->nodes.push_back(Node{"", DpModel(spec.profile, spec.dps, seed++), 0, 0});
      for (const auto& s : spec.sub_devices)
        d->nodes.push_back(Node{s.cid, DpModel(s.profile, s.dps, seed++), 0, 0});
      by_id.emplace(spec.id, d->index);
      d->spec = std::move(spec);
      devices.push_back(std::move(d));
    }
    config.devices.clear();  // each Device owns its spec now; one copy per device is enough at 5,000
  }

  Device* find(std::string_view id) const {
    auto it = by_id.find(std::string(id));
    return it == by_id.end() ? nullptr : devices[it->second].get();
  }

  Bytes random_bytes(size_t n) {
    Bytes b(n);
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = rng();
      for (size_t k = 0; k < 8 && i + k < n; ++k) b[i + k] = static_cast<uint8_t>(r >> (8 * k));
    }
    return b;
  }

  uint64_t now() const { return uv_now(loop); }

  // --- event queue -------------------------------------------------------------------------------------

  void schedule(uint64_t delay_ms, const Device& d, EvKind kind, uint32_t gen, uint16_t node = ROOT) {
    events.push(Event{now() + delay_ms, d.index, gen, node, kind});
    arm();
  }

  void arm() {
    if (!timer.open() || events.empty()) return;
    uint64_t due = events.top().due;
    if (due >= armed_due) return;
    armed_due = due;
    uint64_t n = now();
    uv_timer_start(timer.get(), &Impl::on_timer, due > n ? due - n : 0, 0);
  }

  static void on_timer(uv_timer_t* t) {
    auto* self = static_cast<Impl*>(t->data);
    if (!self) return;
    self->armed_due = UINT64_MAX;
    uint64_t n = self->now();
    while (!self->events.empty() && self->events.top().due <= n) {
      Event e = self->events.top();
      self->events.pop();
      self->fire(e);
      if (!self->running) return;
    }
    self->arm();
  }

  void fire(const Event& e) {
    Device& d = *devices[e.dev];
    switch (e.kind) {
      case EvKind::IDLE: {
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
        return;
      }
      case EvKind::DRIFT: {
        if (e.gen != d.drift_gen || d.spec.push_interval_ms == 0) return;
        if (!d.rebooting) {
          for (size_t i = 0; i < d.nodes.size(); ++i) {
            json changed = d.nodes[i].model.drift();
            if (!changed.empty()) push(d, i, changed);
          }
        }
        schedule(d.spec.push_interval_ms, d, EvKind::DRIFT, d.drift_gen);
        return;
      }
      case EvKind::MOTION: {
        if (e.node >= d.nodes.size()) return;
        Node& n = d.nodes[e.node];
        if (e.gen != n.motion_gen || !n.model.moving()) return;
        int step = d.spec.travel_ms == 0
                       ? 100
                       : std::max(1, static_cast<int>(100ULL * MOTION_STEP_MS / d.spec.travel_ms));
        json changed = n.model.step_motion(step);
        if (!changed.empty()) push(d, e.node, changed);
        if (n.model.moving()) schedule(MOTION_STEP_MS, d, EvKind::MOTION, n.motion_gen, e.node);
        return;
      }
      case EvKind::COUNTDOWN: {
        if (e.node >= d.nodes.size()) return;
        Node& n = d.nodes[e.node];
        if (e.gen != n.countdown_gen) return;
        json changed = n.model.countdown_expired();
        if (!changed.empty()) push(d, e.node, changed);
        return;
      }
      case EvKind::DELAYED: {
        if (!d.conn || e.gen != d.conn_gen) return;
        Conn& c = *d.conn;
        while (!c.delayed.empty() && c.delayed.front().first <= now()) {
          Bytes b = std::move(c.delayed.front().second);
          c.delayed.pop_front();
          write_now(d, c, std::move(b));
          if (!d.conn || e.gen != d.conn_gen) return;
        }
        if (!c.delayed.empty()) schedule(c.delayed.front().first - now(), d, EvKind::DELAYED, d.conn_gen);
        return;
      }
      case EvKind::FAULT_END:
        if (e.gen != d.fault_gen) return;
        d.silent = false;
        d.delay_ms = 0;
        return;
      case EvKind::REBOOT_END:
        if (e.gen != d.reboot_gen || !d.rebooting) return;
        d.rebooting = false;
        if (auto st = listen(d); !st)
          T2M_LOGE(TAG, "%s: cannot listen after reboot: %s", d.spec.id.c_str(), st.error().message.c_str());
        T2M_LOGI(TAG, "%s: back after reboot", d.spec.id.c_str());
        return;
      case EvKind::BROADCAST:
        if (!config.broadcast_to || config.broadcast_interval_ms == 0) return;
        if (!d.rebooting) send_broadcast(d);
        schedule(config.broadcast_interval_ms, d, EvKind::BROADCAST, 0);
        return;
    }
  }

  // --- listening and connections -----------------------------------------------------------------------

  Status listen(Device& d) {
    sockaddr_in addr{};
    uint16_t port = d.bound_port != 0 ? d.bound_port : d.spec.port;
    if (uv_ip4_addr(d.spec.host.c_str(), port, &addr) != 0)
      return fail("listen", "bad address " + d.spec.host);
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

  static void on_connection(uv_stream_t* server, int status) {
    auto* d = static_cast<Device*>(server->data);
    if (!d || status < 0) return;
    d->sim->accept(*d, server);
  }

  void accept(Device& d, uv_stream_t* server) {
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

  void close_conn(Device& d, bool reset) {
    if (!d.conn) return;
    d.conn->tcp.close(reset);
    d.conn.reset();
    d.conn_gen++;
  }

  // One read buffer for every socket: reads are consumed (copied into a splitter) before the next one.
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* d = static_cast<Device*>(h->data);
    if (!d) {
      *buf = uv_buf_init(nullptr, 0);
      return;
    }
    *buf = uv_buf_init(d->sim->read_buf.data(), static_cast<unsigned>(d->sim->read_buf.size()));
  }

  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
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

  // --- sending -----------------------------------------------------------------------------------------

  void write_now(Device& d, Conn& c, Bytes frame) {
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
    uv_buf_t rest =
        uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, stream, &rest, 1, [](uv_write_t* r, int) {
      std::unique_ptr<WriteReq> owner(static_cast<WriteReq*>(r->data));
    });
    if (rc == 0) {
      (void)w.release();
    } else {
      close_conn(d, false);
    }
  }

  void send(Device& d, Bytes frame) {
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

  Bytes encode(Device& d, uint32_t cmd, std::string_view body, uint32_t seqno, uint32_t retcode = 0) {
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
  uint32_t reply_seq(Device& d, uint32_t req) { return proto::uses_6699(d.spec.version) ? ++d.seq : req; }

  int64_t unix_s() const { return unix_us_now() / 1000000; }

  proto::Target target(const Device& d, size_t node) const {
    proto::Target t{d.spec.id, std::nullopt};
    if (node > 0) t.cid = d.nodes[node].cid;
    return t;
  }

  // A STATUS with `dps` of node `node`, if a client is there to hear it.
  void push(Device& d, size_t node, const json& dps) {
    if (!d.conn || !d.conn->codec.ready() || d.silent) return;
    std::string body = proto::build_report(d.spec.version, target(d, node), unix_s(), dps);
    Bytes f = encode(d, cmd_u32(Command::STATUS), body, ++d.seq);
    if (f.empty()) return;
    d.c.pushes++;
    send(d, std::move(f));
  }

  void arm_countdown(Device& d, size_t node, const json& changed) {
    Node& n = d.nodes[node];
    auto cd = n.model.countdown_armed(changed);
    if (!cd) return;
    n.countdown_gen++;
    if (*cd > 0)
      schedule(uint64_t{*cd} * 1000, d, EvKind::COUNTDOWN, n.countdown_gen, static_cast<uint16_t>(node));
  }

  // --- receiving ---------------------------------------------------------------------------------------

  void on_frame(Device& d, Conn& c, const Bytes& frame) {
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

  // The node a request addresses: the device, or the sub-device named by `cid`. nullopt = unknown cid.
  std::optional<size_t> node_for(const Device& d, const std::optional<std::string>& cid) const {
    if (!cid || cid->empty()) return 0;
    for (size_t i = 1; i < d.nodes.size(); ++i) {
      if (d.nodes[i].cid == *cid) return i;
    }
    return std::nullopt;
  }

  static std::optional<std::string> cid_of(const json& j) {
    if (!j.is_object()) return std::nullopt;
    if (auto it = j.find("cid"); it != j.end() && it->is_string()) return it->get<std::string>();
    if (auto it = j.find("data"); it != j.end() && it->is_object()) {
      if (auto c = it->find("cid"); c != it->end() && c->is_string()) return c->get<std::string>();
    }
    return std::nullopt;
  }

  void reply_error(Device& d, uint32_t cmd, uint32_t req_seq, const char* text) {
    send(d, encode(d, cmd, text, reply_seq(d, req_seq), RETCODE_ERROR));
  }

  void record_write(Device& d, size_t node, const json& dps) {
    d.c.writes++;
    WriteRecord w;
    w.seq = ++write_seq;
    w.device = d.spec.id;
    if (node > 0) w.cid = d.nodes[node].cid;
    w.dps = dps;
    w.unix_us = unix_us_now();
    if (config.writes_capacity > 0) {
      while (writes.size() >= config.writes_capacity) writes.pop_front();
      writes.push_back(w);
    }
    for (auto& [id, fn] : write_listeners) fn(w);
  }

  void on_message(Device& d, const proto::Message& m) {
    const uint32_t cmd = m.cmd;
    const proto::Version v = d.spec.version;
    switch (static_cast<Command>(cmd)) {
      case Command::HEART_BEAT:
        d.c.heartbeats++;
        send(d, encode(d, cmd, "", reply_seq(d, m.seqno)));
        return;
      case Command::DP_QUERY:
      case Command::DP_QUERY_NEW: {
        if (d.spec.device22 && cmd == cmd_u32(Command::DP_QUERY)) {
          reply_error(d, cmd, m.seqno, DEVICE22_ERROR);
          return;
        }
        json req = json::parse(m.payload, nullptr, false);
        auto node = node_for(d, cid_of(req));
        if (!node) {
          reply_error(d, cmd, m.seqno, DEVID_NOT_FOUND);
          return;
        }
        d.c.queries++;
        std::string body = proto::build_report(v, target(d, *node), unix_s(), d.nodes[*node].model.dps());
        send(d, encode(d, cmd, body, reply_seq(d, m.seqno)));
        return;
      }
      case Command::CONTROL:
      case Command::CONTROL_NEW: {
        auto req = proto::parse_control(m.payload);
        if (!req) {
          reply_error(d, cmd, m.seqno, DATA_FORMAT_ERROR);
          return;
        }
        auto node = node_for(d, req->cid);
        bool foreign = !req->cid && req->dev_id && !req->dev_id->empty() && *req->dev_id != d.spec.id;
        if (!node || foreign) {
          reply_error(d, cmd, m.seqno, DEVID_NOT_FOUND);
          return;
        }
        Node& n = d.nodes[*node];
        bool all_null = !req->dps.empty();
        std::vector<std::string> ids;
        for (const auto& [k, val] : req->dps.items()) {
          all_null = all_null && val.is_null();
          ids.push_back(k);
        }
        if (all_null) {
          // device22 query (CONTROL_NEW with null DPs, §4.5) or tuyapi's CONTROL fallback: answer the DPs.
          d.c.queries++;
          std::string body = proto::build_report(v, target(d, *node), unix_s(), n.model.subset(ids));
          send(d, encode(d, cmd, body, reply_seq(d, m.seqno)));
          return;
        }
        record_write(d, *node, req->dps);
        if (!d.conn) return;  // the write hook may have injected a fault
        json accepted = n.model.apply_write(req->dps);
        send(d, encode(d, cmd, "", reply_seq(d, m.seqno)));
        if (!accepted.empty()) push(d, *node, accepted);
        if (n.model.moving()) {
          n.motion_gen++;
          schedule(MOTION_STEP_MS, d, EvKind::MOTION, n.motion_gen, static_cast<uint16_t>(*node));
        }
        arm_countdown(d, *node, accepted);
        return;
      }
      case Command::UPDATEDPS: {
        auto ids = proto::parse_updatedps(m.payload);
        send(d, encode(d, cmd, "", reply_seq(d, m.seqno)));
        if (!ids) return;
        json fresh = d.nodes[0].model.resample(*ids);
        if (!fresh.empty()) push(d, 0, fresh);
        return;
      }
      case Command::LAN_EXT_STREAM: {
        json req = json::parse(m.payload, nullptr, false);
        if (!req.is_object() || req.value("reqType", "") != "subdev_online_stat_query") return;
        json online = json::array();
        for (size_t i = 1; i < d.nodes.size(); ++i) online.push_back(d.nodes[i].cid);
        json body{{"reqType", "subdev_online_stat_report"},
                  {"data", {{"online", online}, {"offline", json::array()}, {"nearby", json::array()}}}};
        send(d, encode(d, cmd, body.dump(), reply_seq(d, m.seqno)));
        return;
      }
      default:
        T2M_LOGD(TAG, "%s: ignoring cmd 0x%02x", d.spec.id.c_str(), cmd);
        return;
    }
  }

  // --- discovery ---------------------------------------------------------------------------------------

  json announcement(const Device& d) const {
    json info{{"ip", d.spec.host},
              {"gwId", d.spec.id},
              {"active", 2},
              {"ablilty", 0},
              {"encrypt", d.spec.version != proto::Version::V3_1},
              {"productKey", d.spec.product_key.empty() ? "simproductkey000" : d.spec.product_key}};
    switch (d.spec.version) {
      case proto::Version::V3_1:
        info["version"] = "3.1";
        break;
      case proto::Version::V3_2:
        info["version"] = "3.2";
        break;
      case proto::Version::V3_3:
        info["version"] = "3.3";
        break;
      case proto::Version::V3_4:
        info["version"] = "3.4";
        break;
      case proto::Version::V3_5:
        info["version"] = "3.5";
        info["token"] = true;
        info["wf_cfg"] = true;
        break;
    }
    return info;
  }

  void udp_send(uv_udp_t* sock, ByteView data, const sockaddr_in& to) {
    // Belt and braces: whatever the configuration says, nothing leaves for a non-loopback address.
    if ((ntohl(to.sin_addr.s_addr) & 0xFF000000U) != 0x7F000000U) return;
    uv_buf_t b = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                             static_cast<unsigned>(data.size()));
    (void)uv_udp_try_send(sock, &b, 1, reinterpret_cast<const sockaddr*>(&to));
  }

  void send_broadcast(Device& d) {
    if (!bcast.open() || !config.broadcast_to) return;
    sockaddr_in to{};
    if (uv_ip4_addr(config.broadcast_to->host.c_str(), config.broadcast_to->port, &to) != 0) return;
    Bytes iv = random_bytes(IV_SIZE);
    Bytes pkt = proto::encode_broadcast(d.spec.version, announcement(d), iv);
    udp_send(bcast.get(), pkt, to);
  }

  static void on_disc_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Impl*>(h->data);
    if (!self) {
      *buf = uv_buf_init(nullptr, 0);
      return;
    }
    *buf = uv_buf_init(self->read_buf.data(), static_cast<unsigned>(self->read_buf.size()));
  }

  static void on_disc_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned) {
    auto* self = static_cast<Impl*>(h->data);
    if (!self || nread <= 0 || !from || from->sa_family != AF_INET) return;
    auto req = proto::decode_discovery(
        ByteView(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)));
    if (!req || !req->from_app) return;
    const auto& to = *reinterpret_cast<const sockaddr_in*>(from);
    // 3.5 devices answer a solicitation with their announcement; we answer the sender (real devices
    // answer <ip>:7000, which on one host would be this very socket).
    for (auto& d : self->devices) {
      if (d->spec.version != proto::Version::V3_5 || d->rebooting) continue;
      Bytes iv = self->random_bytes(IV_SIZE);
      Bytes pkt = proto::encode_broadcast(proto::Version::V3_5, self->announcement(*d), iv);
      self->udp_send(h, pkt, to);
    }
  }

  Status start_udp() {
    if (config.broadcast_to) {
      if (!is_loopback_ipv4(config.broadcast_to->host)) return fail("config", "broadcast_to is not loopback");
      int rc = bcast.init([&](uv_udp_t* u) { return uv_udp_init(loop, u); });
      if (rc != 0) return fail("udp", uv_strerror(rc));
      sockaddr_in any{};
      uv_ip4_addr("127.0.0.1", 0, &any);
      rc = uv_udp_bind(bcast.get(), reinterpret_cast<const sockaddr*>(&any), 0);
      if (rc != 0) return fail("udp", std::string("cannot bind the broadcast socket: ") + uv_strerror(rc));
      if (config.broadcast_interval_ms > 0) {
        size_t n = devices.size();
        for (size_t i = 0; i < n; ++i) {
          // Spread the announcements over one interval instead of a burst.
          schedule(config.broadcast_interval_ms * i / n, *devices[i], EvKind::BROADCAST, 0);
        }
      }
    }
    if (config.discovery_listen) {
      if (!is_loopback_ipv4(config.discovery_listen->host))
        return fail("config", "discovery listen is not loopback");
      int rc = disc.init([&](uv_udp_t* u) { return uv_udp_init(loop, u); });
      if (rc != 0) return fail("udp", uv_strerror(rc));
      disc.get()->data = this;
      sockaddr_in addr{};
      uv_ip4_addr(config.discovery_listen->host.c_str(), config.discovery_listen->port, &addr);
      rc = uv_udp_bind(disc.get(), reinterpret_cast<const sockaddr*>(&addr), UV_UDP_REUSEADDR);
      if (rc == 0) rc = uv_udp_recv_start(disc.get(), &Impl::on_disc_alloc, &Impl::on_disc_recv);
      if (rc != 0)
        return fail("udp", std::string("cannot listen for discovery requests: ") + uv_strerror(rc));
      sockaddr_storage ss{};
      int len = sizeof ss;
      uv_udp_getsockname(disc.get(), reinterpret_cast<sockaddr*>(&ss), &len);
      disc_bound =
          Endpoint{config.discovery_listen->host, ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)};
    }
    return {};
  }

  // --- control -----------------------------------------------------------------------------------------

  Status start() {
    if (running) return {};
    running = true;
    int rc = timer.init([&](uv_timer_t* t) { return uv_timer_init(loop, t); });
    if (rc != 0) {
      stop();
      return fail("start", uv_strerror(rc));
    }
    timer.get()->data = this;
    for (auto& d : devices) {
      if (auto st = listen(*d); !st) {
        stop();
        return st;
      }
      if (d->spec.push_interval_ms > 0) {
        schedule(d->spec.push_interval_ms / 2 + d->index % std::max<uint32_t>(1, d->spec.push_interval_ms),
                 *d, EvKind::DRIFT, d->drift_gen);
      }
    }
    if (auto st = start_udp(); !st) {
      stop();
      return st;
    }
    T2M_LOGI(TAG, "%zu simulated devices listening", devices.size());
    return {};
  }

  void stop() {
    if (!running) return;
    running = false;
    for (auto& d : devices) {
      close_conn(*d, false);
      d->listener.close();
    }
    timer.close();
    bcast.close();
    disc.close();
    armed_due = UINT64_MAX;
    events = {};
  }

  Status inject(Device& d, const Fault& f) {
    T2M_LOGI(TAG, "%s: fault %s", d.spec.id.c_str(), std::string(to_string(f.kind)).c_str());
    auto need_conn = [&]() -> Status {
      if (!d.conn) return fail("not_connected", d.spec.id + " has no client connected");
      return {};
    };
    switch (f.kind) {
      case FaultKind::CLOSE:
        if (auto st = need_conn(); !st) return st;
        close_conn(d, f.reset);
        return {};
      case FaultKind::SILENCE:
        d.silent = true;
        d.fault_gen++;
        if (f.ms > 0) schedule(f.ms, d, EvKind::FAULT_END, d.fault_gen);
        return {};
      case FaultKind::DELAY:
        d.delay_ms = f.ms;
        d.fault_gen++;
        if (f.duration_ms > 0) schedule(f.duration_ms, d, EvKind::FAULT_END, d.fault_gen);
        return {};
      case FaultKind::CLEAR:
        d.silent = false;
        d.delay_ms = 0;
        d.fault_gen++;
        return {};
      case FaultKind::GARBAGE: {
        if (auto st = need_conn(); !st) return st;
        Bytes junk = random_bytes(f.bytes);
        // No byte pair 00 00 may start a prefix: clear zero bytes.
        for (auto& b : junk) b = static_cast<uint8_t>(b | 0x80);
        send(d, std::move(junk));
        return {};
      }
      case FaultKind::CORRUPT: {
        if (auto st = need_conn(); !st) return st;
        if (!d.conn->codec.ready()) return fail("not_ready", "the session key is not negotiated yet");
        std::string body =
            proto::build_report(d.spec.version, target(d, 0), unix_s(), d.nodes[0].model.dps());
        Bytes fr = encode(d, cmd_u32(Command::STATUS), body, ++d.seq);
        if (fr.size() < 2 * proto::SUFFIX_SIZE) return fail("encode", "cannot build a frame");
        fr[fr.size() - proto::SUFFIX_SIZE - 1] ^= 0x5A;  // inside the CRC / HMAC / tag
        send(d, std::move(fr));
        return {};
      }
      case FaultKind::OVERSIZE: {
        if (auto st = need_conn(); !st) return st;
        bool v35 = proto::uses_6699(d.spec.version);
        Bytes fr;
        auto put32 = [&](uint32_t x) {
          for (int s = 24; s >= 0; s -= 8) fr.push_back(static_cast<uint8_t>(x >> s));
        };
        put32(v35 ? proto::PREFIX_6699 : proto::PREFIX_55AA);
        if (v35) fr.insert(fr.end(), {0, 0});
        put32(++d.seq);
        put32(cmd_u32(Command::STATUS));
        put32(OVERSIZE_LENGTH);
        Bytes tail = random_bytes(OVERSIZE_TAIL);
        for (auto& b : tail) b = static_cast<uint8_t>(b | 0x80);
        fr.insert(fr.end(), tail.begin(), tail.end());
        send(d, std::move(fr));
        return {};
      }
      case FaultKind::CHANGE_KEY: {
        std::string key = f.key;
        if (key.empty()) {
          static constexpr char ALPHABET[] = "abcdefghijklmnopqrstuvwxyz0123456789{}^`";
          for (size_t i = 0; i < LOCAL_KEY_SIZE; ++i) key.push_back(ALPHABET[rng() % (sizeof ALPHABET - 1)]);
        }
        log_register_secret(key);
        d.key = key;
        if (d.conn) {
          if (f.keep_connection) {
            d.conn->codec =
                proto::MessageCodec(proto::Role::DEVICE, d.spec.version, to_bytes(d.key), d.spec.device22);
          } else {
            close_conn(d, false);
          }
        }
        return {};
      }
      case FaultKind::REBOOT:
        close_conn(d, true);
        d.listener.close();
        d.rebooting = true;
        d.silent = false;
        d.delay_ms = 0;
        d.fault_gen++;
        d.reboot_gen++;
        for (auto& n : d.nodes) {
          n.model.reset();
          n.motion_gen++;
          n.countdown_gen++;
        }
        schedule(f.ms, d, EvKind::REBOOT_END, d.reboot_gen);
        return {};
      case FaultKind::FOREIGN: {
        if (auto st = need_conn(); !st) return st;
        if (!d.conn->codec.ready()) return fail("not_ready", "the session key is not negotiated yet");
        proto::Target t{f.other_id.empty() ? DEFAULT_FOREIGN_ID : f.other_id, std::nullopt};
        std::string body = proto::build_report(d.spec.version, t, unix_s(), d.nodes[0].model.dps());
        send(d, encode(d, cmd_u32(Command::STATUS), body, ++d.seq));
        return {};
      }
    }
    return {};
  }
};

// ---------------------------------------------------------------------------------------------------------

Simulator::Simulator(uv_loop_t* loop, SimConfig config)
    : impl_(std::make_unique<Impl>(loop, std::move(config))) {}
Simulator::~Simulator() {
  impl_->stop();
}

Status Simulator::start() {
  return impl_->start();
}
void Simulator::stop() {
  impl_->stop();
}
bool Simulator::running() const {
  return impl_->running;
}
size_t Simulator::device_count() const {
  return impl_->devices.size();
}

std::vector<std::string> Simulator::device_ids() const {
  std::vector<std::string> ids;
  ids.reserve(impl_->devices.size());
  for (const auto& d : impl_->devices) ids.push_back(d->spec.id);
  return ids;
}

const DeviceSpec* Simulator::spec(std::string_view id) const {
  Device* d = impl_->find(id);
  return d ? &d->spec : nullptr;
}

uint16_t Simulator::port_of(std::string_view id) const {
  Device* d = impl_->find(id);
  return d ? d->bound_port : 0;
}

std::optional<Endpoint> Simulator::discovery_endpoint() const {
  return impl_->disc_bound;
}

bool Simulator::connected(std::string_view id) const {
  Device* d = impl_->find(id);
  return d && d->conn != nullptr;
}

std::optional<std::string> Simulator::current_key(std::string_view id) const {
  Device* d = impl_->find(id);
  if (!d) return std::nullopt;
  return d->key;
}

Result<json> Simulator::state(std::string_view id, const std::optional<std::string>& cid) const {
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  auto node = impl_->node_for(*d, cid);
  if (!node) return fail("unknown_cid", "device '" + std::string(id) + "' has no sub-device '" + *cid + "'");
  return d->nodes[*node].model.dps();
}

Status Simulator::set_dps(std::string_view id, const std::optional<std::string>& cid, const json& dps) {
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  if (!dps.is_object()) return fail("bad_request", "'dps' must be an object");
  auto node = impl_->node_for(*d, cid);
  if (!node) return fail("unknown_cid", "device '" + std::string(id) + "' has no sub-device '" + *cid + "'");
  json changed = d->nodes[*node].model.force(dps);
  if (!changed.empty()) impl_->push(*d, *node, changed);
  impl_->arm_countdown(*d, *node, changed);
  return {};
}

Status Simulator::inject(std::string_view id, const Fault& f) {
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  if (!impl_->running) return fail("not_running", "the simulator is stopped");
  auto st = impl_->inject(*d, f);
  if (st) d->c.faults++;
  return st;
}

Status Simulator::set_push_interval(std::string_view id, uint32_t ms) {
  auto apply = [&](Device& d) {
    d.spec.push_interval_ms = ms;
    d.drift_gen++;
    if (ms > 0 && impl_->running) {
      impl_->schedule(ms / 2 + d.index % ms, d, EvKind::DRIFT, d.drift_gen);
    }
  };
  if (id.empty()) {
    for (auto& d : impl_->devices) apply(*d);
    return {};
  }
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  apply(*d);
  return {};
}

Counters Simulator::totals() const {
  Counters t;
  for (const auto& d : impl_->devices) t.add(d->c);
  return t;
}

Result<Counters> Simulator::counters(std::string_view id) const {
  Device* d = impl_->find(id);
  if (!d) return fail("unknown_device", "no device '" + std::string(id) + "'");
  return d->c;
}

const std::deque<WriteRecord>& Simulator::writes() const {
  return impl_->writes;
}
void Simulator::clear_writes() {
  impl_->writes.clear();
}
int Simulator::add_write_listener(std::function<void(const WriteRecord&)> fn) {
  int id = impl_->next_listener++;
  impl_->write_listeners.emplace_back(id, std::move(fn));
  return id;
}

void Simulator::remove_write_listener(int id) {
  std::erase_if(impl_->write_listeners, [id](const auto& l) { return l.first == id; });
}

}  // namespace t2m::sim

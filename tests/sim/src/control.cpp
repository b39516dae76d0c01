#include "tests/sim/src/control.h"

#include <memory>

#include "common/log.h"

namespace t2m::sim {

namespace {

using nlohmann::json;

constexpr const char* CONTROL_TAG = "sim-ctl";
constexpr int CONTROL_BACKLOG = 16;

json error_reply(std::string_view code, std::string_view message) {
  return json{{"ok", false}, {"error", code}, {"message", message}};
}
json error_reply(const Error& e) {
  return error_reply(e.code, e.message);
}

std::optional<std::string> opt_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

const char* version_text(const DeviceSpec& d) {
  if (d.device22) return "device22";
  switch (d.version) {
    case proto::Version::V3_1:
      return "3.1";
    case proto::Version::V3_2:
      return "3.2";
    case proto::Version::V3_3:
      return "3.3";
    case proto::Version::V3_4:
      return "3.4";
    case proto::Version::V3_5:
      return "3.5";
  }
  return "?";
}

struct WriteCtx {
  uv_write_t req{};
  std::string data;
};

json write_to_json(const WriteRecord& w) {
  json e{{"seq", w.seq}, {"device", w.device}, {"dps", w.dps}, {"unix_us", w.unix_us}};
  if (w.cid) e["cid"] = *w.cid;
  return e;
}

}  // namespace

ControlServer::ControlServer(uv_loop_t* loop, Simulator& sim) : loop_(loop), sim_(sim) {
  write_listener_ = sim_.add_write_listener([this](const WriteRecord& w) {
    json ev;  // built only when someone watches
    for (auto& c : clients_) {
      if (!c.watching || !c.tcp.open()) continue;
      if (ev.is_null()) {
        ev = write_to_json(w);
        ev["event"] = "write";
      }
      reply(c, ev);
    }
  });
}

Status ControlServer::listen(const Endpoint& at) {
  if (!is_loopback_ipv4(at.host)) return fail("config", "the control port must be on a loopback address");
  sockaddr_in addr{};
  if (uv_ip4_addr(at.host.c_str(), at.port, &addr) != 0) return fail("config", "bad control address");
  int rc = listener_.init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); });
  if (rc != 0) return fail("listen", uv_strerror(rc));
  listener_.get()->data = this;
  rc = uv_tcp_bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_.get()), CONTROL_BACKLOG, &on_connection);
  if (rc != 0) {
    listener_.close();
    return fail("listen", "control port " + at.host + ":" + std::to_string(at.port) + ": " + uv_strerror(rc));
  }
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_tcp_getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return {};
}

void ControlServer::close() {
  if (write_listener_ != 0) sim_.remove_write_listener(write_listener_);
  write_listener_ = 0;
  listener_.close();
  clients_.clear();  // each Client's handle closes itself
}

void ControlServer::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<ControlServer*>(server->data);
  if (!self || status < 0) return;
  self->clients_.emplace_back();
  Client& c = self->clients_.back();
  c.owner = self;
  if (c.tcp.init([&](uv_tcp_t* t) { return uv_tcp_init(self->loop_, t); }) != 0 ||
      uv_accept(server, reinterpret_cast<uv_stream_t*>(c.tcp.get())) != 0) {
    self->clients_.pop_back();
    return;
  }
  c.tcp.get()->data = &c;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(c.tcp.get()), &on_alloc, &on_read) != 0) self->drop(&c);
}

void ControlServer::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Client*>(h->data);
  if (!c) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(c->owner->read_buf_, sizeof c->owner->read_buf_);
}

void ControlServer::drop(Client* c) {
  clients_.remove_if([c](const Client& x) { return &x == c; });
}

void ControlServer::reply(Client& c, const json& j) {
  auto w = std::make_unique<WriteCtx>();
  w->data = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  w->req.data = w.get();
  uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(c.tcp.get()), &b, 1, [](uv_write_t* r, int) {
        std::unique_ptr<WriteCtx> owner(static_cast<WriteCtx*>(r->data));
      }) == 0) {
    (void)w.release();
  }
}

void ControlServer::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Client*>(s->data);
  if (!c) return;
  ControlServer* self = c->owner;
  if (nread < 0) {
    self->drop(c);
    return;
  }
  c->buf.append(buf->base, static_cast<size_t>(nread));
  size_t pos;
  bool shutdown = false;
  while ((pos = c->buf.find('\n')) != std::string::npos) {
    std::string line = c->buf.substr(0, pos);
    c->buf.erase(0, pos + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    json req = json::parse(line, nullptr, false);
    json rep;
    if (req.is_discarded() || !req.is_object()) {
      rep = error_reply("bad_request", "each line must be one JSON object");
    } else {
      rep = self->handle(req);
      if (req.value("cmd", "") == "shutdown") shutdown = true;
      if (req.value("cmd", "") == "watch") c->watching = true;
    }
    self->reply(*c, rep);
  }
  if (c->buf.size() > MAX_CONTROL_LINE) {
    T2M_LOGW(CONTROL_TAG, "control line over %zu bytes: closing that client", MAX_CONTROL_LINE);
    self->drop(c);
    return;
  }
  if (shutdown && self->on_shutdown_) self->on_shutdown_();
}

json ControlServer::handle(const json& req) {
  json rep = [&]() -> json {
    auto cmd = opt_string(req, "cmd");
    if (!cmd) return error_reply("bad_request", "'cmd' (string) is required");
    auto device = opt_string(req, "device");
    auto cid = opt_string(req, "cid");
    auto need_device = [&]() -> Status {
      if (!device) return fail("bad_request", "'device' (string) is required");
      if (!sim_.spec(*device)) return fail("unknown_device", "no device '" + *device + "'");
      return {};
    };
    if (*cmd == "ping") return json{{"ok", true}, {"pong", true}};
    if (*cmd == "list") {
      json arr = json::array();
      for (const auto& id : sim_.device_ids()) {
        const DeviceSpec* d = sim_.spec(id);
        json cids = json::array();
        for (const auto& s : d->sub_devices)
          cids.push_back(json{{"cid", s.cid}, {"profile", to_string(s.profile)}});
        arr.push_back(json{{"id", d->id},
                           {"name", d->name},
                           {"version", version_text(*d)},
                           {"profile", to_string(d->profile)},
                           {"host", d->host},
                           {"port", sim_.port_of(id)},
                           {"connected", sim_.connected(id)},
                           {"sub_devices", cids}});
      }
      return json{{"ok", true}, {"devices", arr}};
    }
    if (*cmd == "state") {
      if (auto st = need_device(); !st) return error_reply(st.error());
      auto s = sim_.state(*device, cid);
      if (!s) return error_reply(s.error());
      return json{{"ok", true}, {"dps", *s}, {"connected", sim_.connected(*device)}};
    }
    if (*cmd == "set") {
      if (auto st = need_device(); !st) return error_reply(st.error());
      if (!req.contains("dps") || !req["dps"].is_object())
        return error_reply("bad_request", "'dps' (object) is required");
      if (auto st = sim_.set_dps(*device, cid, req["dps"]); !st) return error_reply(st.error());
      return json{{"ok", true}};
    }
    if (*cmd == "fault") {
      if (auto st = need_device(); !st) return error_reply(st.error());
      auto f = parse_fault(req);
      if (!f) return error_reply(f.error());
      if (auto st = sim_.inject(*device, *f); !st) return error_reply(st.error());
      return json{{"ok", true}};
    }
    if (*cmd == "push_rate") {
      auto it = req.find("interval_ms");
      if (it == req.end() || !it->is_number_integer() || it->get<int64_t>() < 0 ||
          it->get<int64_t>() > UINT32_MAX) {
        return error_reply("bad_request", "'interval_ms' (non-negative integer) is required");
      }
      if (device) {
        if (auto st = need_device(); !st) return error_reply(st.error());
      }
      if (auto st = sim_.set_push_interval(device.value_or(""), it->get<uint32_t>()); !st)
        return error_reply(st.error());
      return json{{"ok", true}};
    }
    if (*cmd == "stats") {
      json out{{"ok", true}, {"totals", sim_.totals().to_json()}, {"device_count", sim_.device_count()}};
      if (device) {
        auto c = sim_.counters(*device);
        if (!c) return error_reply(c.error());
        out["device"] = c->to_json();
      }
      if (req.value("per_device", false)) {
        json all = json::object();
        for (const auto& id : sim_.device_ids()) all[id] = sim_.counters(id)->to_json();
        out["devices"] = all;
      }
      return out;
    }
    if (*cmd == "writes") {
      uint64_t since = 0;
      if (auto it = req.find("since"); it != req.end() && it->is_number_unsigned())
        since = it->get<uint64_t>();
      size_t limit = SIZE_MAX;
      if (auto it = req.find("limit"); it != req.end() && it->is_number_unsigned()) limit = it->get<size_t>();
      json arr = json::array();
      uint64_t last = 0;
      // last_seq: pass it back as "since" to continue where this answer stopped.
      for (const auto& w : sim_.writes()) {
        if (arr.size() >= limit) break;
        last = w.seq;
        if (w.seq <= since || (device && w.device != *device)) continue;
        arr.push_back(write_to_json(w));
      }
      if (req.value("clear", false)) sim_.clear_writes();
      return json{{"ok", true}, {"writes", arr}, {"last_seq", last}};
    }
    if (*cmd == "shutdown" || *cmd == "watch") return json{{"ok", true}};
    return error_reply("bad_request", "unknown cmd '" + *cmd + "'");
  }();
  if (req.is_object() && req.contains("id")) rep["id"] = req["id"];
  return rep;
}

}  // namespace t2m::sim

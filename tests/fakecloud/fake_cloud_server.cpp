#include "tests/fakecloud/fake_cloud_server.h"

#include <algorithm>
#include <cstdlib>

namespace t2m::fakecloud {

namespace {

struct WriteReq {
  uv_write_t req{};
  std::string data;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

Result<int> FakeCloudServer::listen(int port) {
  if (listener_.init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); }) != 0)
    return fail("fake_listen", "tcp init");
  listener_->data = this;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", port, &addr);
  int rc = uv_tcp_bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_.get()), 16, &FakeCloudServer::on_connection);
  if (rc != 0) return fail("fake_listen", uv_strerror(rc));
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return port_;
}

void FakeCloudServer::close() {
  conns_.clear();
  listener_.close();
}

void FakeCloudServer::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<FakeCloudServer*>(server->data);
  if (!self || status < 0) return;
  auto c = std::make_unique<Conn>();
  c->owner = self;
  if (c->tcp.init([&](uv_tcp_t* t) { return uv_tcp_init(self->loop_, t); }) != 0) return;
  c->tcp->data = c.get();
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(c->tcp.get())) != 0) return;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(c->tcp.get()),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = static_cast<char*>(std::malloc(suggested));
        buf->len = buf->base ? suggested : 0;
      },
      &FakeCloudServer::on_read);
  self->conns_.push_back(std::move(c));
}

void FakeCloudServer::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(stream->data);
  if (c && nread > 0) c->in.append(buf->base, static_cast<size_t>(nread));
  std::free(buf->base);
  if (!c) return;
  if (nread < 0 || c->in.size() > MAX_REQUEST_BYTES) {
    c->owner->drop(c);
    return;
  }
  c->owner->process(*c);
}

void FakeCloudServer::drop(Conn* c) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [&](const auto& p) { return p.get() == c; });
  if (it != conns_.end()) conns_.erase(it);
}

void FakeCloudServer::write(Conn& c, std::string data) {
  auto w = std::make_unique<WriteReq>();  // owned by libuv until the write callback
  w->data = std::move(data);
  uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(c.tcp.get()), &b, 1, [](uv_write_t* req, int) {
    std::unique_ptr<WriteReq> owner(reinterpret_cast<WriteReq*>(req));
  });
  if (rc == 0) static_cast<void>(w.release());
}

void FakeCloudServer::process(Conn& c) {
  while (!c.hung) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return;
    std::string head = c.in.substr(0, end);
    Request r;
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) {
      drop(&c);
      return;
    }
    r.method = request_line.substr(0, sp1);
    std::string target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t content_length = 0;
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string h = head.substr(pos, e - pos);
      size_t colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = lower(trim(h.substr(0, colon)));
        std::string value = trim(h.substr(colon + 1));
        if (name == "content-length")
          content_length = static_cast<size_t>(std::strtoul(value.c_str(), nullptr, 10));
        r.headers[name] = value;
      }
      pos = e + 2;
    }
    if (c.in.size() < end + 4 + content_length) return;  // body not complete yet
    r.body = c.in.substr(end + 4, content_length);
    c.in.erase(0, end + 4 + content_length);
    Response resp;
    if (silent_) {
      resp.hang = true;
    } else if (!parse_target(target, r.path, r.query)) {
      resp = Response{400, "bad request", false};
    } else {
      resp = cloud_.handle(r);
    }
    if (resp.hang) {
      c.hung = true;  // keep the connection open and silent: the client must time out
      return;
    }
    std::string body = resp.body + std::string(padding_, ' ');
    std::string reason = resp.status == 200 ? "OK" : "Error";
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason +
                      "\r\nContent-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
    write(c, std::move(out));
  }
}

}  // namespace t2m::fakecloud

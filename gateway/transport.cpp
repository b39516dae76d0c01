#include "gateway/transport.h"

#include <array>
#include <cstring>

namespace t2m::gw {
namespace {

// One read buffer per loop thread: on_data consumes it synchronously before the next read.
constexpr size_t READ_BUFFER_SIZE = 64 * 1024;
thread_local std::array<char, READ_BUFFER_SIZE> g_read_buffer;

struct WriteReq {
  uv_write_t req{};
  Bytes data;
};

}  // namespace

struct UvTcpTransport::ResolveReq {
  uv_getaddrinfo_t req{};
  UvTcpTransport* owner = nullptr;
};

void UvTcpTransport::connect(const std::string& host, uint16_t port, TransportHandlers handlers) {
  handlers_ = std::move(handlers);
  port_ = port;
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
    connect_addr_(reinterpret_cast<const sockaddr*>(&addr));
    return;
  }
  // A host name: resolve off the loop thread (libuv's thread pool), never blocking the loop.
  auto req = std::make_unique<ResolveReq>();
  req->owner = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(
      loop_, &req->req,
      [](uv_getaddrinfo_t* r, int status, addrinfo* res) {
        std::unique_ptr<ResolveReq> self(reinterpret_cast<ResolveReq*>(r));
        UvTcpTransport* owner = self->owner;
        if (owner) owner->resolving_ = nullptr;
        if (owner && status == 0 && res) {
          sockaddr_storage a{};
          std::memcpy(&a, res->ai_addr, res->ai_addrlen);
          if (a.ss_family == AF_INET)
            reinterpret_cast<sockaddr_in*>(&a)->sin_port = htons(owner->port_);
          else
            reinterpret_cast<sockaddr_in6*>(&a)->sin6_port = htons(owner->port_);
          uv_freeaddrinfo(res);
          owner->connect_addr_(reinterpret_cast<const sockaddr*>(&a));
          return;
        }
        if (res) uv_freeaddrinfo(res);
        if (owner) owner->fail_(status != 0 ? status : UV_EAI_NONAME);
      },
      host.c_str(), nullptr, &hints);
  if (rc != 0) {
    fail_(rc);
    return;
  }
  resolving_ = req.release();
}

void UvTcpTransport::connect_addr_(const sockaddr* addr) {
  tcp_ = std::make_unique<UvHandle<uv_tcp_t>>();
  int rc = tcp_->init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); });
  if (rc != 0) {
    fail_(rc);
    return;
  }
  (*tcp_)->data = this;
  uv_tcp_nodelay(tcp_->get(), 1);  // small request/response frames: latency matters more than batching
  auto req = std::make_unique<uv_connect_t>();
  rc = uv_tcp_connect(req.get(), tcp_->get(), addr, [](uv_connect_t* r, int status) {
    std::unique_ptr<uv_connect_t> owned(r);
    // After close() the handle's data is null: the transport is gone or no longer interested.
    auto* self = static_cast<UvTcpTransport*>(r->handle->data);
    if (!self) return;
    if (status != 0) {
      self->fail_(status);
      return;
    }
    int read_rc = uv_read_start(
        r->handle,
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
          *buf = uv_buf_init(g_read_buffer.data(), READ_BUFFER_SIZE);
        },
        &UvTcpTransport::on_read_);
    if (read_rc != 0) {
      self->fail_(read_rc);
      return;
    }
    // A copy: the handler may close or destroy this transport while it runs.
    auto on_connected = self->handlers_.on_connected;
    if (on_connected) on_connected();
  });
  if (rc != 0) {
    fail_(rc);
    return;
  }
  req.release();  // reclaimed in the callback, which libuv always runs (ECANCELED after a close)
}

void UvTcpTransport::on_read_(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = static_cast<UvTcpTransport*>(s->data);
  if (!self) return;
  if (n > 0) {
    // A copy: the handler may close or destroy this transport while it runs.
    auto on_data = self->handlers_.on_data;
    if (on_data) on_data(ByteView(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n)));
    return;
  }
  if (n == 0) return;  // EAGAIN
  self->fail_(n == UV_EOF ? 0 : static_cast<int>(n));
}

void UvTcpTransport::write(Bytes data) {
  if (closed_ || !tcp_ || !tcp_->initialised()) return;
  auto req = std::make_unique<WriteReq>();
  req->data = std::move(data);
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(req->data.data()), static_cast<unsigned>(req->data.size()));
  // Most writes complete at once; only what the kernel would not take is queued by libuv.
  int rc = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(tcp_->get()), &buf, 1,
                    [](uv_write_t* r, int status) {
                      std::unique_ptr<WriteReq> owned(reinterpret_cast<WriteReq*>(r));
                      if (status == 0 || status == UV_ECANCELED) return;
                      auto* self = static_cast<UvTcpTransport*>(r->handle->data);
                      if (self) self->fail_(status);
                    });
  if (rc != 0) {
    fail_(rc);
    return;
  }
  req.release();
}

size_t UvTcpTransport::bytes_queued() const {
  if (!tcp_ || !tcp_->initialised()) return 0;
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(tcp_->get()));
}

void UvTcpTransport::fail_(int status) {
  if (closed_) return;
  auto on_closed = std::move(handlers_.on_closed);
  close();
  if (on_closed) on_closed(status);  // may destroy this transport: nothing after this line
}

void UvTcpTransport::close() {
  if (closed_) return;
  closed_ = true;
  handlers_ = {};
  if (resolving_) {
    resolving_->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolving_->req));
    resolving_ = nullptr;
  }
  tcp_.reset();  // UvHandle nulls data and closes; pending connect/write callbacks see no owner
}

}  // namespace t2m::gw

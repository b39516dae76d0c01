// A byte stream to one device. UvTcpTransport is the real one; tests use a fake that scripts the
// device side. All callbacks run on the loop thread and never after close() or destruction.
// A transport is single-use: a reconnect creates a new one.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/uv_handle.h"

namespace t2m::gw {

struct TransportHandlers {
  std::function<void()> on_connected;
  std::function<void(ByteView)> on_data;
  // A failed connect or a closed/broken connection: `status` is a libuv error (negative) or 0 for EOF.
  std::function<void(int status)> on_closed;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Starts connecting; exactly one of on_connected / on_closed follows (unless close() comes first).
  virtual void connect(const std::string& host, uint16_t port, TransportHandlers handlers) = 0;
  virtual void write(Bytes data) = 0;
  // Drops the connection; no handler runs afterwards.
  virtual void close() = 0;
  virtual size_t bytes_queued() const = 0;
};

using TransportPtr = std::unique_ptr<Transport>;

class TransportFactory {
 public:
  virtual ~TransportFactory() = default;
  virtual TransportPtr create() = 0;
};

class UvTcpTransport final : public Transport {
 public:
  explicit UvTcpTransport(uv_loop_t* loop) : loop_(loop) {}
  ~UvTcpTransport() override { close(); }
  UvTcpTransport(const UvTcpTransport&) = delete;
  UvTcpTransport& operator=(const UvTcpTransport&) = delete;

  void connect(const std::string& host, uint16_t port, TransportHandlers handlers) override;
  void write(Bytes data) override;
  void close() override;
  size_t bytes_queued() const override;

 private:
  struct ResolveReq;
  void connect_addr_(const sockaddr* addr);
  void fail_(int status);
  static void on_read_(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);

  uv_loop_t* loop_;
  TransportHandlers handlers_;
  std::unique_ptr<UvHandle<uv_tcp_t>> tcp_;
  ResolveReq* resolving_ = nullptr;  // owned by libuv until its callback; detached on close
  uint16_t port_ = 0;
  bool closed_ = false;
};

class UvTcpTransportFactory final : public TransportFactory {
 public:
  explicit UvTcpTransportFactory(uv_loop_t* loop) : loop_(loop) {}
  TransportPtr create() override { return std::make_unique<UvTcpTransport>(loop_); }

 private:
  uv_loop_t* loop_;
};

}  // namespace t2m::gw

// A scripted Transport: the test plays the device, deciding when a connect succeeds and what comes back.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "gateway/transport.h"

namespace t2m::gw::testing {

class FakeTransport final : public Transport {
 public:
  void connect(const std::string& host, uint16_t port, TransportHandlers handlers) override {
    host_ = host;
    port_ = port;
    handlers_ = std::move(handlers);
    connecting_ = true;
  }
  void write(Bytes data) override {
    if (!closed_) written.push_back(std::move(data));
  }
  void close() override {
    closed_ = true;
    handlers_ = {};
  }
  size_t bytes_queued() const override { return 0; }

  // Device side.
  void accept() {
    connecting_ = false;
    if (handlers_.on_connected) handlers_.on_connected();
  }
  void refuse(int status) { drop(status); }
  void deliver(ByteView data) {
    auto h = handlers_.on_data;
    if (h) h(data);
  }
  void drop(int status = 0) {
    auto h = handlers_.on_closed;
    closed_ = true;
    handlers_ = {};
    if (h) h(status);
  }
  bool closed() const { return closed_; }
  bool connecting() const { return connecting_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

  std::vector<Bytes> written;

 private:
  TransportHandlers handlers_;
  std::string host_;
  uint16_t port_ = 0;
  bool closed_ = false;
  bool connecting_ = false;
};

class FakeTransportFactory final : public TransportFactory {
 public:
  TransportPtr create() override {
    auto t = std::make_unique<FakeTransport>();
    created.push_back(t.get());
    return t;
  }
  // The most recent transport; earlier ones may have been destroyed by the session.
  FakeTransport& last() { return *created.back(); }
  std::vector<FakeTransport*> created;
};

}  // namespace t2m::gw::testing

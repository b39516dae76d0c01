// A scripted Transport: the test plays the device, deciding when a connect succeeds and what comes back.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "gateway/transport.h"

namespace t2m::gw::testing {

// What a test may ask about a transport even after the session destroyed it.
struct TransportRecord {
  std::string host;
  bool closed = false;
  bool alive = true;
};

class FakeTransport final : public Transport {
 public:
  explicit FakeTransport(std::shared_ptr<TransportRecord> record = std::make_shared<TransportRecord>())
      : record_(std::move(record)) {}
  ~FakeTransport() override {
    record_->alive = false;
    record_->closed = true;
  }
  void connect(const std::string& host, uint16_t port, TransportHandlers handlers) override {
    host_ = host;
    port_ = port;
    record_->host = host;
    handlers_ = std::move(handlers);
    connecting_ = true;
  }
  void write(Bytes data) override {
    if (!closed_) written.push_back(std::move(data));
  }
  void close() override {
    closed_ = true;
    record_->closed = true;
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
    record_->closed = true;
    handlers_ = {};
    if (h) h(status);
  }
  bool closed() const { return closed_; }
  bool connecting() const { return connecting_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

  std::vector<Bytes> written;

 private:
  std::shared_ptr<TransportRecord> record_;
  TransportHandlers handlers_;
  std::string host_;
  uint16_t port_ = 0;
  bool closed_ = false;
  bool connecting_ = false;
};

class FakeTransportFactory final : public TransportFactory {
 public:
  TransportPtr create() override {
    auto record = std::make_shared<TransportRecord>();
    auto t = std::make_unique<FakeTransport>(record);
    created.push_back(t.get());
    records.push_back(record);
    return t;
  }
  // The most recent transport, which must still exist (the session destroys the ones it is done with).
  FakeTransport& last() {
    REQUIRE(records.back()->alive);
    return *created.back();
  }
  // The newest live transport to `host`, or null.
  FakeTransport* live_to(const std::string& host) {
    for (size_t i = created.size(); i-- > 0;)
      if (records[i]->alive && records[i]->host == host) return created[i];
    return nullptr;
  }
  // Pointers only for counting and identity: dereference through last() / live_to().
  std::vector<FakeTransport*> created;
  std::vector<std::shared_ptr<TransportRecord>> records;
};

}  // namespace t2m::gw::testing

// MQTT 3.1.1 on the wire, for test clients that must see what the broker does packet by packet: the
// packets a client sends, a reader that splits a byte stream into packets, and a blocking QoS 1 publisher
// over a plain loopback socket for a test's own thread (tests that must know exactly which publishes the
// broker accepted, PUBACK received). The loop-driven client is tests/support/loop_mqtt_client.h.
// Test code only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace t2m::test::wire {

enum PacketType : uint8_t {
  CONNECT = 1,
  CONNACK = 2,
  PUBLISH = 3,
  PUBACK = 4,
  SUBSCRIBE = 8,
  SUBACK = 9,
  PINGRESP = 13,
  DISCONNECT = 14,
};

struct ConnectFields {
  std::string client_id;
  std::string username, password;  // empty: not sent
  uint16_t keep_alive_s = 0;       // 0: no keep-alive (the broker never drops an idle client)
};
std::string connect_packet(const ConnectFields& c);
// QoS 0 (id unused) or 1.
std::string publish_packet(std::string_view topic, std::string_view payload, int qos, bool retain,
                           uint16_t id);
std::string subscribe_packet(uint16_t id, const std::vector<std::string>& filters, int qos);
std::string puback_packet(uint16_t id);
std::string disconnect_packet();

struct Packet {
  uint8_t header = 0;  // type << 4 | flags
  std::string body;
  PacketType type() const { return static_cast<PacketType>(header >> 4); }
  // The packet id at the start of the body (PUBACK, SUBACK).
  uint16_t id() const;
};

struct Publish {
  std::string topic, payload;
  int qos = 0;
  bool retain = false;
  uint16_t id = 0;
};
std::optional<Publish> parse_publish(const Packet& p);

// Splits a byte stream into packets.
class PacketReader {
 public:
  void feed(const char* data, size_t n) { buf_.append(data, n); }
  // The next whole packet; nullopt when more bytes are needed (or the stream is broken: failed()).
  std::optional<Packet> next();
  bool failed() const { return failed_; }
  void clear() {
    buf_.clear();
    failed_ = false;
  }

 private:
  std::string buf_;
  bool failed_ = false;
};

// Blocking, for a test's own thread: CONNECT then one QoS 1 PUBLISH at a time, each waited for.
class BlockingPublisher {
 public:
  static constexpr int IO_TIMEOUT_MS = 2000;
  BlockingPublisher() = default;
  ~BlockingPublisher() { close_(); }
  BlockingPublisher(const BlockingPublisher&) = delete;
  BlockingPublisher& operator=(const BlockingPublisher&) = delete;

  bool connected() const { return fd_ >= 0; }
  // CONNECT (clean session) to 127.0.0.1:port and wait for CONNACK 0.
  bool connect(uint16_t port, const std::string& client_id);
  // PUBLISH QoS 1 and wait for its PUBACK: true means the broker accepted the message.
  bool publish_qos1(std::string_view topic, std::string_view payload);
  void disconnect();

 private:
  bool send_(const std::string& packet);
  std::optional<Packet> receive_();
  bool fail_();
  void close_();
  int fd_ = -1;
  uint16_t next_id_ = 0;
  PacketReader reader_;
};

}  // namespace t2m::test::wire

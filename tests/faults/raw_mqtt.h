// A minimal blocking MQTT 3.1.1 publisher over a plain loopback socket, for tests that must know exactly
// which QoS 1 publishes the broker accepted (PUBACK received). Paho's async API reports no per-message
// acknowledgement through our Client interface. Test code only: it blocks, use it from its own thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace t2m::test {

class RawMqttPublisher {
 public:
  static constexpr int IO_TIMEOUT_MS = 2000;
  RawMqttPublisher() = default;
  ~RawMqttPublisher() { close_(); }
  RawMqttPublisher(const RawMqttPublisher&) = delete;
  RawMqttPublisher& operator=(const RawMqttPublisher&) = delete;

  bool connected() const { return fd_ >= 0; }

  // CONNECT (clean session) and wait for CONNACK 0.
  bool connect(uint16_t port, const std::string& client_id) {
    close_();
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    timeval tv{IO_TIMEOUT_MS / 1000, (IO_TIMEOUT_MS % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail_();
    std::string vh;
    put_str_(vh, "MQTT");
    vh.push_back(4);  // protocol level 3.1.1
    vh.push_back(2);  // clean session
    vh.push_back(0);
    vh.push_back(60);  // keep alive 60 s
    put_str_(vh, client_id);
    if (!send_packet_(0x10, vh)) return fail_();
    uint8_t ack[4];
    if (!read_exact_(ack, 4) || ack[0] != 0x20 || ack[3] != 0) return fail_();
    return true;
  }

  // PUBLISH QoS 1 and wait for its PUBACK: true means the broker accepted the message.
  bool publish_qos1(std::string_view topic, std::string_view payload) {
    if (fd_ < 0) return false;
    next_id_ = static_cast<uint16_t>(next_id_ == 0xFFFF ? 1 : next_id_ + 1);
    std::string body;
    put_str_(body, topic);
    body.push_back(static_cast<char>(next_id_ >> 8));
    body.push_back(static_cast<char>(next_id_ & 0xFF));
    body.append(payload);
    if (!send_packet_(0x32, body)) return fail_();
    uint8_t ack[4];
    if (!read_exact_(ack, 4) || ack[0] != 0x40 || ack[1] != 2) return fail_();
    const uint16_t id = static_cast<uint16_t>((ack[2] << 8) | ack[3]);
    if (id != next_id_) return fail_();
    return true;
  }

  void disconnect() {
    if (fd_ >= 0) {
      const char pkt[2] = {static_cast<char>(0xE0), 0};
      (void)::send(fd_, pkt, 2, MSG_NOSIGNAL);
    }
    close_();
  }

 private:
  static void put_str_(std::string& out, std::string_view s) {
    out.push_back(static_cast<char>((s.size() >> 8) & 0xFF));
    out.push_back(static_cast<char>(s.size() & 0xFF));
    out.append(s);
  }
  bool send_packet_(uint8_t type, const std::string& body) {
    std::string pkt(1, static_cast<char>(type));
    size_t len = body.size();
    do {
      uint8_t b = static_cast<uint8_t>(len % 128);
      len /= 128;
      if (len > 0) b |= 0x80;
      pkt.push_back(static_cast<char>(b));
    } while (len > 0);
    pkt += body;
    size_t off = 0;
    while (off < pkt.size()) {
      const ssize_t n = ::send(fd_, pkt.data() + off, pkt.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool read_exact_(uint8_t* buf, size_t n) {
    size_t off = 0;
    while (off < n) {
      const ssize_t r = ::recv(fd_, buf + off, n - off, 0);
      if (r <= 0) return false;
      off += static_cast<size_t>(r);
    }
    return true;
  }
  bool fail_() {
    close_();
    return false;
  }
  void close_() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  uint16_t next_id_ = 0;
};

}  // namespace t2m::test

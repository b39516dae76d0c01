#include "tests/support/mqtt_wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace t2m::test::wire {
namespace {

constexpr uint8_t PROTOCOL_LEVEL_311 = 4;
constexpr uint8_t FLAG_CLEAN_SESSION = 0x02;
constexpr uint8_t FLAG_PASSWORD = 0x40;
constexpr uint8_t FLAG_USERNAME = 0x80;
constexpr size_t MAX_REMAINING_LENGTH_BYTES = 4;

void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

void put_str(std::string& out, std::string_view s) {
  put_u16(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}

uint16_t get_u16(std::string_view s, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(s[at]) << 8) | static_cast<uint8_t>(s[at + 1]));
}

std::string packet(uint8_t header, const std::string& body) {
  std::string out(1, static_cast<char>(header));
  size_t len = body.size();
  do {
    uint8_t b = static_cast<uint8_t>(len % 128);
    len /= 128;
    if (len > 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (len > 0);
  return out + body;
}

}  // namespace

std::string connect_packet(const ConnectFields& c) {
  std::string body;
  put_str(body, "MQTT");
  body.push_back(static_cast<char>(PROTOCOL_LEVEL_311));
  uint8_t flags = FLAG_CLEAN_SESSION;
  if (!c.username.empty()) flags |= FLAG_USERNAME;
  if (!c.password.empty()) flags |= FLAG_PASSWORD;
  body.push_back(static_cast<char>(flags));
  put_u16(body, c.keep_alive_s);
  put_str(body, c.client_id);
  if (!c.username.empty()) put_str(body, c.username);
  if (!c.password.empty()) put_str(body, c.password);
  return packet(CONNECT << 4, body);
}

std::string publish_packet(std::string_view topic, std::string_view payload, int qos, bool retain,
                           uint16_t id) {
  std::string body;
  put_str(body, topic);
  if (qos > 0) put_u16(body, id);
  body.append(payload);
  return packet(static_cast<uint8_t>(PUBLISH << 4 | (qos & 3) << 1 | (retain ? 1 : 0)), body);
}

std::string subscribe_packet(uint16_t id, const std::vector<std::string>& filters, int qos) {
  std::string body;
  put_u16(body, id);
  for (const auto& f : filters) {
    put_str(body, f);
    body.push_back(static_cast<char>(qos));
  }
  return packet(SUBSCRIBE << 4 | 0x02, body);  // SUBSCRIBE's reserved flags are 0010
}

std::string puback_packet(uint16_t id) {
  std::string body;
  put_u16(body, id);
  return packet(PUBACK << 4, body);
}

std::string disconnect_packet() {
  return packet(DISCONNECT << 4, {});
}

uint16_t Packet::id() const {
  return body.size() >= 2 ? get_u16(body, 0) : 0;
}

std::optional<Publish> parse_publish(const Packet& p) {
  if (p.type() != PUBLISH || p.body.size() < 2) return std::nullopt;
  Publish out;
  out.qos = (p.header >> 1) & 3;
  out.retain = (p.header & 1) != 0;
  const size_t topic_len = get_u16(p.body, 0);
  size_t at = 2 + topic_len;
  if (p.body.size() < at + (out.qos > 0 ? 2 : 0)) return std::nullopt;
  out.topic = p.body.substr(2, topic_len);
  if (out.qos > 0) {
    out.id = get_u16(p.body, at);
    at += 2;
  }
  out.payload = p.body.substr(at);
  return out;
}

std::optional<Packet> PacketReader::next() {
  if (failed_ || buf_.size() < 2) return std::nullopt;
  size_t len = 0, at = 1;
  for (size_t shift = 0;; shift += 7) {
    if (at >= buf_.size()) return std::nullopt;
    if (at > MAX_REMAINING_LENGTH_BYTES) {
      failed_ = true;
      return std::nullopt;
    }
    const auto b = static_cast<uint8_t>(buf_[at++]);
    len |= static_cast<size_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) break;
  }
  if (buf_.size() < at + len) return std::nullopt;
  Packet p;
  p.header = static_cast<uint8_t>(buf_[0]);
  p.body = buf_.substr(at, len);
  buf_.erase(0, at + len);
  return p;
}

bool BlockingPublisher::connect(uint16_t port, const std::string& client_id) {
  close_();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
  ConnectFields c;
  c.client_id = client_id;
  c.keep_alive_s = 60;
  if (!send_(connect_packet(c))) return fail_();
  auto ack = receive_();
  if (!ack || ack->type() != CONNACK || ack->body.size() != 2 || ack->body[1] != 0) return fail_();
  return true;
}

bool BlockingPublisher::publish_qos1(std::string_view topic, std::string_view payload) {
  if (fd_ < 0) return false;
  next_id_ = static_cast<uint16_t>(next_id_ == 0xFFFF ? 1 : next_id_ + 1);
  if (!send_(publish_packet(topic, payload, 1, false, next_id_))) return fail_();
  auto ack = receive_();
  if (!ack || ack->type() != PUBACK || ack->id() != next_id_) return fail_();
  return true;
}

void BlockingPublisher::disconnect() {
  if (fd_ >= 0) (void)send_(disconnect_packet());
  close_();
}

bool BlockingPublisher::send_(const std::string& pkt) {
  size_t off = 0;
  while (off < pkt.size()) {
    const ssize_t n = ::send(fd_, pkt.data() + off, pkt.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::optional<Packet> BlockingPublisher::receive_() {
  char buf[512];
  while (true) {
    if (auto p = reader_.next()) return p;
    if (reader_.failed()) return std::nullopt;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    reader_.feed(buf, static_cast<size_t>(n));
  }
}

bool BlockingPublisher::fail_() {
  close_();
  return false;
}

void BlockingPublisher::close_() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reader_.clear();
}

}  // namespace t2m::test::wire

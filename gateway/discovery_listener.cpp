#include "gateway/discovery_listener.h"

#include <array>

#include "common/log.h"
#include "gateway/device_session.h"
#include "gateway/error_code.h"
#include "protocol/crypto.h"

namespace t2m::gw {
namespace {

constexpr std::string_view DISCOVERY_LISTENER_TAG = "gateway.discovery";
// Discovery packets are ~200 bytes; anything near the UDP maximum is not Tuya's.
constexpr size_t DATAGRAM_BUFFER_SIZE = 2048;
thread_local std::array<char, DATAGRAM_BUFFER_SIZE> g_udp_buffer;

std::string ip_of(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (!addr) return {};
  if (addr->sa_family == AF_INET)
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(addr), buf, sizeof buf);
  else if (addr->sa_family == AF_INET6)
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(addr), buf, sizeof buf);
  return buf;
}

}  // namespace

struct DiscoveryListener::Socket {
  UvHandle<uv_udp_t> udp;
  uint16_t port = 0;
};

DiscoveryListener::DiscoveryListener(uv_loop_t* loop, DiscoveryOptions options,
                                     OnAnnouncement on_announcement, OnError on_error)
    : loop_(loop),
      options_(std::move(options)),
      on_announcement_(std::move(on_announcement)),
      on_error_(std::move(on_error)) {}

DiscoveryListener::~DiscoveryListener() {
  stop();
}

Status DiscoveryListener::start() {
  std::string problems;
  for (uint16_t port : options_.ports) {
    auto s = std::make_unique<Socket>();
    int rc = s->udp.init([&](uv_udp_t* u) { return uv_udp_init(loop_, u); });
    sockaddr_in addr{};
    if (rc == 0) rc = uv_ip4_addr(options_.bind_address.c_str(), port, &addr);
    // Other Tuya tools on the same host listen on these ports too: share them.
    if (rc == 0) rc = uv_udp_bind(s->udp.get(), reinterpret_cast<const sockaddr*>(&addr), UV_UDP_REUSEADDR);
    if (rc == 0) {
      s->udp->data = this;
      rc = uv_udp_recv_start(
          s->udp.get(),
          [](uv_handle_t*, size_t, uv_buf_t* buf) {
            *buf = uv_buf_init(g_udp_buffer.data(), DATAGRAM_BUFFER_SIZE);
          },
          &DiscoveryListener::on_recv_);
    }
    if (rc != 0) {
      problems += (problems.empty() ? "" : "; ") + options_.bind_address + ":" + std::to_string(port) + ": " +
                  uv_strerror(rc);
      continue;
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_udp_getsockname(s->udp.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    s->port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    T2M_LOGD(DISCOVERY_LISTENER_TAG, "listening on %s:%u", options_.bind_address.c_str(), s->port);
    sockets_.push_back(std::move(s));
  }
  if (!problems.empty()) {
    Error e{"discovery_bind", "cannot listen for device broadcasts on " + problems};
    T2M_LOGW(DISCOVERY_LISTENER_TAG, "%s", e.message.c_str());
    if (on_error_) on_error_(e);
    if (sockets_.empty()) return Unexpected<Error>{e};
  }
  return {};
}

void DiscoveryListener::stop() {
  sockets_.clear();
}

std::vector<uint16_t> DiscoveryListener::bound_ports() const {
  std::vector<uint16_t> out;
  for (const auto& s : sockets_) out.push_back(s->port);
  return out;
}

void DiscoveryListener::on_recv_(uv_udp_t* h, ssize_t n, const uv_buf_t* buf, const sockaddr* addr,
                                 unsigned) {
  auto* self = static_cast<DiscoveryListener*>(h->data);
  if (!self || n <= 0 || !addr) return;  // n == 0 with no addr: nothing more to read
  self->handle_(ByteView(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n)), addr);
}

void DiscoveryListener::handle_(ByteView data, const sockaddr* addr) {
  ++stats_.datagrams;
  const std::string sender = ip_of(addr);
  auto ann = proto::decode_discovery(data);
  if (!ann) {
    ++stats_.errors;
    Error e{"bad_broadcast", "undecodable discovery packet from " + sender + ": " +
                                 std::string(proto::to_string(ann.error().code)) + " " + ann.error().detail};
    T2M_LOGD(DISCOVERY_LISTENER_TAG, "%s", e.message.c_str());
    if (on_error_) on_error_(e);
    return;
  }
  if (ann->from_app) {
    ++stats_.ignored;
    return;
  }
  ++stats_.announcements;
  if (on_announcement_) on_announcement_(ann.value(), sender);
}

Status DiscoveryListener::send_request(const std::string& target_ip, uint16_t port,
                                       const std::string& client_ip, ByteView iv) {
  Socket* from = nullptr;
  for (auto& s : sockets_)
    if (s->port == proto::PORT_UDP_APP || !from) from = s.get();
  if (!from) return fail("discovery_closed", "the discovery listener is not running");
  sockaddr_in dest{};
  if (uv_ip4_addr(target_ip.c_str(), port, &dest) != 0)
    return fail("bad_address", "not an IPv4 address: " + target_ip);
  uv_udp_set_broadcast(from->udp.get(), 1);
  Bytes packet = proto::encode_discovery_request(client_ip, iv);
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(packet.data()), static_cast<unsigned>(packet.size()));
  int rc = uv_udp_try_send(from->udp.get(), &b, 1, reinterpret_cast<const sockaddr*>(&dest));
  if (rc < 0)
    return fail("send_failed", "cannot send the discovery request to " + target_ip + ": " + uv_strerror(rc));
  return {};
}

Status DiscoveryListener::request_announcements() {
  if (options_.broadcast_target.empty())
    return fail(ErrorCode::DISCOVERY_OFF, "no discovery.broadcast_target is configured");
  Bytes iv(proto::crypto::GCM_IV_SIZE);
  system_random()(iv.data(), iv.size());
  const std::string& target = options_.broadcast_target;
  return send_request(target, proto::PORT_UDP_APP, target.rfind("127.", 0) == 0 ? target : "0.0.0.0", iv);
}

}  // namespace t2m::gw

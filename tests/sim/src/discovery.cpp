// Discovery on loopback only: each device's UDP announcement (sent to the configured endpoint, spread over
// the interval) and the 3.5 answer to a discovery request (docs/protocol.md §10).
#include "protocol/discovery.h"
#include "tests/sim/src/simulator_impl.h"

namespace t2m::sim {

using nlohmann::json;

json Simulator::Impl::announcement(const Device& d) const {
  json info{{"ip", d.spec.host},
            {"gwId", d.spec.id},
            {"active", 2},
            {"ablilty", 0},
            {"encrypt", d.spec.version != proto::Version::V3_1},
            {"productKey", d.spec.product_key.empty() ? "simproductkey000" : d.spec.product_key}};
  switch (d.spec.version) {
    case proto::Version::V3_1:
      info["version"] = "3.1";
      break;
    case proto::Version::V3_2:
      info["version"] = "3.2";
      break;
    case proto::Version::V3_3:
      info["version"] = "3.3";
      break;
    case proto::Version::V3_4:
      info["version"] = "3.4";
      break;
    case proto::Version::V3_5:
      info["version"] = "3.5";
      info["token"] = true;
      info["wf_cfg"] = true;
      break;
  }
  return info;
}

void Simulator::Impl::udp_send(uv_udp_t* sock, ByteView data, const sockaddr_in& to) {
  // Belt and braces: whatever the configuration says, nothing leaves for a non-loopback address.
  if ((ntohl(to.sin_addr.s_addr) & 0xFF000000U) != 0x7F000000U) return;
  uv_buf_t b = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                           static_cast<unsigned>(data.size()));
  (void)uv_udp_try_send(sock, &b, 1, reinterpret_cast<const sockaddr*>(&to));
}

void Simulator::Impl::send_broadcast(Device& d) {
  if (!bcast.open() || !config.broadcast_to) return;
  sockaddr_in to{};
  if (uv_ip4_addr(config.broadcast_to->host.c_str(), config.broadcast_to->port, &to) != 0) return;
  Bytes iv = random_bytes(IV_SIZE);
  Bytes pkt = proto::encode_broadcast(d.spec.version, announcement(d), iv);
  udp_send(bcast.get(), pkt, to);
}

void Simulator::Impl::on_disc_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Impl*>(h->data);
  if (!self) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(self->read_buf.data(), static_cast<unsigned>(self->read_buf.size()));
}

void Simulator::Impl::on_disc_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                                   unsigned) {
  auto* self = static_cast<Impl*>(h->data);
  if (!self || nread <= 0 || !from || from->sa_family != AF_INET) return;
  auto req = proto::decode_discovery(
      ByteView(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)));
  if (!req || !req->from_app) return;
  const auto& to = *reinterpret_cast<const sockaddr_in*>(from);
  // 3.5 devices answer a solicitation with their announcement; we answer the sender (real devices
  // answer <ip>:7000, which on one host would be this very socket).
  for (auto& d : self->devices) {
    if (d->spec.version != proto::Version::V3_5 || d->rebooting) continue;
    Bytes iv = self->random_bytes(IV_SIZE);
    Bytes pkt = proto::encode_broadcast(proto::Version::V3_5, self->announcement(*d), iv);
    self->udp_send(h, pkt, to);
  }
}

Status Simulator::Impl::start_udp() {
  if (config.broadcast_to) {
    if (!is_loopback_ipv4(config.broadcast_to->host)) return fail("config", "broadcast_to is not loopback");
    int rc = bcast.init([&](uv_udp_t* u) { return uv_udp_init(loop, u); });
    if (rc != 0) return fail("udp", uv_strerror(rc));
    sockaddr_in any{};
    uv_ip4_addr("127.0.0.1", 0, &any);
    rc = uv_udp_bind(bcast.get(), reinterpret_cast<const sockaddr*>(&any), 0);
    if (rc != 0) return fail("udp", std::string("cannot bind the broadcast socket: ") + uv_strerror(rc));
    if (config.broadcast_interval_ms > 0) {
      size_t n = devices.size();
      for (size_t i = 0; i < n; ++i) {
        // Spread the announcements over one interval instead of a burst.
        schedule(config.broadcast_interval_ms * i / n, *devices[i], EvKind::BROADCAST, 0);
      }
    }
  }
  if (config.discovery_listen) {
    if (!is_loopback_ipv4(config.discovery_listen->host))
      return fail("config", "discovery listen is not loopback");
    int rc = disc.init([&](uv_udp_t* u) { return uv_udp_init(loop, u); });
    if (rc != 0) return fail("udp", uv_strerror(rc));
    disc.get()->data = this;
    sockaddr_in addr{};
    uv_ip4_addr(config.discovery_listen->host.c_str(), config.discovery_listen->port, &addr);
    rc = uv_udp_bind(disc.get(), reinterpret_cast<const sockaddr*>(&addr), UV_UDP_REUSEADDR);
    if (rc == 0) rc = uv_udp_recv_start(disc.get(), &Impl::on_disc_alloc, &Impl::on_disc_recv);
    if (rc != 0) return fail("udp", std::string("cannot listen for discovery requests: ") + uv_strerror(rc));
    sockaddr_storage ss{};
    int len = sizeof ss;
    uv_udp_getsockname(disc.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    disc_bound =
        Endpoint{config.discovery_listen->host, ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)};
  }
  return {};
}

void Simulator::Impl::on_broadcast_due(Device& d) {
  if (!config.broadcast_to || config.broadcast_interval_ms == 0) return;
  if (!d.rebooting) send_broadcast(d);
  schedule(config.broadcast_interval_ms, d, EvKind::BROADCAST, 0);
}

}  // namespace t2m::sim

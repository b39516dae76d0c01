// Listens for Tuya UDP discovery (6666 plain, 6667 encrypted, 7000 3.5 replies), learns device addresses
// and versions, and sends the 3.5 discovery request. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/uv_handle.h"
#include "protocol/discovery.h"

namespace t2m::gw {

struct DiscoveryOptions {
  std::string bind_address = "0.0.0.0";
  std::string broadcast_target;  // where request_announcements() sends the 3.5 request; "" = nowhere
  std::vector<uint16_t> ports = {proto::PORT_UDP_PLAIN, proto::PORT_UDP_ENCRYPTED, proto::PORT_UDP_APP};
};

struct DiscoveryStats {
  uint64_t datagrams = 0;
  uint64_t announcements = 0;
  uint64_t errors = 0;
  uint64_t ignored = 0;  // other apps' requests
};

// Asks devices to announce themselves now (bridge/request/scan); DiscoveryListener implements it.
class AnnouncementRequester {
 public:
  virtual ~AnnouncementRequester() = default;
  virtual Status request_announcements() = 0;
};

class DiscoveryListener final : public AnnouncementRequester {
 public:
  // `sender_ip` is where the datagram came from; the announcement's own `ip` field is preferred.
  using OnAnnouncement = std::function<void(const proto::Announcement&, const std::string& sender_ip)>;
  using OnError = std::function<void(const Error&)>;

  DiscoveryListener(uv_loop_t* loop, DiscoveryOptions options, OnAnnouncement on_announcement,
                    OnError on_error);
  ~DiscoveryListener() override;
  DiscoveryListener(const DiscoveryListener&) = delete;
  DiscoveryListener& operator=(const DiscoveryListener&) = delete;

  // Binds every port; a port that cannot be bound is reported and skipped (the others keep working).
  Status start();
  void stop();
  // Sends the 3.5 REQ_DEVINFO request from the 7000 socket to `target_ip:port` (a broadcast address in
  // production; loopback in tests). `client_ip` is the address devices should answer to.
  Status send_request(const std::string& target_ip, uint16_t port, const std::string& client_ip, ByteView iv);
  // send_request() to the configured broadcast target with a fresh IV; devices answer to the target when
  // it is a loopback address (tests), else to whatever address they see the request come from.
  Status request_announcements() override;
  const DiscoveryStats& stats() const { return stats_; }
  // The ports actually bound (port 0 in the options binds an ephemeral one, for tests).
  std::vector<uint16_t> bound_ports() const;

 private:
  struct Socket;
  static void on_recv_(uv_udp_t* h, ssize_t n, const uv_buf_t* buf, const sockaddr* addr, unsigned flags);
  void handle_(ByteView data, const sockaddr* addr);

  uv_loop_t* loop_;
  DiscoveryOptions options_;
  OnAnnouncement on_announcement_;
  OnError on_error_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  DiscoveryStats stats_;
};

}  // namespace t2m::gw

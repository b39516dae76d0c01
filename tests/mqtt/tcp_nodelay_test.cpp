#include "mqtt/tcp_nodelay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_tcp_nodelay_test {

namespace {

// Well above the descriptors a test process has open, so only a walk of the open set finds it cheaply.
constexpr int HIGH_FD = 900;

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

int nodelay(int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  REQUIRE(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0);
  return v;
}

}  // namespace

TEST_CASE("every open TCP socket without TCP_NODELAY gets it, other descriptors are left alone") {
  Fd listener(socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(listener.fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(listener.fd, 1) == 0);
  socklen_t alen = sizeof addr;
  REQUIRE(getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &alen) == 0);

  Fd client(socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  Fd server(accept(listener.fd, nullptr, nullptr));
  REQUIRE(server.fd >= 0);
  Fd high(dup2(server.fd, HIGH_FD));
  REQUIRE(high.fd == HIGH_FD);
  Fd udp(socket(AF_INET, SOCK_DGRAM, 0));
  int unix_pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, unix_pair) == 0);
  Fd unix_a(unix_pair[0]);
  Fd unix_b(unix_pair[1]);

  REQUIRE(nodelay(client.fd) == 0);
  REQUIRE(nodelay(server.fd) == 0);

  // listener, client and the accepted socket; the dup shares the accepted one's socket.
  CHECK(t2m::mqtt::set_nodelay_on_tcp_sockets() >= 3);
  CHECK(nodelay(client.fd) == 1);
  CHECK(nodelay(server.fd) == 1);
  CHECK(nodelay(listener.fd) == 1);
  CHECK(t2m::mqtt::set_nodelay_on_tcp_sockets() == 0);

  // A socket reachable only through a high descriptor is still found.
  int off = 0;
  REQUIRE(setsockopt(server.fd, IPPROTO_TCP, TCP_NODELAY, &off, sizeof off) == 0);
  close(server.fd);
  server.fd = -1;
  CHECK(t2m::mqtt::set_nodelay_on_tcp_sockets() == 1);
  CHECK(nodelay(HIGH_FD) == 1);
}

}  // namespace t2m_tcp_nodelay_test

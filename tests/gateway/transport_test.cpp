#include "gateway/transport.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/support/mosquitto.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_transport_test {

using namespace t2m;
using namespace t2m::gw;

namespace {

// A one-connection echo server on 127.0.0.1:<ephemeral>.
struct EchoServer {
  UvHandle<uv_tcp_t> listener;
  UvHandle<uv_tcp_t> peer;
  uint16_t port = 0;
  std::string received;
  bool close_on_accept = false;

  explicit EchoServer(uv_loop_t* loop) {
    listener.init([&](uv_tcp_t* t) { return uv_tcp_init(loop, t); });
    sockaddr_in a{};
    uv_ip4_addr("127.0.0.1", 0, &a);
    REQUIRE(uv_tcp_bind(listener.get(), reinterpret_cast<const sockaddr*>(&a), 0) == 0);
    listener->data = this;
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(listener.get()), 4, [](uv_stream_t* s, int) {
              auto* self = static_cast<EchoServer*>(s->data);
              self->peer.init([&](uv_tcp_t* t) { return uv_tcp_init(s->loop, t); });
              self->peer->data = self;
              uv_accept(s, reinterpret_cast<uv_stream_t*>(self->peer.get()));
              if (self->close_on_accept) {
                self->peer.close();
                return;
              }
              uv_read_start(
                  reinterpret_cast<uv_stream_t*>(self->peer.get()),
                  [](uv_handle_t*, size_t n, uv_buf_t* b) {
                    static char buf[4096];
                    *b = uv_buf_init(buf, static_cast<unsigned>(std::min<size_t>(n, sizeof buf)));
                  },
                  [](uv_stream_t* st, ssize_t n, const uv_buf_t* b) {
                    auto* srv = static_cast<EchoServer*>(st->data);
                    if (!srv || n <= 0) return;
                    srv->received.append(b->base, static_cast<size_t>(n));
                    uv_buf_t out = uv_buf_init(b->base, static_cast<unsigned>(n));
                    uv_try_write(st, &out, 1);
                  });
            }) == 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
};

}  // namespace

TEST_CASE("connects, writes, reads back, and a closed transport calls nothing") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    EchoServer server(&loop);
    UvTcpTransport t(&loop);
    bool connected = false;
    std::string echoed;
    int closed_status = 1;
    t.connect("127.0.0.1", server.port,
              TransportHandlers{[&] {
                                  connected = true;
                                  t.write(to_bytes("hello tuya"));
                                },
                                [&](ByteView d) { echoed.append(as_chars(d)); },
                                [&](int s) { closed_status = s; }});
    REQUIRE(test::run_loop_until(
        &loop, [&] { return echoed == "hello tuya"; }, 3000));
    CHECK(connected);
    CHECK(server.received == "hello tuya");
    t.close();
    t.write(to_bytes("ignored"));
    test::run_loop_for(&loop, 20);
    CHECK(closed_status == 1);  // close() is silent
  }
  CHECK(uv_close_all_and_drain(&loop) == 0);
}

TEST_CASE("a refused connection reports ECONNREFUSED; EOF reports 0") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    const uint16_t unused = test::free_port();
    UvTcpTransport refused(&loop);
    int status = 1;
    refused.connect("127.0.0.1", unused, TransportHandlers{nullptr, nullptr, [&](int s) { status = s; }});
    REQUIRE(test::run_loop_until(
        &loop, [&] { return status != 1; }, 3000));
    CHECK(status == UV_ECONNREFUSED);

    EchoServer server(&loop);
    server.close_on_accept = true;
    UvTcpTransport eof(&loop);
    int eof_status = 1;
    eof.connect("127.0.0.1", server.port,
                TransportHandlers{nullptr, nullptr, [&](int s) { eof_status = s; }});
    REQUIRE(test::run_loop_until(
        &loop, [&] { return eof_status != 1; }, 3000));
    CHECK((eof_status == 0 || eof_status == UV_ECONNRESET));
  }
  CHECK(uv_close_all_and_drain(&loop) == 0);
}

TEST_CASE("host names resolve off the loop; destroying a transport mid-connect is safe") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    EchoServer server(&loop);
    UvTcpTransport t(&loop);
    bool connected = false;
    t.connect("localhost", server.port, TransportHandlers{[&] { connected = true; }, nullptr, nullptr});
    CHECK(test::run_loop_until(
        &loop, [&] { return connected; }, 3000));

    auto doomed = std::make_unique<UvTcpTransport>(&loop);
    bool called = false;
    doomed->connect("localhost", server.port,
                    TransportHandlers{[&] { called = true; }, nullptr, [&](int) { called = true; }});
    doomed.reset();  // resolution or connect in flight
    test::run_loop_for(&loop, 100);
    CHECK_FALSE(called);
  }
  CHECK(uv_close_all_and_drain(&loop) == 0);
}

}  // namespace t2m_transport_test

// Limits on every input size: device frames (MAX_FRAME_LENGTH), MQTT payloads (mqtt/payload.h), cloud
// HTTP answers (HttpRequest::max_response_bytes) and push messages (PushProcessor::MAX_PAYLOAD_BYTES).
// Oversize input is refused early, without allocating anything near the size it claims.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "cloud/http_client.h"
#include "cloud/push_processor.h"
#include "common/timers.h"
#include "mqtt/payload.h"
#include "protocol/constants.h"
#include "protocol/errors.h"
#include "protocol/frame.h"
#include "tests/fakes/fake_timers.h"
#include "tests/support/gateway_fixture.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_limits_test {

using namespace t2m;
using namespace t2m::test;
using nlohmann::json;

namespace {

void put_u32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

size_t heap_in_use() {
  return mallinfo2().uordblks;
}

}  // namespace

TEST_CASE("frames: a declared length over MAX_FRAME_LENGTH is refused, nothing near it is buffered") {
  for (const bool is_6699 : {false, true}) {
    CAPTURE(is_6699);
    Bytes header;
    put_u32(header, is_6699 ? proto::PREFIX_6699 : proto::PREFIX_55AA);
    if (is_6699) header.insert(header.end(), {0, 0});
    put_u32(header, 1);           // seqno
    put_u32(header, 8);           // STATUS
    put_u32(header, 0x7FFFFFF0);  // declared length: ~2 GiB
    proto::FrameSplitter splitter;
    const size_t heap_before = heap_in_use();
    splitter.feed(header);
    // Followed by 1 MiB of whatever, in reads of 4 KiB as a socket would deliver it.
    const Bytes chunk(4096, 0x5A);
    bool refused = false;
    size_t max_buffered = 0;
    for (int i = 0; i < 256; ++i) {
      splitter.feed(chunk);
      while (auto next = splitter.next()) {
        if (!next->ok()) refused = true;
      }
      max_buffered = std::max(max_buffered, splitter.buffered());
    }
    CHECK(refused);
    CHECK(max_buffered <=
          proto::HEADER_SIZE_6699 + proto::MAX_FRAME_LENGTH + proto::SUFFIX_SIZE + chunk.size());
    CHECK(heap_in_use() < heap_before + 256 * 1024);
  }
}

TEST_CASE("MQTT payloads: every parser refuses input over its limit before parsing") {
  const std::string big_cmd(mqtt::MAX_COMMAND_PAYLOAD_BYTES + 1, '1');
  const std::string big_req = "{\"a\":\"" + std::string(mqtt::MAX_REQUEST_PAYLOAD_BYTES, 'x') + "\"}";
  auto set = mqtt::parse_set_payload(big_cmd);
  REQUIRE_FALSE(set.ok());
  CHECK(set.error().code == "mqtt_payload_too_large");
  auto bare = mqtt::parse_bare_value(big_cmd);
  REQUIRE_FALSE(bare.ok());
  CHECK(bare.error().code == "mqtt_payload_too_large");
  auto get = mqtt::parse_get_payload(big_cmd);
  CHECK_FALSE(get.ok());
  auto req = mqtt::parse_bridge_request(big_req);
  REQUIRE_FALSE(req.ok());
  CHECK(req.error().code == "mqtt_payload_too_large");
  // Right at the limit still parses (the limit is not off by one the other way).
  const std::string at_limit =
      "{\"switch_1\":" + std::string(mqtt::MAX_COMMAND_PAYLOAD_BYTES - 17, ' ') + "true}";
  REQUIRE(at_limit.size() == mqtt::MAX_COMMAND_PAYLOAD_BYTES);
  CHECK(mqtt::parse_set_payload(at_limit).ok());
  // Deep nesting within the size limit does not blow the stack either.
  const std::string deep = std::string(8000, '[') + std::string(8000, ']');
  (void)mqtt::parse_set_payload(deep);
  (void)mqtt::parse_bridge_request("{\"a\":" + deep + "}");
}

TEST_CASE("MQTT payloads: the gateway answers a 1 MiB command and request with an error and carries on") {
  FixtureOptions o;
  o.devices = plug_fleet(1, "127.0.12.");
  GatewayFixture f(std::move(o));
  f.start_gateway();
  REQUIRE(f.wait([&] { return f.all_online(); }));
  const std::string mib(1024 * 1024, 'A');
  size_t mark = f.seen.size();
  f.publish("tuya2mqtt/" + fleet_name(0) + "/set", "{\"switch_1\":\"" + mib + "\"}");
  auto r = f.next_json("tuya2mqtt/" + fleet_name(0) + "/set/result", mark);
  REQUIRE(r.is_object());
  CHECK(r["code"] == "mqtt_payload_too_large");
  mark = f.seen.size();
  f.publish("tuya2mqtt/bridge/request/device/add", "{\"id\":\"" + mib + "\"}");
  auto rr = f.next_json("tuya2mqtt/bridge/response/device/add", mark);
  REQUIRE(rr.is_object());
  CHECK(rr["status"] == "error");
  mark = f.seen.size();
  f.publish("tuya2mqtt/" + fleet_name(0) + "/set", R"({"switch_1": false})");
  CHECK(f.next_json("tuya2mqtt/" + fleet_name(0) + "/set/result", mark)["status"] == "ok");
}

namespace {

// A loopback HTTP server on its own thread that answers one request with `headers` and then streams
// body bytes until the client goes away or `limit` bytes were written. Reports how much it wrote.
class StreamingServer {
 public:
  StreamingServer(std::string headers, size_t limit) : headers_(std::move(headers)), limit_(limit) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    REQUIRE(::listen(fd_, 1) == 0);
    thread_ = std::thread([this] { serve_(); });
  }
  ~StreamingServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  size_t written() const { return written_; }
  bool done() const { return done_; }

 private:
  void serve_() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) {
      done_ = true;
      return;
    }
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    (void)::send(c, headers_.data(), headers_.size(), MSG_NOSIGNAL);
    const std::string body(64 * 1024, '[');
    while (written_ < limit_) {
      const ssize_t n = ::send(c, body.data(), body.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      written_ += static_cast<size_t>(n);
    }
    ::close(c);
    done_ = true;
  }
  std::string headers_;
  size_t limit_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<size_t> written_{0};
  std::atomic<bool> done_{false};
};

}  // namespace

TEST_CASE("cloud answers: a body over max_response_bytes is refused while it streams in") {
  constexpr size_t STREAM_LIMIT = 256 * 1024 * 1024;  // what a hostile server would send
  struct Case {
    const char* name;
    std::string headers;
  };
  const std::vector<Case> cases = {
      {"no length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"},
      {"declared 1 GiB",
       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
      StreamingServer server(c.headers, STREAM_LIMIT);
      cloud::CurlHttpClient http(&loop);
      cloud::HttpRequest req;
      req.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1.0/token";
      req.timeout_ms = 20000;
      std::optional<Result<cloud::HttpResponse>> got;
      http.send(req, [&](Result<cloud::HttpResponse> r) { got = std::move(r); });
      REQUIRE(test::run_loop_until(
          &loop, [&] { return got.has_value(); }, 25000));
      REQUIRE_FALSE(got->ok());
      CHECK(got->error().code == cloud::HTTP_ERR_TOO_LARGE);
      test::run_loop_until(
          &loop, [&] { return server.done(); }, 10000);
      MESSAGE("server wrote " << server.written() / 1024 << " KiB before the client gave up (limit "
                              << cloud::HTTP_DEFAULT_MAX_RESPONSE_BYTES / 1024 << " KiB)");
      // Socket buffers hold a few MiB at most; the client stopped reading near its limit.
      CHECK(server.written() < cloud::HTTP_DEFAULT_MAX_RESPONSE_BYTES + 32 * 1024 * 1024);
    }
    test::run_loop_until_idle(&loop, 1000);
    CHECK(uv_close_all_and_drain(&loop) == 0);
  }
}

namespace {
struct NullSink : cloud::push::PushSink {
  size_t pushes = 0;
  void on_push(const cloud::push::PushMessage&) override { ++pushes; }
};
}  // namespace

TEST_CASE("push messages over the limit are refused before parsing, on both channels") {
  NullSink sink;
  FakeTimers timers;
  cloud::push::PushProcessor p(sink, timers);
  const Bytes key = *cloud::push::pulsar_key("0123456789abcdefghijklmnopqrstuv");
  const std::string huge(cloud::push::PushProcessor::MAX_PAYLOAD_BYTES + 1, '{');
  (void)p.handle_pulsar_frame(huge, key);
  p.handle_openhub_message(huge, cloud::push::OPENHUB_V2, key);
  CHECK(sink.pushes == 0);
  const auto& by = p.counters().by_reason;
  auto it = by.find(cloud::push::ERR_TOO_LARGE);
  REQUIRE(it != by.end());
  CHECK(it->second == 2);
}

}  // namespace t2m_limits_test

// CurlHttpClient on a real uv loop against the fake cloud served on 127.0.0.1.
#include "cloud/http_client.h"

#include <doctest/doctest.h>

#include <chrono>
#include <optional>

#include "cloud/openapi.h"
#include "common/timers.h"
#include "tests/fakecloud/fake_cloud.h"
#include "tests/fakecloud/fake_cloud_server.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_http_client_test {

using namespace t2m;
using namespace t2m::cloud;

namespace {

struct LoopEnv {
  uv_loop_t loop{};
  std::unique_ptr<UvTimers> timers;
  std::unique_ptr<fakecloud::FakeCloud> cloud;
  std::unique_ptr<fakecloud::FakeCloudServer> server;
  std::unique_ptr<CurlHttpClient> http;

  LoopEnv() {
    REQUIRE(uv_loop_init(&loop) == 0);
    timers = std::make_unique<UvTimers>(&loop);
    cloud = std::make_unique<fakecloud::FakeCloud>(*timers);
    fakecloud::populate_demo(*cloud);
    server = std::make_unique<fakecloud::FakeCloudServer>(&loop, *cloud);
    REQUIRE(server->listen(0).ok());
    http = std::make_unique<CurlHttpClient>(&loop);
  }
  ~LoopEnv() {
    http.reset();
    server.reset();
    cloud.reset();
    timers.reset();
    CHECK(uv_close_all_and_drain(&loop) == 0);
  }
  // Runs the loop until `done` or a wall-clock limit (bounded: no test hangs).
  bool run_until(const std::function<bool()>& done, int limit_ms = 10000) {
    const auto start = std::chrono::steady_clock::now();
    while (!done()) {
      uv_run(&loop, UV_RUN_NOWAIT);
      if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(limit_ms)) return false;
      if (!done()) uv_sleep(1);
    }
    return true;
  }
  Result<HttpResponse> fetch(HttpRequest req) {
    std::optional<Result<HttpResponse>> out;
    http->send(std::move(req), [&](Result<HttpResponse> r) { out.emplace(std::move(r)); });
    REQUIRE(run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }
};

}  // namespace

TEST_CASE("url_encode keeps unreserved characters only") {
  CHECK(url_encode("aZ09-_.~") == "aZ09-_.~");
  CHECK(url_encode("a,b c/é") == "a%2Cb%20c%2F%C3%A9");
}

TEST_CASE("curl GET over loopback reaches the fake and returns its answer") {
  LoopEnv e;
  HttpRequest req;
  req.url = e.server->base_url() + "/v1.0/token?grant_type=1";
  auto r = e.fetch(req);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  // Unsigned: the fake rejects it with 1105 in a 200 envelope.
  CHECK(r->body.find("\"code\":1105") != std::string::npos);
  CHECK(e.http->in_flight() == 0);
}

TEST_CASE("many parallel requests complete and reuse connections") {
  LoopEnv e;
  int done = 0;
  for (int i = 0; i < 20; ++i) {
    HttpRequest req;
    req.method = i % 2 ? "POST" : "GET";
    req.body = i % 2 ? "{\"x\":1}" : "";
    req.url = e.server->base_url() + "/v1.0/devices/x";
    e.http->send(req, [&](Result<HttpResponse> r) { done += (r.ok() && r->status == 200) ? 1 : 100; });
  }
  REQUIRE(e.run_until([&] { return done >= 20; }));
  CHECK(done == 20);
  CHECK(e.cloud->request_log().size() == 20);
}

TEST_CASE("response size limit, time-out, refused connection and cancel") {
  LoopEnv e;
  SUBCASE("too large") {
    e.server->set_padding(64 * 1024);
    HttpRequest req;
    req.url = e.server->base_url() + "/v1.0/token";
    req.max_response_bytes = 1024;
    auto r = e.fetch(req);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == HTTP_ERR_TOO_LARGE);
  }
  SUBCASE("time-out") {
    e.server->set_silent(true);
    HttpRequest req;
    req.url = e.server->base_url() + "/v1.0/token";
    req.timeout_ms = 300;
    const auto start = std::chrono::steady_clock::now();
    auto r = e.fetch(req);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == HTTP_ERR_TIMEOUT);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250));
  }
  SUBCASE("refused") {
    const int port = e.server->port();
    e.server->close();
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/v1.0/token";
    req.connect_timeout_ms = 2000;
    auto r = e.fetch(req);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == HTTP_ERR_TRANSPORT);
  }
  SUBCASE("cancel") {
    bool called = false;
    HttpRequest req;
    req.url = e.server->base_url() + "/v1.0/token";
    auto id = e.http->send(req, [&](Result<HttpResponse>) { called = true; });
    e.http->cancel(id);
    CHECK(e.http->in_flight() == 0);
    e.run_until([] { return false; }, 100);
    CHECK_FALSE(called);
  }
}

TEST_CASE("OpenApi over curl and real HTTP: signed requests, encoded queries, time-out of a hung answer") {
  LoopEnv e;
  CloudConfig cfg;
  cfg.access_id = e.cloud->options().client_id;
  cfg.access_secret = e.cloud->options().secret;
  cfg.base_url = e.server->base_url() + "/";
  cfg.request_timeout_ms = 500;
  cfg.max_retries = 1;
  cfg.backoff_initial_ms = 10;
  OpenApi api(*e.http, *e.timers, cfg);
  std::optional<Result<std::vector<FactoryInfo>>> f;
  api.factory_infos({"bf0000000000000bulb1", "bf0000000000000plug1"},
                    [&](auto r) { f.emplace(std::move(r)); });
  REQUIRE(e.run_until([&] { return f.has_value(); }));
  REQUIRE(f->ok());
  CHECK(f->value().size() == 2);
  CHECK(e.cloud->sign_rejects() == 0);

  std::optional<Result<bool>> w;
  api.send_commands("bf0000000000000bulb1", {{"switch_led", true}, {"bright_value_v2", 300}},
                    [&](Result<bool> r) { w.emplace(std::move(r)); });
  REQUIRE(e.run_until([&] { return w.has_value(); }));
  CHECK(w->ok());
  CHECK(e.cloud->writes().size() == 2);

  fakecloud::Failure hang;
  hang.hang = true;
  hang.times = 2;
  e.cloud->fail("GET /v1.0/devices/", hang);
  std::optional<Result<DeviceInfo>> d;
  const auto start = std::chrono::steady_clock::now();
  api.get_device("bf0000000000000bulb1", [&](Result<DeviceInfo> r) { d.emplace(std::move(r)); });
  REQUIRE(e.run_until([&] { return d.has_value(); }));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(d->ok());
  CHECK(d->error().message.find("timed out") != std::string::npos);
}

}  // namespace t2m_http_client_test

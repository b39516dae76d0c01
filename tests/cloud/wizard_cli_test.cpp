// `tuya2mqtt wizard` and `tuya2mqtt history` as the user runs them: flags, prompts on stdin, exit codes
// and output, against the fake cloud served over loopback from its own thread.
#include "cloud/wizard_cli.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/timers.h"
#include "common/uv_handle.h"
#include "tests/cloud/file_test_util.h"
#include "tests/fakecloud/fake_cloud.h"
#include "tests/fakecloud/fake_cloud_server.h"

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_wizard_cli_test {

using namespace t2m;
using namespace t2m::cloud;
using namespace t2m::cloud::testing;

namespace {

const char* const BULB = "bf0000000000000bulb1";

// The fake cloud served over loopback from its own thread, for the blocking *_main entry points.
class ServerThread {
 public:
  ServerThread() {
    REQUIRE(uv_loop_init(&loop_) == 0);
    timers_ = std::make_unique<UvTimers>(&loop_);
    cloud_ = std::make_unique<fakecloud::FakeCloud>(*timers_);
    fakecloud::populate_demo(*cloud_);
    server_ = std::make_unique<fakecloud::FakeCloudServer>(&loop_, *cloud_);
    REQUIRE(server_->listen(0).ok());
    stop_.init(
        [&](uv_async_t* a) { return uv_async_init(&loop_, a, [](uv_async_t* h) { uv_stop(h->loop); }); });
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~ServerThread() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    uv_async_send(stop_.get());
    thread_.join();
    stop_.close();
    server_.reset();
    timers_.reset();
    uv_close_all_and_drain(&loop_);
  }
  fakecloud::FakeCloud& cloud() { return *cloud_; }  // touch only while stopped or before start
  std::string url() const { return server_ ? server_->base_url() : std::string(); }

 private:
  uv_loop_t loop_{};
  std::unique_ptr<UvTimers> timers_;
  std::unique_ptr<fakecloud::FakeCloud> cloud_;
  std::unique_ptr<fakecloud::FakeCloudServer> server_;
  UvHandle<uv_async_t> stop_;
  std::thread thread_;
};

int call_main(int (*fn)(int, char**), std::vector<std::string> args, std::string* out = nullptr,
              const std::string& input = "") {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::stringstream captured, in(input);
  auto* old_out = std::cout.rdbuf(captured.rdbuf());
  auto* old_in = std::cin.rdbuf(in.rdbuf());
  const int rc = fn(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cin.rdbuf(old_in);
  if (out) *out = captured.str();
  return rc;
}

}  // namespace

TEST_CASE("wizard_main and history_main end to end over loopback HTTP") {
  ServerThread srv;
  const std::string devices = temp_path("main_devices.json");
  const std::string csv = temp_path("main_history.csv");
  fakecloud::FakeCloud::Options defaults;
  std::string out;

  CHECK(call_main(wizard_main, {"wizard", "--help"}, &out) == 0);
  CHECK(out.find("--refresh") != std::string::npos);
  CHECK(call_main(wizard_main, {"wizard", "--bogus"}) == 2);
  CHECK(call_main(wizard_main, {"wizard", "--no-input", "--access-id", "x"}) == 2);  // no secret

  // Secret and device id come from stdin prompts; the secret must not be echoed in the output.
  const int rc = call_main(
      wizard_main, {"wizard", "--access-id", defaults.client_id, "--base-url", srv.url(), "--out", devices},
      &out, defaults.secret + "\n" + BULB + "\n");
  CHECK(rc == 0);
  CHECK(out.find("Wrote 4 devices") != std::string::npos);
  CHECK(out.find(defaults.secret) == std::string::npos);
  CHECK(out.find("k3yBulb") == std::string::npos);
  CHECK(read_json(devices).size() == 4);

  CHECK(call_main(wizard_main,
                  {"wizard", "--no-input", "--refresh", "--access-id", defaults.client_id, "--secret",
                   defaults.secret, "--base-url", srv.url(), "--device-id", BULB, "--out", devices},
                  &out) == 0);
  CHECK(out.find("Nothing changed") != std::string::npos);

  CHECK(call_main(wizard_main,
                  {"wizard", "--no-input", "--access-id", defaults.client_id, "--secret",
                   "wrong-secret-000000000000000000", "--base-url", srv.url(), "--device-id", BULB, "--out",
                   devices},
                  &out) == 1);

  CHECK(call_main(history_main, {"history", "--help"}, &out) == 0);
  CHECK(call_main(history_main, {"history", BULB}) == 2);  // no --out
  CHECK(call_main(history_main,
                  {"history", "Desk Lamp", "--no-input", "--access-id", defaults.client_id, "--secret",
                   defaults.secret, "--base-url", srv.url(), "--devices", devices, "--codes", "switch_led",
                   "--since", "1d", "--out", csv},
                  &out) == 0);
  CHECK(out.find("Appended 0 new events") != std::string::npos);
  CHECK(slurp(csv).rfind("event_time_ms,", 0) == 0);
  CHECK(call_main(history_main,
                  {"history", BULB, "--no-input", "--access-id", defaults.client_id, "--secret",
                   defaults.secret, "--base-url", srv.url(), "--since", "never", "--out", csv}) == 2);
  srv.stop();
  CHECK(srv.cloud().count("GET /v2.1/cloud/thing/" + std::string(BULB) + "/report-logs") == 1);
  CHECK(srv.cloud().sign_rejects() == 1);  // only the deliberate wrong secret
  std::remove(devices.c_str());
  std::remove(csv.c_str());
}

}  // namespace t2m_wizard_cli_test

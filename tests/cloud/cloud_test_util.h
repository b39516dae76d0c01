// Shared fixture for the cloud tests: a FakeCloud with demo devices, an in-process HTTP client and an
// OpenApi (with its channel), all on FakeTimers, so every test is deterministic and takes no wall-clock time.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cloud/openapi.h"
#include "common/timers.h"
#include "tests/fakecloud/fake_cloud.h"
#include "tests/fakes/fake_timers.h"

namespace t2m::cloud::testing {

struct Env {
  FakeTimers timers;
  fakecloud::FakeCloud cloud;
  fakecloud::InProcessHttpClient http;
  CloudConfig config;
  std::unique_ptr<OpenApi> api;
  int nonces = 0;

  explicit Env(fakecloud::FakeCloud::Options options = {}, bool demo = true)
      : cloud(timers, std::move(options)), http(cloud, timers) {
    if (demo) fakecloud::populate_demo(cloud);
    config.access_id = cloud.options().client_id;
    config.access_secret = cloud.options().secret;
    config.base_url = "http://fake.invalid";
    make_api();
  }

  OpenApiChannel& channel() { return api->channel(); }

  void make_api() {
    api.reset();
    api = std::make_unique<OpenApi>(http, timers, config,
                                    [this] { return "nonce" + std::to_string(++nonces); });
  }

  // Runs until `done` holds, advancing fake time in small steps; false on time-out.
  bool run_until(const std::function<bool()>& done, uint64_t limit_ms = 600000) {
    for (uint64_t t = 0; t < limit_ms && !done(); t += 10) timers.advance(10);
    return done();
  }

  // Starts an async call and waits for its callback.
  template <class T>
  std::optional<Result<T>> wait(const std::function<void(Callback<T>)>& start, uint64_t limit_ms = 600000) {
    std::optional<Result<T>> out;
    start([&out](Result<T> r) { out.emplace(std::move(r)); });
    run_until([&] { return out.has_value(); }, limit_ms);
    return out;
  }

  // One signed GET with a typed answer: what most channel tests need.
  std::optional<Result<DeviceInfo>> get_device(const std::string& id) {
    return wait<DeviceInfo>([&](Callback<DeviceInfo> cb) { api->get_device(id, std::move(cb)); });
  }
};

}  // namespace t2m::cloud::testing

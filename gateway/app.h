// The composition root (docs/architecture.md): builds the loop's modules from a loaded configuration, wires
// them (the broker client and the discovery listener feed the Gateway; the cloud link serves it; logs go to
// bridge/logging), and tears them down in order. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "config/config.h"

namespace t2m::gw {

class Gateway;

class App {
 public:
  // `state_dir`: --state-dir, or "" for the default (gateway/file_store.h).
  App(uv_loop_t* loop, config::LoadedConfig loaded, std::string state_dir = {});
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  Status start();
  // Publishes every device and the bridge offline, disconnects from the broker, closes every handle;
  // `done` runs on the loop when nothing of the App is left running.
  void stop(std::function<void()> done);
  Gateway& gateway();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `tuya2mqtt run`: loads the config, runs until SIGINT/SIGTERM, returns the process exit code.
int run_main(int argc, char** argv);

}  // namespace t2m::gw

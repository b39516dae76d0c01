// t2m-fake-cloud: the fake Tuya OpenAPI as a standalone process for manual runs and examples.
// Prints the bound port on stdout, then serves until SIGINT/SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/timers.h"
#include "tests/fakecloud/fake_cloud.h"
#include "tests/fakecloud/fake_cloud_server.h"

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--help") == 0) {
      std::printf(
          "usage: t2m-fake-cloud [--port N]\n"
          "Serves a fake Tuya OpenAPI on 127.0.0.1 with demo devices.\n"
          "Credentials: access id fakeclientid00000001, secret fakesecret0123456789abcdefghijklm,\n"
          "demo device bf0000000000000bulb1.\n");
      return 0;
    }
  }
  uv_loop_t* loop = uv_default_loop();
  t2m::UvTimers timers(loop);
  t2m::fakecloud::FakeCloud cloud(timers);
  t2m::fakecloud::populate_demo(cloud);
  t2m::fakecloud::FakeCloudServer server(loop, cloud);
  auto bound = server.listen(port);
  if (!bound) {
    std::fprintf(stderr, "listen failed: %s\n", bound.error().message.c_str());
    return 1;
  }
  std::printf("%d\n", *bound);
  std::fflush(stdout);
  t2m::UvHandle<uv_signal_t> sigint, sigterm;
  auto stop = [](uv_signal_t* s, int) { uv_stop(s->loop); };
  sigint.init([&](uv_signal_t* s) { return uv_signal_init(loop, s); });
  sigterm.init([&](uv_signal_t* s) { return uv_signal_init(loop, s); });
  uv_signal_start(sigint.get(), stop, SIGINT);
  uv_signal_start(sigterm.get(), stop, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}

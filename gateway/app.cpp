#include "gateway/app.h"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>

#include "cloud/pulsar_lws.h"
#include "common/log.h"
#include "common/loop_executor.h"
#include "common/timers.h"
#include "gateway/cli_args.h"
#include "gateway/cloud_link.h"
#include "gateway/discovery_listener.h"
#include "gateway/file_store.h"
#include "gateway/gateway.h"
#include "gateway/transport.h"
#include "gateway/version.h"
#include "mqtt/paho_client.h"
#include "mqtt/payload.h"
#include "mqtt/publisher.h"

namespace t2m::gw {
namespace {

constexpr std::string_view APP_TAG = "gateway.app";
constexpr int EXIT_CONFIG = 2;
constexpr int EXIT_RUNTIME = 1;

// Paho speaks tcp:// and ssl://; users write mqtt:// and mqtts:// as zigbee2mqtt's config does.
std::string paho_uri(const std::string& server) {
  if (server.rfind("mqtt://", 0) == 0) return "tcp://" + server.substr(7);
  if (server.rfind("mqtts://", 0) == 0) return "ssl://" + server.substr(8);
  return server;
}

}  // namespace

struct App::Impl {
  uv_loop_t* loop;
  config::LoadedConfig loaded;
  FileStore store;
  LoopExecutor executor;
  UvTimers timers;
  UvTcpTransportFactory transports;
  mqtt::PahoClient client;
  mqtt::Publisher publisher;
  std::unique_ptr<CloudLink> cloud;
  std::unique_ptr<DiscoveryListener> discovery;
  std::unique_ptr<Gateway> gateway;
  Scheduler sched;
  int log_sink = 0;
  bool stopping = false;

  Impl(uv_loop_t* l, config::LoadedConfig c, const std::string& state_dir)
      : loop(l),
        loaded(std::move(c)),
        store(loaded.path, state_directory(loaded.path, state_dir)),
        executor(l),
        timers(l),
        transports(l),
        client(executor),
        publisher(client),
        sched(timers) {}
};

App::App(uv_loop_t* loop, config::LoadedConfig loaded, std::string state_dir)
    : impl_(std::make_unique<Impl>(loop, std::move(loaded), state_dir)) {}

App::~App() {
  if (impl_ && impl_->log_sink) log_remove_sink(impl_->log_sink);
}

Gateway& App::gateway() {
  return *impl_->gateway;
}

Status App::start() {
  Impl& m = *impl_;
  const config::Config& cfg = m.loaded.config;
  if (!cfg.mqtt.password.empty()) log_register_secret(cfg.mqtt.password);
  if (cfg.mqtt.tls && !cfg.mqtt.tls->key_password.empty()) log_register_secret(cfg.mqtt.tls->key_password);
  if (cfg.cloud && !cfg.cloud->access_secret.empty()) log_register_secret(cfg.cloud->access_secret);

  if (cfg.cloud) {
    // Tests point the push consumer at a local fake: cloud.push_url (not part of the documented schema).
    std::string push_url;
    if (auto c = cfg.extra.find("cloud"); c != cfg.extra.end() && c->is_object()) {
      if (auto u = c->find("push_url"); u != c->end() && u->is_string()) push_url = u->get<std::string>();
    }
    m.cloud = std::make_unique<CloudLink>(m.loop, m.timers, m.executor, *cfg.cloud, push_url);
  }
  if (cfg.discovery.enabled) {
    DiscoveryOptions dopt;
    dopt.bind_address = cfg.discovery.bind_address;
    dopt.ports = cfg.discovery.ports;
    dopt.broadcast_target = cfg.discovery.broadcast_target;
    // Announcements reach the gateway once it exists (below); none can arrive before the loop runs.
    m.discovery = std::make_unique<DiscoveryListener>(
        m.loop, dopt,
        [&m](const proto::Announcement& a, const std::string& ip) {
          if (m.gateway) m.gateway->on_announcement(a, ip);
        },
        nullptr);
  }

  Gateway::Deps deps{m.timers, m.transports, system_random(), m.client, m.publisher};
  deps.store = &m.store;
  deps.cloud = m.cloud.get();
  deps.keys = m.cloud.get();
  if (m.discovery && !cfg.discovery.broadcast_target.empty()) deps.scanner = m.discovery.get();
  deps.ha.version = std::string(GATEWAY_VERSION);
  deps.timings = session_timings(cfg.session);
  nlohmann::json learned = m.store.load_learned();
  // The gateway owns the configuration from here on: one copy, not two (about 2.5 KB per device).
  m.gateway = std::make_unique<Gateway>(deps, std::move(m.loaded.config), std::move(learned));
  const config::Config& live = m.gateway->config();
  if (m.cloud) {
    if (auto st = m.cloud->start(m.gateway->registry(), m.gateway->state()); !st.ok()) {
      // The LAN side works without the cloud: report and carry on.
      T2M_LOGE(APP_TAG, "cloud: %s (firmware, key refresh and push messages are off)",
               st.error().message.c_str());
      m.cloud->stop();
    }
  }

  // Log lines of warning level and above also go to <base>/bridge/logging, as zigbee2mqtt does.
  const std::string logging_topic = m.gateway->topics().bridge_logging();
  m.log_sink = log_add_sink([exec = &m.executor, pub = &m.publisher, logging_topic](
                                LogLevel level, std::string_view tag, std::string_view message) {
    if (level > LogLevel::WARN) return;
    nlohmann::json j{{"level", std::string(to_string(level))},
                     {"namespace", std::string(tag)},
                     {"message", std::string(message)}};
    exec->post([pub, logging_topic, body = mqtt::dump_json(j)]() mutable {
      (void)pub->publish(mqtt::Message{logging_topic, std::move(body), mqtt::Qos::AT_MOST_ONCE, false});
    });
  });

  mqtt::ConnectOptions co;
  co.server_uri = paho_uri(live.mqtt.server);
  co.client_id = live.mqtt.client_id;
  co.username = live.mqtt.username;
  co.password = live.mqtt.password;
  co.keep_alive_s = static_cast<int>(live.mqtt.keepalive.count());
  if (live.mqtt.tls) {
    mqtt::TlsOptions t;
    t.ca_file = live.mqtt.tls->ca;
    t.cert_file = live.mqtt.tls->cert;
    t.key_file = live.mqtt.tls->key;
    t.key_password = live.mqtt.tls->key_password;
    t.verify_hostname = live.mqtt.tls->verify_hostname;
    co.tls = t;
  }
  co.will = mqtt::Message{m.gateway->topics().bridge_state(), R"({"state":"offline"})",
                          mqtt::Qos::AT_LEAST_ONCE, true};
  mqtt::ClientHandlers h;
  h.on_connected = [&m](bool) {
    T2M_LOGI(APP_TAG, "connected to the MQTT broker");
    m.gateway->on_mqtt_connected();
  };
  h.on_connection_lost = [](const std::string& cause) {
    T2M_LOGW(APP_TAG, "lost the MQTT broker (%s); reconnecting, state is kept and republished",
             cause.c_str());
  };
  h.on_message = [&m](mqtt::Message msg) { m.gateway->on_mqtt_message(msg); };
  h.on_error = [](const Error& e) { T2M_LOGE(APP_TAG, "MQTT: %s", e.message.c_str()); };
  auto st = m.client.connect(co, std::move(h));
  if (!st.ok()) return st;

  if (m.discovery) {
    (void)m.discovery->start();  // a port in use is reported; the gateway still runs on configured addresses
    const uint64_t every = static_cast<uint64_t>(live.discovery.request_interval.count()) * MS_PER_S;
    if (!live.discovery.broadcast_target.empty() && every > 0) {
      m.sched.set_interval("discovery-request", every, [&m] { (void)m.discovery->request_announcements(); });
    }
  }
  m.gateway->start();
  T2M_LOGI(APP_TAG, "tuya2mqtt %s running with %zu devices, base topic '%s'",
           std::string(GATEWAY_VERSION).c_str(), live.devices.size(), live.mqtt.base_topic.c_str());
  return {};
}

void App::stop(std::function<void()> done) {
  Impl& m = *impl_;
  if (m.stopping) return;
  m.stopping = true;
  T2M_LOGI(APP_TAG, "shutting down");
  if (m.log_sink) {
    log_remove_sink(m.log_sink);
    m.log_sink = 0;
  }
  m.sched.cancel_all();
  // The executor closes once both the broker client and the cloud's open-hub client have disconnected
  // (both deliver their completion through it).
  auto pending = std::make_shared<int>(2);
  auto one_done = [&m, pending, done = std::move(done)] {
    if (--*pending > 0) return;
    m.executor.close();
    if (done) done();
  };
  if (m.cloud)
    m.cloud->stop(one_done);
  else
    one_done();
  if (m.discovery) m.discovery->stop();
  if (m.gateway) m.gateway->stop();  // offline for every device and the bridge, queued to the broker
  m.client.disconnect(one_done);
}

namespace {

const char* RUN_HELP = R"(usage: tuya2mqtt run -c <config.json> [--log-level LEVEL] [--state-dir DIR]

Keeps every configured Tuya device connected and mirrors it on MQTT (see README).
  -c, --config FILE     configuration file (JSON)
  --log-level LEVEL     error | warning | info | debug | verbose (overrides the config)
  --state-dir DIR       where learned protocol versions are kept (default: $STATE_DIRECTORY, which
                        systemd sets, else the configuration's directory)
  --check               validate the configuration, print every problem, and exit
  -h, --help            this text
Stops cleanly on SIGINT / SIGTERM (devices and bridge published offline).
)";

struct SignalSet {
  UvHandle<uv_signal_t> sigint;
  UvHandle<uv_signal_t> sigterm;
};

}  // namespace

int run_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  ArgSpec spec{{"--config", "--log-level", "--state-dir"},
               {"--help", "--check"},
               {{"-c", "--config"}, {"-h", "--help"}}};
  auto parsed = parse_args(args, spec);
  if (!parsed) {
    std::fprintf(stderr, "tuya2mqtt run: %s\n", parsed.error().message.c_str());
    return EXIT_CONFIG;
  }
  if (parsed->has("--help")) {
    std::fputs(RUN_HELP, stdout);
    return 0;
  }
  auto path = parsed->get("--config");
  if (!path) {
    std::fprintf(stderr, "tuya2mqtt run: -c <config.json> is required (see --help)\n");
    return EXIT_CONFIG;
  }
  auto loaded = config::load_config(*path);
  if (!loaded) {
    std::fprintf(stderr, "tuya2mqtt: %s is not valid (%zu problems):\n", path->c_str(),
                 loaded.error().size());
    for (const auto& i : loaded.error()) std::fprintf(stderr, "  - %s\n", i.to_string().c_str());
    return EXIT_CONFIG;
  }
  for (const auto& w : loaded->warnings) std::fprintf(stderr, "tuya2mqtt: warning: %s\n", w.c_str());
  if (parsed->has("--check")) {
    std::printf("%s: valid, %zu devices\n", path->c_str(), loaded->config.devices.size());
    return 0;
  }
  LogLevel level = LogLevel::INFO;
  std::string level_text = parsed->get("--log-level").value_or(loaded->config.log_level);
  if (!parse_log_level(level_text, level)) {
    std::fprintf(stderr, "tuya2mqtt: unknown log level '%s'\n", level_text.c_str());
    return EXIT_CONFIG;
  }
  log_set_level(level);
  // One socket per device: thousands of devices need more than the usual soft limit of 1024.
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  int rc = 0;
  {
    App app(&loop, std::move(loaded.value()), parsed->get("--state-dir").value_or(""));
    auto st = app.start();
    if (!st.ok()) {
      T2M_LOGE(APP_TAG, "cannot start: %s", st.error().message.c_str());
      rc = EXIT_RUNTIME;
    } else {
      SignalSet sig;
      struct RunContext {
        App* app;
        SignalSet* sig;
        bool stopping = false;
      } ctx{&app, &sig};
      auto on_signal = [](uv_signal_t* s, int signum) {
        auto* c = static_cast<RunContext*>(s->data);
        if (!c) return;
        if (c->stopping) {
          T2M_LOGW(APP_TAG, "second signal %d: exiting without waiting", signum);
          uv_stop(s->loop);
          return;
        }
        c->stopping = true;
        T2M_LOGI(APP_TAG, "signal %d received", signum);
        c->app->stop([c] {
          // Once the signal handles are released nothing keeps the loop alive: uv_run returns.
          c->sig->sigint.close();
          c->sig->sigterm.close();
        });
      };
      for (auto* h : {&sig.sigint, &sig.sigterm}) {
        h->init([&](uv_signal_t* s) { return uv_signal_init(&loop, s); });
        (*h)->data = &ctx;
      }
      uv_signal_start(sig.sigint.get(), on_signal, SIGINT);
      uv_signal_start(sig.sigterm.get(), on_signal, SIGTERM);
      uv_run(&loop, UV_RUN_DEFAULT);
    }
  }
  // libwebsockets frees its context a few loop turns after it is destroyed (cloud/pulsar_lws.h).
  cloud::lws_drain(&loop);
  if (uv_close_all_and_drain(&loop) != 0) T2M_LOGW(APP_TAG, "some handles were still open at exit");
  return rc;
}

}  // namespace t2m::gw

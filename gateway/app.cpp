#include "gateway/app.h"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>

#include "cloud/pulsar_lws.h"
#include "common/log.h"
#include "common/loop_executor.h"
#include "common/timers.h"
#include "gateway/bridge.h"
#include "gateway/cli_args.h"
#include "gateway/cloud_link.h"
#include "gateway/discovery_listener.h"
#include "gateway/error_code.h"
#include "gateway/ha_publisher.h"
#include "gateway/transport.h"
#include "mqtt/paho_client.h"
#include "mqtt/payload.h"
#include "mqtt/publisher.h"

namespace t2m::gw {
namespace {

constexpr std::string_view TAG = "gateway.app";
constexpr int EXIT_CONFIG = 2;
constexpr int EXIT_RUNTIME = 1;
constexpr uint32_t MS_PER_S = 1000;

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
  LoopExecutor executor;
  UvTimers timers;
  UvTcpTransportFactory transports;
  mqtt::PahoClient client;
  mqtt::Publisher publisher;
  std::unique_ptr<CloudLink> cloud;
  std::unique_ptr<Bridge> bridge;
  std::unique_ptr<HaPublisher> ha;
  std::unique_ptr<DiscoveryListener> discovery;
  Scheduler sched;
  int log_sink = 0;
  bool stopping = false;

  Impl(uv_loop_t* l, config::LoadedConfig c)
      : loop(l),
        loaded(std::move(c)),
        executor(l),
        timers(l),
        transports(l),
        client(executor),
        publisher(client),
        sched(timers) {}
};

App::App(uv_loop_t* loop, config::LoadedConfig loaded)
    : impl_(std::make_unique<Impl>(loop, std::move(loaded))) {}

App::~App() {
  if (impl_ && impl_->log_sink) log_remove_sink(impl_->log_sink);
}

Bridge& App::bridge() {
  return *impl_->bridge;
}

Status App::start() {
  Impl& m = *impl_;
  const config::Config& cfg = m.loaded.config;
  if (!cfg.mqtt.password.empty()) log_register_secret(cfg.mqtt.password);
  if (cfg.mqtt.tls && !cfg.mqtt.tls->key_password.empty()) log_register_secret(cfg.mqtt.tls->key_password);
  if (cfg.cloud && !cfg.cloud->access_secret.empty()) log_register_secret(cfg.cloud->access_secret);

  Bridge::Hooks hooks;
  const std::string path = m.loaded.path;
  hooks.save_config = [path](const config::Config& c) { return config::save_config(c, path); };
  if (!cfg.discovery.broadcast_target.empty()) {
    hooks.send_discovery_request = [&m]() -> Status {
      if (!m.discovery)
        return fail(ErrorCode::DISCOVERY_OFF, "UDP discovery is disabled in the configuration");
      Bytes iv(12);
      system_random()(iv.data(), iv.size());
      // Devices answer to the address in the request; with a loopback target that is loopback too.
      const auto& target = m.bridge->config().discovery.broadcast_target;
      return m.discovery->send_request(target, proto::PORT_UDP_APP,
                                       target.rfind("127.", 0) == 0 ? target : "0.0.0.0", iv);
    };
  }
  // Probed versions and device22 modes survive restarts in a small file next to the configuration.
  const std::string learned_path = path + ".learned";
  nlohmann::json learned = nlohmann::json::object();
  if (FILE* f = std::fopen(learned_path.c_str(), "r")) {
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    learned = nlohmann::json::parse(text, nullptr, false);
    if (!learned.is_object()) {
      T2M_LOGW(TAG, "ignoring %s: not a JSON object", learned_path.c_str());
      learned = nlohmann::json::object();
    }
  }
  hooks.save_learned = [learned_path](const nlohmann::json& j) {
    const std::string tmp = learned_path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) {
      T2M_LOGD(TAG, "cannot write %s: learned versions are kept in memory only", tmp.c_str());
      return;
    }
    const std::string text = j.dump(2);
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    std::fclose(f);
    if (ok) std::rename(tmp.c_str(), learned_path.c_str());
  };
  hooks.on_device_changed = [&m](const std::string& id) {
    if (m.ha) m.ha->publish_device(id);
  };
  hooks.on_device_removed = [&m](const std::string& id, const std::string& old_name) {
    if (m.ha) m.ha->remove_device(id, old_name);
  };
  hooks.on_report = [&m](const std::string& id, const nlohmann::json& dps) {
    if (m.ha) m.ha->publish_actions(id, dps);
  };
  if (cfg.cloud) {
    // Tests point the push consumer at a local fake: cloud.push_url (not part of the documented schema).
    std::string push_url;
    if (auto c = cfg.extra.find("cloud"); c != cfg.extra.end() && c->is_object()) {
      if (auto u = c->find("push_url"); u != c->end() && u->is_string()) push_url = u->get<std::string>();
    }
    m.cloud = std::make_unique<CloudLink>(m.loop, m.timers, m.executor, *cfg.cloud, push_url);
    m.cloud->install_hooks(hooks);
  }
  m.bridge =
      std::make_unique<Bridge>(Bridge::Deps{m.timers, m.transports, system_random(), m.client, m.publisher},
                               std::move(m.loaded.config), std::move(hooks), std::move(learned));
  // The bridge owns the configuration from here on: one copy, not two (about 2.5 KB per device).
  const config::Config& live = m.bridge->config();
  HaPublisher::Sources hs;
  hs.device_ids = [&m] { return m.bridge->device_ids(); };
  hs.device = [&m](const std::string& id) -> std::optional<HaPublisher::DeviceView> {
    const DeviceModel* md = m.bridge->model_of(id);
    const config::DeviceConfig* c = m.bridge->config().find_device(id);
    if (!md || !c) return std::nullopt;
    HaPublisher::DeviceView v;
    v.config = c;
    v.model = &md->model();
    const nlohmann::json fw = m.bridge->firmware_of(id);
    if (fw.is_object()) {
      v.firmware_update = true;
      if (auto it = fw.find("installed_version"); it != fw.end() && it->is_string())
        v.firmware_version = it->get<std::string>();
    }
    return v;
  };
  hs.republish_state = [&m](const std::string& id) { m.bridge->republish_state(id); };
  HaPublisher::Options ho;
  ho.version = std::string(GATEWAY_VERSION);
  m.ha = std::make_unique<HaPublisher>(m.publisher, m.client, m.bridge->topics(), live.homeassistant,
                                       m.timers, std::move(hs), ho);
  if (m.cloud) {
    if (auto st = m.cloud->start(*m.bridge); !st.ok()) {
      // The LAN side works without the cloud: report and carry on.
      T2M_LOGE(TAG, "cloud: %s (firmware, key refresh and push messages are off)",
               st.error().message.c_str());
      m.cloud.reset();
    }
  }

  // Log lines of warning level and above also go to <base>/bridge/logging, as zigbee2mqtt does.
  const std::string logging_topic = m.bridge->topics().bridge_logging();
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
  co.will = mqtt::Message{m.bridge->topics().bridge_state(), R"({"state":"offline"})",
                          mqtt::Qos::AT_LEAST_ONCE, true};
  mqtt::ClientHandlers h;
  h.on_connected = [&m](bool) {
    T2M_LOGI(TAG, "connected to the MQTT broker");
    m.bridge->on_mqtt_connected();
    m.ha->on_mqtt_connected();
  };
  h.on_connection_lost = [](const std::string& cause) {
    T2M_LOGW(TAG, "lost the MQTT broker (%s); reconnecting, state is kept and republished", cause.c_str());
  };
  // Home Assistant's status topic is outside the base topic: HA first.
  h.on_message = [&m](mqtt::Message msg) {
    if (!m.ha->on_message(msg)) m.bridge->on_mqtt_message(msg);
  };
  h.on_error = [](const Error& e) { T2M_LOGE(TAG, "MQTT: %s", e.message.c_str()); };
  auto st = m.client.connect(co, std::move(h));
  if (!st.ok()) return st;

  if (live.discovery.enabled) {
    DiscoveryOptions dopt;
    dopt.bind_address = live.discovery.bind_address;
    dopt.ports = live.discovery.ports;
    m.discovery = std::make_unique<DiscoveryListener>(
        m.loop, dopt,
        [&m](const proto::Announcement& a, const std::string& ip) { m.bridge->on_announcement(a, ip); },
        nullptr);
    (void)m.discovery->start();  // a port in use is reported; the gateway still runs on configured addresses
    if (!live.discovery.broadcast_target.empty()) {
      const uint64_t every = static_cast<uint64_t>(live.discovery.request_interval.count()) * MS_PER_S;
      if (every > 0) {
        m.sched.set_interval("discovery-request", every, [&m] {
          Bytes iv(12);
          system_random()(iv.data(), iv.size());
          const auto& target = m.bridge->config().discovery.broadcast_target;
          (void)m.discovery->send_request(target, proto::PORT_UDP_APP, target, iv);
        });
      }
    }
  }
  m.bridge->start();
  m.ha->start();
  T2M_LOGI(TAG, "tuya2mqtt %s running with %zu devices, base topic '%s'",
           std::string(GATEWAY_VERSION).c_str(), live.devices.size(), live.mqtt.base_topic.c_str());
  return {};
}

void App::stop(std::function<void()> done) {
  Impl& m = *impl_;
  if (m.stopping) return;
  m.stopping = true;
  T2M_LOGI(TAG, "shutting down");
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
  if (m.bridge) m.bridge->stop();  // offline for every device and the bridge, queued to the broker
  m.client.disconnect(one_done);
}

namespace {

const char* RUN_HELP = R"(usage: tuya2mqtt run -c <config.json> [--log-level LEVEL]

Keeps every configured Tuya device connected and mirrors it on MQTT (see README).
  -c, --config FILE     configuration file (JSON)
  --log-level LEVEL     error | warning | info | debug | verbose (overrides the config)
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
  ArgSpec spec{{"--config", "--log-level"}, {"--help", "--check"}, {{"-c", "--config"}, {"-h", "--help"}}};
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
    App app(&loop, std::move(loaded.value()));
    auto st = app.start();
    if (!st.ok()) {
      T2M_LOGE(TAG, "cannot start: %s", st.error().message.c_str());
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
          T2M_LOGW(TAG, "second signal %d: exiting without waiting", signum);
          uv_stop(s->loop);
          return;
        }
        c->stopping = true;
        T2M_LOGI(TAG, "signal %d received", signum);
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
  if (uv_close_all_and_drain(&loop) != 0) T2M_LOGW(TAG, "some handles were still open at exit");
  return rc;
}

}  // namespace t2m::gw

#include "cloud/openhub_client.h"

#include <algorithm>

#include "common/log.h"

namespace t2m::cloud {

namespace {
constexpr const char* OPENHUB_CLIENT_TAG = "cloud.openhub";
constexpr double JITTER = 0.2;
constexpr uint32_t MAX_BACKOFF_SHIFT = 16;

Unexpected<Error> config_error(const std::string& what) {
  return fail("openhub.config", "open-hub config: " + what);
}

std::string json_str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}
}  // namespace

std::string_view to_string(OpenhubState state) {
  switch (state) {
    case OpenhubState::STOPPED:
      return "stopped";
    case OpenhubState::FETCHING:
      return "fetching";
    case OpenhubState::CONNECTING:
      return "connecting";
    case OpenhubState::CONNECTED:
      return "connected";
    case OpenhubState::WAITING_RETRY:
      return "waiting_retry";
  }
  return "?";
}

nlohmann::json openhub_config_request(std::string_view uid, std::string_view link_id,
                                      std::string_view msg_encrypted_version) {
  return {{"uid", std::string(uid)},
          {"link_id", std::string(link_id)},
          {"link_type", "mqtt"},
          {"topics", "device"},
          {"msg_encrypted_version", std::string(msg_encrypted_version)}};
}

Result<OpenhubConfig> parse_openhub_config(const nlohmann::json& result, std::string_view requested_version) {
  if (!result.is_object()) return config_error("result is not an object");
  OpenhubConfig c;
  c.url = json_str(result, "url");
  c.client_id = json_str(result, "client_id");
  c.username = json_str(result, "username");
  c.password = json_str(result, "password");
  if (c.url.empty()) return config_error("no url");
  if (c.url.rfind("ssl://", 0) != 0 && c.url.rfind("tcp://", 0) != 0 && c.url.rfind("mqtts://", 0) != 0 &&
      c.url.rfind("mqtt://", 0) != 0)
    return config_error("url scheme must be ssl:// or tcp:// (got \"" + c.url + "\")");
  if (c.client_id.empty()) return config_error("no client_id");
  if (c.username.empty()) return config_error("no username");
  if (!push::openhub_key(c.password)) return config_error("password shorter than 24 characters");
  auto exp = result.find("expire_time");
  if (exp == result.end() || !exp->is_number_integer() || exp->get<int64_t>() <= 0)
    return config_error("no positive expire_time");
  c.expire_time_s = exp->get<int64_t>();
  auto src = result.find("source_topic");
  if (src != result.end() && src->is_object()) {
    for (const auto& [k, v] : src->items())
      if (v.is_string() && !v.get<std::string>().empty()) c.source_topics.push_back(v.get<std::string>());
  } else if (src != result.end() && src->is_string() && !src->get<std::string>().empty()) {
    c.source_topics.push_back(src->get<std::string>());
  }
  if (c.source_topics.empty()) return config_error("no source_topic");
  if (requested_version != push::OPENHUB_V1 && requested_version != push::OPENHUB_V2)
    return config_error("unsupported msg_encrypted_version \"" + std::string(requested_version) + "\"");
  c.msg_encrypted_version = std::string(requested_version);
  return c;
}

OpenhubClient::OpenhubClient(Timers& timers, push::PushSink& sink, OpenhubConfigFetcher fetcher,
                             MqttClientFactory factory, OpenhubOptions options)
    : timers_(timers),
      sink_(sink),
      fetcher_(std::move(fetcher)),
      factory_(std::move(factory)),
      options_(std::move(options)),
      processor_(sink, timers),
      alive_(std::make_shared<OpenhubClient*>(this)),
      rng_(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}()) {}

OpenhubClient::~OpenhubClient() {
  alive_.reset();
  if (fetch_timer_ != NO_TIMER) timers_.cancel(fetch_timer_);
  gens_.clear();
}

Status OpenhubClient::start() {
  if (state_ != OpenhubState::STOPPED) return {};
  if (!fetcher_ || !factory_)
    return fail("openhub.config", "open-hub: no config fetcher or MQTT client factory");
  fetch_attempt_ = 0;
  fetch_();
  return {};
}

void OpenhubClient::stop(std::function<void()> done) {
  if (fetch_timer_ != NO_TIMER) timers_.cancel(fetch_timer_);
  fetch_timer_ = NO_TIMER;
  state_ = OpenhubState::STOPPED;
  if (channel_up_) {
    channel_up_ = false;
    sink_.on_push_channel(push::CHANNEL_OPENHUB, false);
  }
  stop_done_ = std::move(done);
  for (auto& g : gens_)
    if (!g.retiring) retire_(g);
  if (gens_.empty() && stop_done_) std::exchange(stop_done_, nullptr)();
}

void OpenhubClient::fetch_() {
  fetch_timer_ = NO_TIMER;
  if (fetching_) return;
  fetching_ = true;
  ++stats_.config_fetches;
  if (state_ != OpenhubState::CONNECTED) state_ = OpenhubState::FETCHING;
  std::weak_ptr<OpenhubClient*> weak = alive_;
  fetcher_([weak](Result<OpenhubConfig> r) {
    if (auto self = weak.lock()) (*self)->on_config_(std::move(r));
  });
}

void OpenhubClient::on_config_(Result<OpenhubConfig> config) {
  fetching_ = false;
  if (state_ == OpenhubState::STOPPED) return;
  if (!config) {
    ++stats_.config_failures;
    schedule_fetch_retry_(config.error().code + ": " + config.error().message);
    return;
  }
  fetch_attempt_ = 0;
  connect_(std::move(config.value()));
}

void OpenhubClient::schedule_fetch_retry_(const std::string& why) {
  if (state_ == OpenhubState::STOPPED || fetch_timer_ != NO_TIMER || fetching_) return;
  uint64_t base = static_cast<uint64_t>(options_.fetch_backoff_min_ms)
                  << std::min(fetch_attempt_, MAX_BACKOFF_SHIFT);
  base = std::min<uint64_t>(base, options_.fetch_backoff_max_ms);
  std::uniform_real_distribution<double> jitter(1.0 - JITTER, 1.0 + JITTER);
  auto delay = static_cast<uint32_t>(static_cast<double>(base) * jitter(rng_));
  ++fetch_attempt_;
  stats_.last_retry_delay_ms = delay;
  if (state_ != OpenhubState::CONNECTED) state_ = OpenhubState::WAITING_RETRY;
  T2M_LOGW(OPENHUB_CLIENT_TAG, "%s; fetching a new config in %u ms", why.c_str(), delay);
  fetch_timer_ = timers_.start(delay, 0, [this] { fetch_(); });
}

void OpenhubClient::connect_(OpenhubConfig config) {
  auto key = push::openhub_key(config.password);
  if (!key || config.source_topics.empty()) {
    ++stats_.config_failures;
    schedule_fetch_retry_("open-hub config unusable (short password or no source topic)");
    return;
  }
  Generation g;
  g.id = next_gen_++;
  g.key = std::move(*key);
  log_register_secret(config.password);
  log_register_secret(as_chars(g.key));
  g.client = factory_();
  if (!g.client) {
    schedule_fetch_retry_("open-hub: no MQTT client");
    return;
  }
  mqtt::ConnectOptions co;
  co.server_uri = config.url;
  co.client_id = config.client_id;
  co.username = config.username;
  co.password = config.password;
  co.keep_alive_s = options_.keep_alive_s;
  co.reconnect_min_ms = options_.reconnect_min_ms;
  co.reconnect_max_ms = options_.reconnect_max_ms;
  co.clean_session = true;
  if (config.url.rfind("ssl://", 0) == 0 || config.url.rfind("mqtts://", 0) == 0) {
    mqtt::TlsOptions tls;
    tls.ca_file = options_.ca_file;
    tls.verify_hostname = true;
    co.tls = tls;
  }
  g.config = std::move(config);
  std::weak_ptr<OpenhubClient*> weak = alive_;
  uint64_t id = g.id;
  mqtt::ClientHandlers h;
  h.on_connected = [weak, id](bool) {
    if (auto self = weak.lock()) (*self)->on_connected_(id);
  };
  h.on_connection_lost = [weak, id](const std::string& cause) {
    if (auto self = weak.lock()) (*self)->on_lost_(id, cause);
  };
  h.on_message = [weak, id](mqtt::Message m) {
    if (auto self = weak.lock()) (*self)->on_message_(id, m);
  };
  h.on_error = [weak, id](const Error& e) {
    if (auto self = weak.lock()) (*self)->on_error_(id, e);
  };
  mqtt::Client* client = g.client.get();
  gens_.push_back(std::move(g));
  if (state_ != OpenhubState::CONNECTED) state_ = OpenhubState::CONNECTING;
  T2M_LOGI(OPENHUB_CLIENT_TAG, "connecting to %s as %s (config valid %lld s, version %s)",
           gens_.back().config.url.c_str(), gens_.back().config.client_id.c_str(),
           static_cast<long long>(gens_.back().config.expire_time_s),
           gens_.back().config.msg_encrypted_version.c_str());
  auto st = client->connect(co, std::move(h));
  if (!st) {
    erase_(id);
    ++stats_.config_failures;
    schedule_fetch_retry_("open-hub connect: " + st.error().message);
    return;
  }
  // Rotate before expiry: Tuya closes every connection when the config expires.
  int64_t refresh_s = std::max<int64_t>(gens_.back().config.expire_time_s - options_.refresh_margin_s,
                                        options_.min_validity_s);
  if (fetch_timer_ != NO_TIMER) timers_.cancel(fetch_timer_);
  fetch_timer_ = timers_.start(static_cast<uint64_t>(refresh_s) * MS_PER_S, 0, [this] { fetch_(); });
}

OpenhubClient::Generation* OpenhubClient::find_(uint64_t gen) {
  for (auto& g : gens_)
    if (g.id == gen) return &g;
  return nullptr;
}

void OpenhubClient::erase_(uint64_t gen) {
  gens_.remove_if([gen](const Generation& g) { return g.id == gen; });
}

uint64_t OpenhubClient::newest_connected_() const {
  uint64_t best = 0;
  for (const auto& g : gens_)
    if (g.connected && !g.retiring) best = std::max(best, g.id);
  return best;
}

void OpenhubClient::on_connected_(uint64_t gen) {
  Generation* g = find_(gen);
  if (!g || g->retiring) return;
  g->connected = true;
  ++stats_.connects;
  // (Re)subscribe on every connection: clean sessions forget subscriptions.
  for (const auto& topic : g->config.source_topics) {
    auto st = g->client->subscribe(topic, mqtt::Qos::AT_LEAST_ONCE);
    if (!st)
      T2M_LOGW(OPENHUB_CLIENT_TAG, "subscribe %s failed: %s", topic.c_str(), st.error().message.c_str());
  }
  state_ = OpenhubState::CONNECTED;
  T2M_LOGI(OPENHUB_CLIENT_TAG, "connected (%s), subscribed to %zu topic(s)", g->config.client_id.c_str(),
           g->config.source_topics.size());
  retire_older_than_(gen);
  if (!channel_up_) {
    channel_up_ = true;
    sink_.on_push_channel(push::CHANNEL_OPENHUB, true);
  }
}

void OpenhubClient::on_lost_(uint64_t gen, const std::string& cause) {
  Generation* g = find_(gen);
  if (!g || g->retiring) return;
  g->connected = false;
  ++stats_.connection_losses;
  T2M_LOGW(OPENHUB_CLIENT_TAG, "connection lost (%s); the MQTT client reconnects", cause.c_str());
  if (newest_connected_() == 0) {
    if (state_ == OpenhubState::CONNECTED) state_ = OpenhubState::CONNECTING;
    if (channel_up_) {
      channel_up_ = false;
      sink_.on_push_channel(push::CHANNEL_OPENHUB, false);
    }
  }
}

void OpenhubClient::on_message_(uint64_t gen, const mqtt::Message& msg) {
  Generation* g = find_(gen);
  if (!g) return;  // a retiring client may still deliver: its key is still valid, so keep it
  processor_.handle_openhub_message(msg.payload, g->config.msg_encrypted_version, g->key);
}

void OpenhubClient::on_error_(uint64_t gen, const Error& e) {
  Generation* g = find_(gen);
  if (!g || g->retiring) return;
  ++stats_.auth_errors;
  T2M_LOGE(OPENHUB_CLIENT_TAG, "broker refused the connection (%s): %s; fetching a new config",
           e.code.c_str(), e.message.c_str());
  sink_.on_push_error(push::CHANNEL_OPENHUB, e);
  retire_(*g);
  // CONNACK rc 5 means the config's credentials are no longer valid: fetch new ones now (§6.b).
  if (fetch_timer_ != NO_TIMER) timers_.cancel(fetch_timer_);
  fetch_timer_ = NO_TIMER;
  if (state_ != OpenhubState::CONNECTED) state_ = OpenhubState::WAITING_RETRY;
  schedule_fetch_retry_("open-hub credentials refused");
}

void OpenhubClient::retire_older_than_(uint64_t gen) {
  for (auto& g : gens_) {
    if (g.id < gen && !g.retiring) {
      ++stats_.rotations;
      retire_(g);
    }
  }
}

void OpenhubClient::retire_(Generation& g) {
  g.retiring = true;
  g.connected = false;
  std::weak_ptr<OpenhubClient*> weak = alive_;
  uint64_t id = g.id;
  // The client object must live until its disconnect completes.
  g.client->disconnect([weak, id] {
    auto self = weak.lock();
    if (!self) return;
    OpenhubClient* me = *self;
    // Not erased inside the client's own callback stack: defer to a timer tick.
    me->timers_.start(0, 0, [weak, id] {
      auto s = weak.lock();
      if (!s) return;
      OpenhubClient* m = *s;
      m->erase_(id);
      if (m->gens_.empty() && m->stop_done_) std::exchange(m->stop_done_, nullptr)();
    });
  });
}

}  // namespace t2m::cloud

#include "cloud/pulsar_client.h"

#include <algorithm>
#include <cstring>

#include "cloud/pulsar_lws.h"
#include "common/log.h"

namespace t2m::cloud {

namespace {
constexpr const char* PULSAR_CLIENT_TAG = "cloud.pulsar";
constexpr const char* PROTOCOL_NAME = "tuya-pulsar-consumer";
constexpr int DEFAULT_WSS_PORT = 443;
constexpr int DEFAULT_WS_PORT = 80;
constexpr int HTTP_UNAUTHORIZED = 401;
constexpr int HTTP_FORBIDDEN = 403;
// A connection that lived this long, or delivered a message, resets the back-off.
constexpr uint64_t STABLE_CONNECTION_MS = 30000;
// Jitter: the delay is scaled by a factor in [1 - J, 1 + J].
constexpr double JITTER = 0.2;
constexpr uint32_t MAX_BACKOFF_SHIFT = 16;
constexpr size_t MAX_PENDING_ACKS = 4096;
constexpr size_t IP_TEXT_MAX = 64;

bool parse_url(const std::string& url, bool& tls, std::string& host, int& port, std::string& path) {
  std::string_view u(url);
  if (u.rfind("wss://", 0) == 0) {
    tls = true;
    u.remove_prefix(6);
  } else if (u.rfind("ws://", 0) == 0) {
    tls = false;
    u.remove_prefix(5);
  } else {
    return false;
  }
  auto slash = u.find('/');
  std::string_view hostport = u.substr(0, slash);
  path = slash == std::string_view::npos ? "/" : std::string(u.substr(slash));
  if (path.back() != '/') path += '/';
  auto colon = hostport.rfind(':');
  port = tls ? DEFAULT_WSS_PORT : DEFAULT_WS_PORT;
  if (colon != std::string_view::npos) {
    std::string p(hostport.substr(colon + 1));
    hostport = hostport.substr(0, colon);
    if (p.empty() || p.size() > 5 ||
        !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    port = std::stoi(p);
    if (port <= 0 || port > 65535) return false;
  }
  host = std::string(hostport);
  return !host.empty();
}
}  // namespace

std::optional<std::string> pulsar_url_for_region(std::string_view region) {
  struct Entry {
    std::string_view code;
    std::string_view url;
  };
  static constexpr Entry TABLE[] = {
      {"cn", "wss://mqe.tuyacn.com:8285/"},        {"us", "wss://mqe.tuyaus.com:8285/"},
      {"us-e", "wss://mqe-ueaz.tuyaus.com:8285/"}, {"eu", "wss://mqe.tuyaeu.com:8285/"},
      {"eu-w", "wss://mqe-weaz.tuyaeu.com:8285/"}, {"in", "wss://mqe.tuyain.com:8285/"},
      {"sg", "wss://mqe-sg.iotbing.com:8285/"},
  };
  for (const auto& e : TABLE)
    if (e.code == region) return std::string(e.url);
  return std::nullopt;
}

std::string_view to_string(PulsarState state) {
  switch (state) {
    case PulsarState::STOPPED:
      return "stopped";
    case PulsarState::RESOLVING:
      return "resolving";
    case PulsarState::CONNECTING:
      return "connecting";
    case PulsarState::CONNECTED:
      return "connected";
    case PulsarState::WAITING_RETRY:
      return "waiting_retry";
  }
  return "?";
}

struct PulsarCallbacks {
  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);
};

namespace {
const lws_protocols PROTOCOLS[] = {
    {PROTOCOL_NAME, &PulsarCallbacks::callback, 0, 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};
}  // namespace

struct PulsarClient::LwsState {
  lws_retry_bo_t retry_policy{};
  std::unique_ptr<LwsContext> ctx;
};

// One uv_getaddrinfo in flight. If the client goes away first, `owner` is cleared and the result dropped.
struct PulsarClient::Resolve {
  uv_getaddrinfo_t req{};
  PulsarClient* owner = nullptr;
};

PulsarClient::PulsarClient(uv_loop_t* loop, Timers& timers, push::PushSink& sink, PulsarOptions options)
    : loop_(loop),
      timers_(timers),
      sink_(sink),
      options_(std::move(options)),
      processor_(sink, timers),
      rng_(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}()) {}

PulsarClient::~PulsarClient() {
  stop();
  if (grave_timer_ != NO_TIMER) timers_.cancel(grave_timer_);
  graveyard_.reset();
}

std::string PulsarClient::request_path() const {
  return base_path_ + "ws/v2/consumer/persistent/" + options_.access_id + "/out/" + options_.env + "/" +
         options_.access_id + "-sub?ackTimeoutMillis=" + std::to_string(options_.ack_timeout_ms) +
         "&subscriptionType=Failover";
}

Status PulsarClient::start() {
  if (state_ != PulsarState::STOPPED) return {};
  if (graveyard_) {
    if (callback_depth_ > 0) return fail("pulsar.busy", "Pulsar: restart requested while still stopping");
    if (grave_timer_ != NO_TIMER) timers_.cancel(grave_timer_);
    grave_timer_ = NO_TIMER;
    graveyard_.reset();  // its CLOSED callback is ignored: stopping_ is still set
  }
  if (options_.access_id.empty()) return fail("pulsar.config", "Pulsar: access_id is empty");
  auto key = push::pulsar_key(options_.access_secret);
  if (!key) return fail("pulsar.config", "Pulsar: access_secret must be at least 24 characters");
  if (!parse_url(options_.url, tls_, host_, port_, base_path_))
    return fail("pulsar.config",
                "Pulsar: url must look like wss://host[:port]/ (got \"" + options_.url + "\")");
  if (options_.env != PULSAR_ENV_PROD && options_.env != PULSAR_ENV_TEST)
    return fail("pulsar.config", "Pulsar: env must be \"event\" or \"event-test\"");
  key_ = std::move(*key);
  password_ = push::pulsar_password(options_.access_id, options_.access_secret);
  log_register_secret(options_.access_secret);
  log_register_secret(password_);
  log_register_secret(as_chars(key_));

  auto state = std::make_unique<LwsState>();
  state->retry_policy.secs_since_valid_ping = options_.ping_interval_s;
  state->retry_policy.secs_since_valid_hangup = options_.idle_hangup_s;
  LwsContextOptions co;
  co.protocols = PROTOCOLS;
  co.user = this;
  co.tls = tls_;
  co.ca_file = options_.ca_file;
  co.retry_and_idle = &state->retry_policy;
  auto ctx = LwsContext::create(loop_, co);
  if (!ctx) return fail(ctx.error());
  state->ctx = std::move(ctx.value());
  lws_ = std::move(state);
  stopping_ = false;
  attempt_ = 0;
  T2M_LOGI(PULSAR_CLIENT_TAG, "consumer %s on %s://%s:%d (env %s)", options_.access_id.c_str(),
           tls_ ? "wss" : "ws", host_.c_str(), port_, options_.env.c_str());
  connect_();
  return {};
}

void PulsarClient::stop() {
  if (state_ == PulsarState::STOPPED && !lws_) return;
  stopping_ = true;
  if (retry_timer_ != NO_TIMER) timers_.cancel(retry_timer_);
  retry_timer_ = NO_TIMER;
  if (resolving_) {
    resolving_->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolving_->req));
    resolving_ = nullptr;
  }
  bool was_connected = state_ == PulsarState::CONNECTED;
  if (callback_depth_ > 0) {
    // lws must not be destroyed from inside its own callback: release it on the next loop turn.
    graveyard_ = std::move(lws_);
    if (grave_timer_ == NO_TIMER)
      grave_timer_ = timers_.start(0, 0, [this] {
        grave_timer_ = NO_TIMER;
        graveyard_.reset();
      });
  } else {
    // Closes the socket now (CLOSED runs inside, ignored as stopping_); lws finishes on the loop.
    lws_.reset();
  }
  wsi_ = nullptr;
  acks_.clear();
  state_ = PulsarState::STOPPED;
  if (was_connected) sink_.on_push_channel(push::CHANNEL_PULSAR, false);
}

void PulsarClient::connect_() {
  retry_timer_ = NO_TIMER;
  if (stopping_ || !lws_) return;
  state_ = PulsarState::RESOLVING;
  auto r = std::make_unique<Resolve>();
  r->owner = this;
  r->req.data = r.get();
  addrinfo hints{};
  hints.ai_family = AF_INET;  // lws context is IPv4-only (DISABLE_IPV6)
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(
      loop_, &r->req,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        std::unique_ptr<Resolve> self(static_cast<Resolve*>(req->data));
        std::string ip;
        if (status == 0 && res) {
          char buf[IP_TEXT_MAX] = {};
          uv_ip4_name(reinterpret_cast<const sockaddr_in*>(res->ai_addr), buf, sizeof buf);
          ip = buf;
        }
        uv_freeaddrinfo(res);
        if (self->owner) self->owner->on_resolved_(status, ip);
      },
      host_.c_str(), nullptr, &hints);
  if (rc != 0) {
    ++stats_.connect_failures;
    schedule_retry_(uv_strerror(rc));
    return;
  }
  resolving_ = r.release();  // the callback takes it back
}

void PulsarClient::on_resolved_(int status, const std::string& ip) {
  resolving_ = nullptr;
  if (stopping_ || !lws_) return;
  if (status != 0 || ip.empty()) {
    ++stats_.connect_failures;
    schedule_retry_(status != 0 ? uv_strerror(status) : "no IPv4 address");
    return;
  }
  state_ = PulsarState::CONNECTING;
  std::string path = request_path();
  lws_client_connect_info ci;
  std::memset(&ci, 0, sizeof ci);
  ci.context = lws_->ctx->get();
  ci.address = ip.c_str();
  ci.port = port_;
  ci.path = path.c_str();
  // Host header, SNI and certificate name check all use the name, not the resolved address.
  ci.host = host_.c_str();
  ci.origin = host_.c_str();
  ci.ssl_connection = tls_ ? LCCSCF_USE_SSL : 0;
  ci.local_protocol_name = PROTOCOL_NAME;
  ci.userdata = this;
  ci.retry_and_idle_policy = &lws_->retry_policy;
  ci.pwsi = &wsi_;
  rx_.clear();
  rx_oversize_ = false;
  if (!lws_client_connect_via_info(&ci)) {
    wsi_ = nullptr;
    // lws may already have reported CONNECTION_ERROR (and scheduled a retry) from inside the call.
    if (retry_timer_ == NO_TIMER) {
      ++stats_.connect_failures;
      schedule_retry_("connect failed");
    }
  }
}

void PulsarClient::schedule_retry_(const char* why) {
  if (stopping_) return;
  if (retry_timer_ != NO_TIMER) return;
  uint64_t base = static_cast<uint64_t>(options_.reconnect_min_ms) << std::min(attempt_, MAX_BACKOFF_SHIFT);
  base = std::min<uint64_t>(base, options_.reconnect_max_ms);
  std::uniform_real_distribution<double> jitter(1.0 - JITTER, 1.0 + JITTER);
  auto delay = static_cast<uint32_t>(static_cast<double>(base) * jitter(rng_));
  ++attempt_;
  stats_.last_retry_delay_ms = delay;
  state_ = PulsarState::WAITING_RETRY;
  T2M_LOGW(PULSAR_CLIENT_TAG, "connection to %s failed or lost (%s); retrying in %u ms", host_.c_str(), why,
           delay);
  retry_timer_ = timers_.start(delay, 0, [this] { connect_(); });
}

void PulsarClient::on_established_(lws* wsi) {
  wsi_ = wsi;
  state_ = PulsarState::CONNECTED;
  ++stats_.connects;
  connected_at_ms_ = timers_.now_ms();
  received_since_connect_ = false;
  auth_reported_ = false;
  T2M_LOGI(PULSAR_CLIENT_TAG, "connected to %s, consuming %s", host_.c_str(), options_.env.c_str());
  sink_.on_push_channel(push::CHANNEL_PULSAR, true);
}

void PulsarClient::on_receive_(lws* wsi, const void* in, size_t len) {
  if (lws_is_first_fragment(wsi)) {
    rx_.clear();
    rx_oversize_ = false;
  }
  if (!rx_oversize_) {
    if (rx_.size() + len > options_.max_message_bytes) {
      rx_oversize_ = true;
      rx_.clear();
      rx_.shrink_to_fit();
    } else {
      rx_.append(static_cast<const char*>(in), len);
    }
  }
  if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0) return;
  if (rx_oversize_) {
    ++stats_.oversize;
    T2M_LOGW(PULSAR_CLIENT_TAG,
             "message larger than %zu bytes dropped (it will be redelivered and dropped again)",
             options_.max_message_bytes);
    rx_oversize_ = false;
    return;
  }
  received_since_connect_ = true;
  std::string id = processor_.handle_pulsar_frame(rx_, key_);
  rx_.clear();
  if (id.empty()) return;
  if (acks_.size() >= MAX_PENDING_ACKS) acks_.pop_front();  // unacked ones are redelivered and deduped
  acks_.push_back(push::pulsar_ack(id));
  lws_callback_on_writable(wsi);
}

int PulsarClient::on_writeable_(lws* wsi) {
  if (acks_.empty()) return 0;
  std::string& ack = acks_.front();
  std::vector<unsigned char> buf(LWS_PRE + ack.size());
  std::memcpy(buf.data() + LWS_PRE, ack.data(), ack.size());
  int n = lws_write(wsi, buf.data() + LWS_PRE, ack.size(), LWS_WRITE_TEXT);
  if (n < static_cast<int>(ack.size())) return -1;  // the socket is broken: close, reconnect, redeliver
  acks_.pop_front();
  ++stats_.acks_sent;
  if (!acks_.empty()) lws_callback_on_writable(wsi);
  return 0;
}

void PulsarClient::on_connection_error_(lws* wsi, const char* why) {
  unsigned int http = wsi ? lws_http_client_http_response(wsi) : 0;
  wsi_ = nullptr;
  acks_.clear();
  ++stats_.connect_failures;
  if (stopping_) return;
  std::string reason = why ? why : "unknown error";
  if (http == HTTP_UNAUTHORIZED || http == HTTP_FORBIDDEN) {
    ++stats_.auth_failures;
    bool first = !auth_reported_;
    auth_reported_ = true;
    Error e{
        "pulsar.auth",
        strformat("Tuya's message service refused the credentials (HTTP %u): check access_id/access_secret, "
                  "that the project's Message Service is enabled, and the data-center URL",
                  http)};
    // Once per run of refusals: the retries continue quietly at the longest back-off.
    if (first) {
      T2M_LOGE(PULSAR_CLIENT_TAG, "%s", e.message.c_str());
      sink_.on_push_error(push::CHANNEL_PULSAR, e);
    }
    // Retrying will not fix credentials quickly: wait the longest back-off.
    attempt_ = MAX_BACKOFF_SHIFT;
    reason = strformat("HTTP %u", http);
  } else if (http != 0) {
    reason += strformat(" (HTTP %u)", http);
  }
  schedule_retry_(reason.c_str());
}

void PulsarClient::on_closed_() {
  bool was_connected = state_ == PulsarState::CONNECTED;
  wsi_ = nullptr;
  acks_.clear();
  if (stopping_) return;
  if (was_connected) {
    ++stats_.disconnects;
    if (received_since_connect_ || timers_.now_ms() - connected_at_ms_ >= STABLE_CONNECTION_MS) attempt_ = 0;
    sink_.on_push_channel(push::CHANNEL_PULSAR, false);
  }
  schedule_retry_("connection closed");
}

int PulsarClient::append_headers_(void* in, size_t len) {
  auto** p = static_cast<unsigned char**>(in);
  unsigned char* end = *p + len;
  auto add = [&](const char* name, const std::string& value) {
    return lws_add_http_header_by_name(wsi_, reinterpret_cast<const unsigned char*>(name),
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), p, end);
  };
  if (add("username:", options_.access_id) || add("password:", password_)) return -1;
  return 0;
}

int PulsarCallbacks::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  // Only connection reasons carry `user` (ci.userdata); anything else must not touch the client, which
  // may already be gone while lws finishes closing (see LwsContext).
  auto* self = static_cast<PulsarClient*>(user);
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
    case LWS_CALLBACK_CLIENT_RECEIVE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
      break;
    default:
      return 0;  // e.g. WSI_DESTROY, which can arrive after the client is gone: never touch `user`
  }
  // Lets stop() know it runs inside lws (from a PushSink callback) and must defer the context release.
  struct Depth {
    PulsarClient* c;
    explicit Depth(PulsarClient* p) : c(p) {
      if (c) ++c->callback_depth_;
    }
    ~Depth() {
      if (c) --c->callback_depth_;
    }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
  } depth(self);
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
      if (!self) return -1;
      self->wsi_ = wsi;
      return self->append_headers_(in, len);
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (self) self->on_established_(wsi);
      return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (self) self->on_receive_(wsi, in, len);
      return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      return self ? self->on_writeable_(wsi) : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if (self) self->on_connection_error_(wsi, static_cast<const char*>(in));
      return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (self) self->on_closed_();
      return 0;
    default:
      return 0;
  }
}

}  // namespace t2m::cloud

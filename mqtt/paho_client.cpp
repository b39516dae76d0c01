// PahoClient at run time: Paho callbacks posted to the loop, connect and back-off, publish, subscribe,
// disconnect. Checking the options and building Paho's from them is paho_options.cpp.
#include "mqtt/paho_client.h"

#include <mqtt/async_client.h>

#include <algorithm>
#include <map>
#include <optional>

#include "common/log.h"
#include "common/uv_handle.h"
#include "mqtt/paho_options.h"
#include "mqtt/tcp_nodelay.h"
#include "mqtt/tls_probe.h"

namespace t2m::mqtt {
namespace {

constexpr const char* PAHO_CLIENT_TAG = "mqtt.paho";
// The guard fires only if Paho never answers the disconnect.
constexpr int DISCONNECT_GUARD_MARGIN_MS = 1000;
// A non-retained QoS 1/2 message that was in flight when the connection died is failed by Paho and
// not resent (the broker has no session for us after a restart); we queue it again, at most this
// many times. Retained ones are not resent: an old state could overwrite a newer one, and the
// Publisher republishes the latest retained state after every reconnect anyway.
constexpr uintptr_t MAX_RESENDS = 2;
// Floor for reconnect_min_ms: a zero delay would spin against a dead broker.
constexpr int MIN_RECONNECT_DELAY_MS = 10;

}  // namespace

struct PahoClient::Impl {
  // Posted work reaches the client through this: the loop clears `impl` in the destructor, so work
  // still queued for a destroyed client finds nullptr. Only the loop thread reads or writes `impl`.
  struct Life {
    Impl* impl = nullptr;
  };

  // Paho completion callbacks (Paho threads): copy what is needed and post; nothing else.
  class Listener final : public ::mqtt::iaction_listener {
   public:
    enum class Kind { CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, WILL };
    Listener(LoopExecutor& ex, std::shared_ptr<Life> life, Kind kind)
        : ex_(ex), life_(std::move(life)), kind_(kind) {}

    void on_success(const ::mqtt::token& tok) override {
      switch (kind_) {
        case Kind::CONNECT: {
          bool session_present = false;
          try {
            session_present = tok.get_connect_response().is_session_present();
          } catch (...) {
          }
          ex_.post([life = life_, session_present] {
            if (life->impl) life->impl->on_connect_success_(session_present);
          });
          break;
        }
        case Kind::DISCONNECT:
          ex_.post([life = life_] {
            if (life->impl) life->impl->finish_disconnect_();
          });
          break;
        case Kind::WILL:
          ex_.post([life = life_] {
            if (life->impl) life->impl->send_disconnect_();
          });
          break;
        case Kind::PUBLISH:  // the hot path: success costs nothing
        case Kind::SUBSCRIBE:
        case Kind::UNSUBSCRIBE:
          break;
      }
    }

    void on_failure(const ::mqtt::token& tok) override {
      int rc = tok.get_return_code();
      if (kind_ == Kind::PUBLISH) {
        // The attempt count travels as the token's user context (an integer, never dereferenced).
        auto attempt = reinterpret_cast<uintptr_t>(tok.get_user_context());
        std::optional<Message> resend;
        if (const auto* dt = dynamic_cast<const ::mqtt::delivery_token*>(&tok)) {
          auto m = dt->get_message();
          if (m && m->get_qos() > 0 && !m->is_retained() && attempt < MAX_RESENDS)
            resend = Message{m->get_topic(), m->get_payload_str(), static_cast<Qos>(m->get_qos()), false};
        }
        ex_.post([life = life_, rc, attempt, resend = std::move(resend)]() mutable {
          if (life->impl) life->impl->on_publish_failure_(rc, std::move(resend), attempt);
        });
        return;
      }
      std::string topic;
      if (kind_ == Kind::SUBSCRIBE || kind_ == Kind::UNSUBSCRIBE) {
        try {
          auto topics = tok.get_topics();
          if (topics && topics->size() > 0) topic = (*topics)[0];
        } catch (...) {
        }
      }
      ex_.post([life = life_, kind = kind_, rc, topic = std::move(topic)] {
        if (life->impl) life->impl->on_action_failure_(kind, rc, topic);
      });
    }

   private:
    LoopExecutor& ex_;
    std::shared_ptr<Life> life_;
    Kind kind_;
  };

  struct ProbeWork {
    uv_work_t req{};
    std::string host;
    uint16_t port = 0;
    TlsOptions tls;
    TlsProbeResult result;
    std::shared_ptr<Life> life;
  };

  explicit Impl(LoopExecutor& executor)
      : ex(executor),
        life(std::make_shared<Life>()),
        connect_listener(ex, life, Listener::Kind::CONNECT),
        publish_listener(ex, life, Listener::Kind::PUBLISH),
        subscribe_listener(ex, life, Listener::Kind::SUBSCRIBE),
        unsubscribe_listener(ex, life, Listener::Kind::UNSUBSCRIBE),
        disconnect_listener(ex, life, Listener::Kind::DISCONNECT),
        will_listener(ex, life, Listener::Kind::WILL) {
    life->impl = this;
    retry_timer.init([&](uv_timer_t* t) { return uv_timer_init(ex.loop(), t); });
    retry_timer->data = this;
    guard_timer.init([&](uv_timer_t* t) { return uv_timer_init(ex.loop(), t); });
    guard_timer->data = this;
  }

  ~Impl() {
    life->impl = nullptr;
    if (cli) {
      try {
        cli->disable_callbacks();
      } catch (const ::mqtt::exception&) {
      }
      cli.reset();
    }
  }

  // ---- loop thread ----

  Status start(const ConnectOptions& options, ClientHandlers h) {
    if (cli) return fail("mqtt_already_started", "connect() was already called on this client");
    opts = options;
    handlers = std::move(h);
    auto endpoint = paho::check_options(opts);
    if (!endpoint) return fail(endpoint.error());
    uri = endpoint->uri;
    host = endpoint->host;
    port = endpoint->port;
    tls = endpoint->tls;
    if (!opts.password.empty()) log_register_secret(opts.password);
    if (opts.tls && !opts.tls->key_password.empty()) log_register_secret(opts.tls->key_password);
    if (opts.tls) {
      if (auto st = paho::check_tls_files(*opts.tls); !st) return st;
    }
    min_delay_ms = std::max(opts.reconnect_min_ms, MIN_RECONNECT_DELAY_MS);
    max_delay_ms = std::max(opts.reconnect_max_ms, min_delay_ms);
    delay_ms = min_delay_ms;

    try {
      cli = std::make_unique<::mqtt::async_client>(uri, opts.client_id, paho::create_options(opts), nullptr);

      LoopExecutor* exp = &ex;
      std::shared_ptr<Life> l = life;
      cli->set_message_callback([exp, l](::mqtt::const_message_ptr m) {
        if (!m) return;
        Message msg{m->get_topic(), m->get_payload_str(), static_cast<Qos>(m->get_qos()), m->is_retained()};
        exp->post([l, msg = std::move(msg)]() mutable {
          if (l->impl) l->impl->on_message_(std::move(msg));
        });
      });
      cli->set_connection_lost_handler([exp, l](const std::string& cause) {
        exp->post([l, cause] {
          if (l->impl) l->impl->on_connection_lost_(cause);
        });
      });

      paho::fill_connect_options(opts, tls, CONNECT_TIMEOUT_S, conn_opts);
    } catch (const ::mqtt::exception& e) {
      cli.reset();
      return fail("mqtt_config_invalid", "cannot create the MQTT client for " + uri + ": " + e.get_message());
    }
    T2M_LOGI(PAHO_CLIENT_TAG, "connecting to %s as '%s'%s", uri.c_str(), opts.client_id.c_str(),
             tls ? " (TLS)" : "");
    attempt_connect_();
    return {};
  }

  void attempt_connect_() {
    if (!cli || stopping || connected || connecting) return;
    connecting = true;
    try {
      cli->connect(conn_opts, nullptr, connect_listener);
    } catch (const ::mqtt::exception& e) {
      // Report from the loop, not from inside whatever called us.
      int rc = e.get_return_code();
      ex.post([l = life, rc] {
        if (l->impl) l->impl->on_connect_failure_(rc);
      });
    }
  }

  void schedule_retry_() {
    if (stopping) return;
    uv_timer_start(
        retry_timer.get(),
        [](uv_timer_t* t) {
          if (t->data) static_cast<Impl*>(t->data)->attempt_connect_();
        },
        static_cast<uint64_t>(delay_ms), 0);
    delay_ms = std::min(delay_ms * 2, max_delay_ms);
  }

  void on_connect_success_(bool session_present) {
    connecting = false;
    if (stopping) {
      // disconnect() ran while this connect was in flight.
      try {
        cli->disconnect(0);
      } catch (const ::mqtt::exception&) {
      }
      return;
    }
    connected = true;
    ++stats.connects;
    delay_ms = min_delay_ms;
    error_reported = false;
    failures_in_row = 0;
    T2M_LOGI(PAHO_CLIENT_TAG, "connected to %s%s", uri.c_str(), session_present ? " (session present)" : "");
    set_nodelay_on_tcp_sockets();
    for (const auto& [filter, qos] : subscriptions) (void)send_subscribe_(filter, qos);
    if (auto h = handlers.on_connected) h(session_present);
  }

  void on_connect_failure_(int rc) {
    connecting = false;
    ++stats.connect_failures;
    ++failures_in_row;
    if (stopping) return;
    uint64_t next = static_cast<uint64_t>(delay_ms);
    schedule_retry_();
    if (rc >= paho::CONNACK_BAD_PROTOCOL && rc <= paho::CONNACK_NOT_AUTHORIZED) {
      std::string msg = "MQTT broker " + uri + " refused the connection: " + paho::connack_text(rc);
      if (!opts.username.empty()) msg += " (user '" + opts.username + "')";
      if (rc == paho::CONNACK_SERVER_UNAVAILABLE) {
        T2M_LOGW(PAHO_CLIENT_TAG, "%s; retrying in %llu ms", msg.c_str(),
                 static_cast<unsigned long long>(next));
        return;
      }
      report_error_(rc == paho::CONNACK_BAD_CREDENTIALS || rc == paho::CONNACK_NOT_AUTHORIZED
                        ? "mqtt_auth_refused"
                        : "mqtt_connect_refused",
                    msg);
      return;
    }
    if (failures_in_row == 1)
      T2M_LOGW(PAHO_CLIENT_TAG, "cannot connect to %s (rc %d); retrying with back-off up to %d ms",
               uri.c_str(), rc, max_delay_ms);
    else
      T2M_LOGD(PAHO_CLIENT_TAG, "cannot connect to %s (rc %d); retrying in %llu ms", uri.c_str(), rc,
               static_cast<unsigned long long>(next));
    if (tls && !error_reported && !probe_running) start_probe_();
  }

  void report_error_(const char* code, const std::string& message) {
    if (error_reported) {
      T2M_LOGD(PAHO_CLIENT_TAG, "%s", message.c_str());
      return;
    }
    error_reported = true;
    T2M_LOGE(PAHO_CLIENT_TAG, "%s", message.c_str());
    if (auto h = handlers.on_error) h(Error{code, message});
  }

  void start_probe_() {
    auto work = std::make_unique<ProbeWork>();
    work->host = host;
    work->port = port;
    work->tls = opts.tls.value_or(TlsOptions{});
    work->life = life;
    work->req.data = work.get();
    int rc = uv_queue_work(
        ex.loop(), &work->req,
        [](uv_work_t* req) {
          auto* w = static_cast<ProbeWork*>(req->data);
          w->result = probe_tls(w->host, w->port, w->tls);
        },
        [](uv_work_t* req, int) {
          std::unique_ptr<ProbeWork> w(static_cast<ProbeWork*>(req->data));
          if (w->life->impl) w->life->impl->on_probe_done_(w->result);
        });
    if (rc == 0) {
      probe_running = true;
      (void)work.release();  // owned by the after-work callback
    }
  }

  void on_probe_done_(const TlsProbeResult& r) {
    probe_running = false;
    if (connected || stopping) return;
    switch (r.outcome) {
      case TlsProbeResult::Outcome::TLS_FAILED:
        report_error_("mqtt_tls_failed",
                      (r.local ? "TLS setup for " : "TLS handshake with ") + uri + " failed: " + r.reason);
        break;
      case TlsProbeResult::Outcome::TCP_FAILED:
        T2M_LOGD(PAHO_CLIENT_TAG, "broker %s unreachable: %s", uri.c_str(), r.reason.c_str());
        break;
      case TlsProbeResult::Outcome::TLS_OK:
        T2M_LOGD(PAHO_CLIENT_TAG, "TLS handshake with %s works; the connect failed for another reason",
                 uri.c_str());
        break;
    }
  }

  void on_connection_lost_(const std::string& cause) {
    if (!connected) return;
    connected = false;
    ++stats.connection_losses;
    std::string why = cause.empty() ? std::string("connection lost") : cause;
    if (!stopping) {
      delay_ms = min_delay_ms;
      schedule_retry_();
      T2M_LOGW(PAHO_CLIENT_TAG, "lost the connection to %s (%s); reconnecting", uri.c_str(), why.c_str());
    }
    if (auto h = handlers.on_connection_lost) h(why);
  }

  void on_message_(Message m) {
    ++stats.messages_received;
    if (stopping) return;
    if (auto h = handlers.on_message) h(std::move(m));
  }

  void on_action_failure_(Listener::Kind kind, int rc, const std::string& topic) {
    switch (kind) {
      case Listener::Kind::CONNECT:
        on_connect_failure_(rc);
        break;
      case Listener::Kind::PUBLISH:  // handled by on_publish_failure_
        break;
      case Listener::Kind::SUBSCRIBE:
        T2M_LOGW(PAHO_CLIENT_TAG, "subscribe to '%s' failed (rc %d)", topic.c_str(), rc);
        break;
      case Listener::Kind::UNSUBSCRIBE:
        T2M_LOGD(PAHO_CLIENT_TAG, "unsubscribe from '%s' failed (rc %d)", topic.c_str(), rc);
        break;
      case Listener::Kind::DISCONNECT:
        finish_disconnect_();
        break;
      case Listener::Kind::WILL:
        send_disconnect_();
        break;
    }
  }

  void on_publish_failure_(int rc, std::optional<Message> resend, uintptr_t attempt) {
    ++stats.publish_failures;
    if (resend && disconnect_state == DisconnectState::NONE) {
      T2M_LOGD(PAHO_CLIENT_TAG, "publish to %s failed in flight (rc %d); queued again", resend->topic.c_str(),
               rc);
      if (send_(std::move(*resend), attempt + 1)) ++stats.resent;
      return;
    }
    T2M_LOGD(PAHO_CLIENT_TAG, "a publish failed (rc %d)", rc);
  }

  Status publish(Message m) {
    if (!cli) return fail("mqtt_not_started", "publish before connect()");
    // Nothing would ever send it: Paho would keep it in the offline buffer forever.
    if (disconnect_state == DisconnectState::DONE)
      return fail("mqtt_disconnected", "publish after disconnect()");
    if (m.topic.empty() || m.topic.find_first_of("+#") != std::string::npos) {
      ++stats.publish_failures;
      return fail("mqtt_topic_invalid", "cannot publish to '" + m.topic + "'");
    }
    if (m.qos == Qos::AT_MOST_ONCE && !connected) {
      ++stats.dropped_offline;
      return {};
    }
    return send_(std::move(m), 0);
  }

  Status send_(Message m, uintptr_t attempt) {
    try {
      auto msg = ::mqtt::message::create(std::move(m.topic), std::move(m.payload), static_cast<int>(m.qos),
                                         m.retained);
      cli->publish(msg, reinterpret_cast<void*>(attempt), publish_listener);
      ++stats.publishes;
      return {};
    } catch (const ::mqtt::exception& e) {
      ++stats.publish_failures;
      int rc = e.get_return_code();
      if (rc == MQTTASYNC_MAX_BUFFERED_MESSAGES || rc == MQTTASYNC_MAX_BUFFERED)
        return fail("mqtt_buffer_full", "MQTT offline buffer full (" + std::to_string(opts.max_buffered) +
                                            " messages); publish dropped");
      return fail("mqtt_publish_failed", "publish failed: " + e.get_message());
    }
  }

  Status send_subscribe_(const std::string& filter, Qos qos) {
    try {
      cli->subscribe(filter, static_cast<int>(qos), nullptr, subscribe_listener);
      return {};
    } catch (const ::mqtt::exception& e) {
      T2M_LOGW(PAHO_CLIENT_TAG, "subscribe to '%s' failed: %s", filter.c_str(), e.get_message().c_str());
      return fail("mqtt_subscribe_failed", "subscribe to '" + filter + "' failed: " + e.get_message());
    }
  }

  Status subscribe(const std::string& filter, Qos qos) {
    if (!cli) return fail("mqtt_not_started", "subscribe before connect()");
    if (filter.empty()) return fail("mqtt_topic_invalid", "empty subscription filter");
    subscriptions[filter] = qos;
    if (!connected) return {};  // sent on (re)connect
    return send_subscribe_(filter, qos);
  }

  Status unsubscribe(const std::string& filter) {
    if (!cli) return fail("mqtt_not_started", "unsubscribe before connect()");
    subscriptions.erase(filter);
    if (!connected) return {};
    try {
      cli->unsubscribe(filter, nullptr, unsubscribe_listener);
      return {};
    } catch (const ::mqtt::exception& e) {
      return fail("mqtt_unsubscribe_failed", "unsubscribe from '" + filter + "' failed: " + e.get_message());
    }
  }

  void disconnect(std::function<void()> done) {
    if (done) waiters.push_back(std::move(done));
    if (disconnect_state == DisconnectState::DONE) {
      flush_waiters_();
      return;
    }
    if (disconnect_state == DisconnectState::IN_PROGRESS) return;
    disconnect_state = DisconnectState::IN_PROGRESS;
    stopping = true;
    uv_timer_stop(retry_timer.get());
    if (!cli || !connected) {
      finish_disconnect_();
      return;
    }
    uv_timer_start(
        guard_timer.get(),
        [](uv_timer_t* t) {
          if (t->data) static_cast<Impl*>(t->data)->finish_disconnect_();
        },
        DISCONNECT_TIMEOUT_MS + DISCONNECT_GUARD_MARGIN_MS, 0);
    if (opts.will && opts.publish_will_on_disconnect) {
      // Disconnect once the broker has the will-state: Paho's disconnect timeout would otherwise wait
      // for it with a coarse (about a second) polling step.
      try {
        auto msg = ::mqtt::message::create(opts.will->topic, opts.will->payload,
                                           static_cast<int>(opts.will->qos), opts.will->retained);
        cli->publish(msg, nullptr, will_listener);
        ++stats.publishes;
        return;
      } catch (const ::mqtt::exception&) {
        ++stats.publish_failures;
      }
    }
    send_disconnect_();
  }

  void send_disconnect_() {
    if (disconnect_state != DisconnectState::IN_PROGRESS || disconnect_sent) return;
    disconnect_sent = true;
    try {
      cli->disconnect(DISCONNECT_TIMEOUT_MS, nullptr, disconnect_listener);
    } catch (const ::mqtt::exception&) {
      finish_disconnect_();
    }
  }

  void finish_disconnect_() {
    if (disconnect_state == DisconnectState::DONE) return;
    disconnect_state = DisconnectState::DONE;
    uv_timer_stop(guard_timer.get());
    bool was_connected = connected;
    connected = false;
    if (cli && !disconnect_sent && cli->is_connected()) {
      // The guard fired before the will-state completed: drop the connection now.
      disconnect_sent = true;
      try {
        cli->disconnect(0);
      } catch (const ::mqtt::exception&) {
      }
    }
    if (cli)
      T2M_LOGI(PAHO_CLIENT_TAG, "disconnected from %s%s", uri.c_str(),
               was_connected ? "" : " (was not connected)");
    flush_waiters_();
  }

  void flush_waiters_() {
    // `done` runs from the loop's queue, never inside the caller's disconnect().
    for (auto& w : waiters) ex.post(std::move(w));
    waiters.clear();
  }

  enum class DisconnectState { NONE, IN_PROGRESS, DONE };

  LoopExecutor& ex;
  std::shared_ptr<Life> life;
  ConnectOptions opts;
  ClientHandlers handlers;
  std::string uri;
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  bool connected = false;
  bool connecting = false;
  bool stopping = false;
  bool error_reported = false;
  bool probe_running = false;
  int failures_in_row = 0;
  int min_delay_ms = 0;
  int max_delay_ms = 0;
  int delay_ms = 0;
  DisconnectState disconnect_state = DisconnectState::NONE;
  bool disconnect_sent = false;
  std::vector<std::function<void()>> waiters;
  std::map<std::string, Qos> subscriptions;
  Stats stats;
  UvHandle<uv_timer_t> retry_timer;
  UvHandle<uv_timer_t> guard_timer;
  // Paho keeps raw references to the listeners in pending tokens: they are declared before `cli`,
  // so they are destroyed after it.
  Listener connect_listener;
  Listener publish_listener;
  Listener subscribe_listener;
  Listener unsubscribe_listener;
  Listener disconnect_listener;
  Listener will_listener;
  ::mqtt::connect_options conn_opts;
  std::unique_ptr<::mqtt::async_client> cli;
};

PahoClient::PahoClient(LoopExecutor& executor) : impl_(std::make_unique<Impl>(executor)) {}
PahoClient::~PahoClient() = default;

Status PahoClient::connect(const ConnectOptions& options, ClientHandlers handlers) {
  return impl_->start(options, std::move(handlers));
}
Status PahoClient::publish(Message message) {
  return impl_->publish(std::move(message));
}
Status PahoClient::subscribe(const std::string& filter, Qos qos) {
  return impl_->subscribe(filter, qos);
}
Status PahoClient::unsubscribe(const std::string& filter) {
  return impl_->unsubscribe(filter);
}
bool PahoClient::connected() const {
  return impl_->connected;
}
void PahoClient::disconnect(std::function<void()> done) {
  impl_->disconnect(std::move(done));
}
size_t PahoClient::max_buffered() const {
  return impl_->opts.max_buffered;
}
const PahoClient::Stats& PahoClient::stats() const {
  return impl_->stats;
}

}  // namespace t2m::mqtt

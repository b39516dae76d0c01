// ConnectOptions -> Paho's create/connect options, after checking them (paho_options.h).
#include "mqtt/paho_options.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "mqtt/tls_probe.h"

namespace t2m::mqtt::paho {
namespace {

constexpr int MQTT_VERSION = MQTTVERSION_3_1_1;
constexpr std::string_view NO_KEY_PASSWORD = "\x01no-password";
// Aliases accepted in server URIs, rewritten to the schemes Paho knows.
constexpr std::string_view MQTT_ALIAS = "mqtt://";
constexpr std::string_view MQTTS_ALIAS = "mqtts://";

std::string normalise_uri(const std::string& uri) {
  if (uri.rfind(MQTT_ALIAS, 0) == 0) return "tcp://" + uri.substr(MQTT_ALIAS.size());
  if (uri.rfind(MQTTS_ALIAS, 0) == 0) return "ssl://" + uri.substr(MQTTS_ALIAS.size());
  return uri;
}

bool is_tls_scheme(const std::string& scheme) {
  return scheme == "ssl" || scheme == "wss";
}

Status check_readable(const std::string& path, const char* what) {
  if (path.empty()) return {};
  if (::access(path.c_str(), R_OK) != 0)
    return fail("mqtt_tls_file",
                std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno));
  return {};
}

}  // namespace

std::string connack_text(int rc) {
  switch (rc) {
    case CONNACK_BAD_PROTOCOL:
      return "unacceptable protocol version";
    case CONNACK_ID_REJECTED:
      return "client id rejected";
    case CONNACK_SERVER_UNAVAILABLE:
      return "server unavailable";
    case CONNACK_BAD_CREDENTIALS:
      return "bad user name or password";
    case CONNACK_NOT_AUTHORIZED:
      return "not authorized (check user name and password)";
    default:
      return "refused";
  }
}

Result<Endpoint> check_options(const ConnectOptions& opts) {
  Endpoint ep;
  ep.uri = normalise_uri(opts.server_uri);
  std::string scheme;
  if (!split_server_uri(ep.uri, scheme, ep.host, ep.port) ||
      (scheme != "tcp" && scheme != "ssl" && scheme != "ws" && scheme != "wss"))
    return fail("mqtt_config_invalid", "invalid MQTT server URI '" + opts.server_uri +
                                           "' (expected tcp://, ssl://, mqtt:// or mqtts://host:port)");
  ep.tls = is_tls_scheme(scheme);
  if (opts.tls && !ep.tls)
    return fail("mqtt_config_invalid",
                "TLS options need an ssl:// or mqtts:// server URI, not '" + opts.server_uri + "'");
  if (opts.will && (opts.will->topic.empty() || opts.will->topic.find_first_of("+#") != std::string::npos))
    return fail("mqtt_config_invalid", "invalid last-will topic '" + opts.will->topic + "'");
  return ep;
}

Status check_tls_files(const TlsOptions& tls) {
  for (auto st : {check_readable(tls.ca_file, "CA file"), check_readable(tls.cert_file, "client certificate"),
                  check_readable(tls.key_file, "client key")})
    if (!st) return st;
  return {};
}

::mqtt::create_options create_options(const ConnectOptions& opts) {
  ::mqtt::create_options create(MQTT_VERSION, static_cast<int>(opts.max_buffered));
  create.set_send_while_disconnected(true, true);
  return create;
}

void fill_connect_options(const ConnectOptions& opts, bool tls, int connect_timeout_s,
                          ::mqtt::connect_options& conn_opts) {
  conn_opts.set_mqtt_version(MQTT_VERSION);
  conn_opts.set_keep_alive_interval(opts.keep_alive_s);
  conn_opts.set_clean_session(opts.clean_session);
  conn_opts.set_connect_timeout(connect_timeout_s);
  conn_opts.set_automatic_reconnect(false);  // ours, with millisecond back-off
  if (!opts.username.empty()) conn_opts.set_user_name(opts.username);
  if (!opts.password.empty()) conn_opts.set_password(opts.password);
  if (opts.will) {
    conn_opts.set_will(::mqtt::will_options(opts.will->topic, opts.will->payload.data(),
                                            opts.will->payload.size(), static_cast<int>(opts.will->qos),
                                            opts.will->retained));
  }
  if (tls) {
    ::mqtt::ssl_options ssl;
    TlsOptions t = opts.tls.value_or(TlsOptions{});
    if (!t.ca_file.empty()) ssl.set_trust_store(t.ca_file);
    if (!t.cert_file.empty()) ssl.set_key_store(t.cert_file);
    if (!t.key_file.empty()) ssl.set_private_key(t.key_file);
    // Without a password OpenSSL would prompt on the terminal for an encrypted key (blocking a Paho
    // thread); a dummy one makes it fail cleanly instead, and is ignored for a plain key.
    if (!t.key_file.empty() || !t.cert_file.empty())
      ssl.set_private_key_password(t.key_password.empty() ? std::string(NO_KEY_PASSWORD) : t.key_password);
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(t.verify_hostname);
    // No set_error_handler: Paho C++ 1.2 hands the C library a pointer to a temporary copy of
    // ssl_options as the handler's context. Reasons come from probe_tls() instead.
    conn_opts.set_ssl(std::move(ssl));
  }
}

}  // namespace t2m::mqtt::paho

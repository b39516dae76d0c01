// Checking ConnectOptions and building Paho's options from them (mqtt/paho_options.cpp), without a
// broker: the end-to-end behaviour (a refused connect(), TLS against mosquitto) is paho_client_test.cpp.
#include "mqtt/paho_options.h"

#include <doctest/doctest.h>

#include <string>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_paho_options_test {

using t2m::mqtt::ConnectOptions;
using t2m::mqtt::Message;
using t2m::mqtt::Qos;
using t2m::mqtt::TlsOptions;
namespace paho = t2m::mqtt::paho;

namespace {

constexpr int TIMEOUT_S = 7;

ConnectOptions options_for(const std::string& uri) {
  ConnectOptions o;
  o.server_uri = uri;
  return o;
}

std::string error_code(const ConnectOptions& o) {
  auto r = paho::check_options(o);
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}

}  // namespace

TEST_SUITE("mqtt.paho_options") {
  TEST_CASE("server URIs: mqtt:// and mqtts:// are Paho's tcp:// and ssl://, host and port split out") {
    auto plain = paho::check_options(options_for("mqtt://broker.lan:1884"));
    REQUIRE(plain.ok());
    CHECK(plain->uri == "tcp://broker.lan:1884");
    CHECK(plain->host == "broker.lan");
    CHECK(plain->port == 1884);
    CHECK_FALSE(plain->tls);
    auto secure = paho::check_options(options_for("mqtts://127.0.0.1:8884"));
    REQUIRE(secure.ok());
    CHECK(secure->uri == "ssl://127.0.0.1:8884");
    CHECK(secure->tls);
    CHECK(paho::check_options(options_for("ws://127.0.0.1:9001"))->tls == false);
    CHECK(paho::check_options(options_for("wss://127.0.0.1:9001"))->tls);
    CHECK(paho::check_options(options_for("tcp://127.0.0.1:1883"))->uri == "tcp://127.0.0.1:1883");
  }

  TEST_CASE("invalid options: unknown scheme, TLS without a TLS scheme, a bad will topic") {
    CHECK(error_code(options_for("http://127.0.0.1:1883")) == "mqtt_config_invalid");
    CHECK(error_code(options_for("127.0.0.1:1883")) == "mqtt_config_invalid");
    auto tls_on_tcp = options_for("tcp://127.0.0.1:1883");
    tls_on_tcp.tls = TlsOptions{};
    CHECK(error_code(tls_on_tcp) == "mqtt_config_invalid");
    auto will = options_for("tcp://127.0.0.1:1883");
    will.will = Message{"", "offline"};
    CHECK(error_code(will) == "mqtt_config_invalid");
    will.will = Message{"t2m/+/state", "offline"};
    CHECK(error_code(will) == "mqtt_config_invalid");
    auto bad = paho::check_options(options_for("http://127.0.0.1:1883"));
    CHECK(bad.error().message.find("http://127.0.0.1:1883") != std::string::npos);
  }

  TEST_CASE("TLS files: empty paths are fine, a missing file is named in the error") {
    CHECK(paho::check_tls_files(TlsOptions{}).ok());
    const std::string readable = std::string(T2M_SOURCE_DIR) + "/CMakeLists.txt";
    CHECK(paho::check_tls_files(TlsOptions{readable, readable, readable, "", true}).ok());
    auto st = paho::check_tls_files(TlsOptions{readable, "/nonexistent/t2m-client.crt", "", "", true});
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == "mqtt_tls_file");
    CHECK(st.error().message.find("client certificate /nonexistent/t2m-client.crt") != std::string::npos);
  }

  TEST_CASE("create options: the offline buffer bound, sending while disconnected") {
    ConnectOptions o = options_for("tcp://127.0.0.1:1883");
    o.max_buffered = 123;
    const auto c = paho::create_options(o);
    CHECK(c.get_max_buffered_messages() == 123);
    CHECK(c.get_send_while_disconnected());
  }

  TEST_CASE("connect options: keep-alive, session, timeout, credentials, will; no Paho reconnect") {
    ConnectOptions o = options_for("tcp://127.0.0.1:1883");
    o.keep_alive_s = 42;
    o.clean_session = false;
    o.username = "user";
    o.password = "secret";
    o.will = Message{"t2m/bridge/state", "offline", Qos::AT_LEAST_ONCE, true};
    ::mqtt::connect_options c;
    paho::fill_connect_options(o, false, TIMEOUT_S, c);
    CHECK(c.get_mqtt_version() == MQTTVERSION_3_1_1);
    CHECK(c.get_keep_alive_interval().count() == 42);
    CHECK_FALSE(c.is_clean_session());
    CHECK(c.get_connect_timeout().count() == TIMEOUT_S);
    CHECK_FALSE(c.get_automatic_reconnect());
    CHECK(c.get_user_name() == "user");
    CHECK(c.get_password_str() == "secret");
    CHECK(c.get_will_options().get_topic() == "t2m/bridge/state");
    CHECK(c.get_will_options().get_payload_str() == "offline");
    CHECK(c.get_will_options().get_qos() == 1);
    CHECK(c.get_will_options().is_retained());
    ::mqtt::connect_options anonymous;
    paho::fill_connect_options(options_for("tcp://127.0.0.1:1883"), false, TIMEOUT_S, anonymous);
    CHECK(anonymous.get_user_name().empty());
    CHECK(anonymous.get_will_options().get_topic().empty());
  }

  TEST_CASE("TLS connect options: stores, hostname check, and a dummy key password instead of a prompt") {
    ConnectOptions o = options_for("ssl://127.0.0.1:8883");
    o.tls = TlsOptions{"ca.crt", "client.crt", "client.key", "", false};
    ::mqtt::connect_options c;
    paho::fill_connect_options(o, true, TIMEOUT_S, c);
    const auto& ssl = c.get_ssl_options();
    CHECK(ssl.get_trust_store() == "ca.crt");
    CHECK(ssl.get_key_store() == "client.crt");
    CHECK(ssl.get_private_key() == "client.key");
    CHECK(ssl.get_enable_server_cert_auth());
    CHECK_FALSE(ssl.get_verify());
    // Never empty with a key: OpenSSL would ask on the terminal for an encrypted one.
    CHECK_FALSE(ssl.get_private_key_password().empty());
    o.tls->key_password = "pass phrase";
    ::mqtt::connect_options given;
    paho::fill_connect_options(o, true, TIMEOUT_S, given);
    CHECK(given.get_ssl_options().get_private_key_password() == "pass phrase");
    // Server authentication only: no key, so no password either.
    o.tls = TlsOptions{"ca.crt", "", "", "", true};
    ::mqtt::connect_options server_only;
    paho::fill_connect_options(o, true, TIMEOUT_S, server_only);
    CHECK(server_only.get_ssl_options().get_private_key_password().empty());
    CHECK(server_only.get_ssl_options().get_verify());
  }

  TEST_CASE("refused connects in words") {
    CHECK(paho::connack_text(paho::CONNACK_BAD_PROTOCOL) == "unacceptable protocol version");
    CHECK(paho::connack_text(paho::CONNACK_ID_REJECTED) == "client id rejected");
    CHECK(paho::connack_text(paho::CONNACK_SERVER_UNAVAILABLE) == "server unavailable");
    CHECK(paho::connack_text(paho::CONNACK_BAD_CREDENTIALS) == "bad user name or password");
    CHECK(paho::connack_text(paho::CONNACK_NOT_AUTHORIZED) ==
          "not authorized (check user name and password)");
    CHECK(paho::connack_text(-1) == "refused");
  }
}

}  // namespace t2m_paho_options_test

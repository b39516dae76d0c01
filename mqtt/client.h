// The MQTT transport seen by the rest of the gateway (ESPHome's MQTTBackend): an abstract client whose
// callbacks always run on the loop thread. PahoClient implements it for real; FakeMqttClient in tests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace t2m::mqtt {

enum class Qos : int { AT_MOST_ONCE = 0, AT_LEAST_ONCE = 1, EXACTLY_ONCE = 2 };

struct Message {
  std::string topic;
  std::string payload;
  Qos qos = Qos::AT_LEAST_ONCE;
  bool retained = false;
};

struct TlsOptions {
  std::string ca_file;       // CA bundle that signed the broker's certificate
  std::string cert_file;     // client certificate (mutual TLS), optional
  std::string key_file;      // client key, optional
  std::string key_password;  // secret: registered with the log scrubber
  bool verify_hostname = true;
};

struct ConnectOptions {
  std::string server_uri = "tcp://127.0.0.1:1883";  // tcp://, ssl://, mqtt://, mqtts://
  std::string client_id = "tuya2mqtt";
  std::string username;
  std::string password;  // secret
  std::optional<TlsOptions> tls;
  std::optional<Message> will;  // last will, e.g. <base>/bridge/state offline (retained)
  int keep_alive_s = 30;
  bool clean_session = true;
  int reconnect_min_ms = 500;
  int reconnect_max_ms = 30000;
  // Added by the PahoClient work (additive): the offline buffer bound behind max_buffered(), and
  // whether disconnect() publishes `will` by hand first (a clean disconnect never fires the LWT).
  size_t max_buffered = 10000;
  bool publish_will_on_disconnect = true;
};

struct ClientHandlers {
  // Every (re)connection: subscribe again, republish retained state and availability.
  std::function<void(bool session_present)> on_connected;
  std::function<void(const std::string& cause)> on_connection_lost;
  std::function<void(Message)> on_message;
  // A first connection that failed for a reason retrying will not fix (bad certificate, refused
  // credentials): a clear message a person can act on.
  std::function<void(const Error&)> on_error;
};

class Client {
 public:
  virtual ~Client() = default;
  // Never blocks. Connection outcome is reported through the handlers.
  virtual Status connect(const ConnectOptions& options, ClientHandlers handlers) = 0;
  // Never blocks. While disconnected, QoS 1/2 publishes are queued and sent on reconnect
  // (bounded by max_buffered(); past it the oldest QoS 0 go first, then publish fails).
  virtual Status publish(Message message) = 0;
  virtual Status subscribe(const std::string& filter, Qos qos) = 0;
  virtual Status unsubscribe(const std::string& filter) = 0;
  virtual bool connected() const = 0;
  // Publishes the will-state by hand if wanted, then disconnects; safe to call more than once.
  // `done` runs on the loop thread when the disconnect has completed or timed out.
  virtual void disconnect(std::function<void()> done) = 0;
  virtual size_t max_buffered() const = 0;
};

using ClientPtr = std::unique_ptr<Client>;

}  // namespace t2m::mqtt

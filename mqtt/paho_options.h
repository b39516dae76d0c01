// Internal to PahoClient: checking ConnectOptions, turning them into Paho's create and connect options,
// and what a refused connect means (paho_options.cpp). The runtime (callbacks posted to the loop, reconnect,
// publish, subscribe) is paho_client.cpp. Not part of the public API: that is paho_client.h.
#pragma once

#include <mqtt/async_client.h>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "mqtt/client.h"

namespace t2m::mqtt::paho {

// CONNACK return codes (MQTT 3.1.1 §3.2.2.3); Paho reports them as the failed connect's return code.
inline constexpr int CONNACK_BAD_PROTOCOL = 1;
inline constexpr int CONNACK_ID_REJECTED = 2;
inline constexpr int CONNACK_SERVER_UNAVAILABLE = 3;
inline constexpr int CONNACK_BAD_CREDENTIALS = 4;
inline constexpr int CONNACK_NOT_AUTHORIZED = 5;

// A refused connect in words, for the error a person reads.
std::string connack_text(int rc);

// Where to connect, from a checked server URI.
struct Endpoint {
  std::string uri;  // normalised: mqtt:// is tcp://, mqtts:// is ssl://
  std::string host;
  uint16_t port = 0;
  bool tls = false;  // ssl:// or wss://
};

// The server URI (tcp://, ssl://, ws://, wss://, mqtt:// or mqtts:// with host and port), TLS options
// only with a TLS scheme, a will topic without wildcards. Error code: mqtt_config_invalid.
Result<Endpoint> check_options(const ConnectOptions& options);

// Each TLS file given can be read now (a typo is reported at connect(), not as a TLS failure later).
// Error code: mqtt_tls_file.
Status check_tls_files(const TlsOptions& tls);

// MQTT 3.1.1, Paho's offline buffer bounded by max_buffered, sending while disconnected.
::mqtt::create_options create_options(const ConnectOptions& options);

// Fills `out` in place rather than returning it: Paho's options keep C structs pointing into
// themselves, so they are built where they will live. `tls` is Endpoint::tls. May throw
// ::mqtt::exception (the caller converts it).
void fill_connect_options(const ConnectOptions& options, bool tls, int connect_timeout_s,
                          ::mqtt::connect_options& out);

}  // namespace t2m::mqtt::paho

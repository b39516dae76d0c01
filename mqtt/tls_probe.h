// A diagnostic TLS handshake, used only after Paho reports a failed connect to an ssl:// broker.
// Paho C says no more than "TCP/TLS connect failure", and its C++ 1.2 ssl error handler keeps a
// pointer to a temporary (unusable), so we repeat the handshake ourselves with the same files to get a
// reason a person can act on ("certificate verify failed (unable to get local issuer certificate)").
// Blocking: run it off the loop (uv_queue_work). Bounded by TIMEOUT_MS per phase.
#pragma once

#include <cstdint>
#include <string>

#include "mqtt/client.h"

namespace t2m::mqtt {

struct TlsProbeResult {
  enum class Outcome {
    TCP_FAILED,  // nothing listening / unreachable: not a TLS problem, retrying may help
    TLS_FAILED,  // handshake (or client credentials) rejected: `reason` says why
    TLS_OK,      // the handshake works: the failure was something else
  };
  Outcome outcome = Outcome::TCP_FAILED;
  std::string reason;
  bool local = false;  // TLS_FAILED before any network traffic: our CA/cert/key files could not be used
};

inline constexpr int TLS_PROBE_TIMEOUT_MS = 3000;

// `host`/`port` from the server URI; `tls` as given to connect() (no secret ends up in `reason`).
TlsProbeResult probe_tls(const std::string& host, uint16_t port, const TlsOptions& tls);

// Splits "ssl://host:port" (also mqtts://, [v6]:port). False if it cannot.
bool split_server_uri(const std::string& uri, std::string& scheme, std::string& host, uint16_t& port);

}  // namespace t2m::mqtt

// The Tuya device simulator: N devices on one libuv loop, each with its own listener (a loopback address
// and port), id, local key, protocol version and DP model, behaving like real devices do on the LAN
// (docs/protocol.md §4-§8, §10): one client at a time, idle disconnect, 3.4/3.5 session keys,
// ACK + STATUS for writes, pushes on change, device22 quirks, Zigbee sub-devices by cid, UDP discovery to a
// configured loopback endpoint only. Cheap per device: no per-device timer or thread; one event queue on
// one uv timer drives idle checks, drift, curtain travel, delayed replies and reboots.
//
// Everything runs on the loop thread. stop() closes every handle; run the loop afterwards to finish.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "tests/sim/src/config.h"

namespace t2m::sim {

struct Counters {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t writes = 0;      // CONTROL / CONTROL_NEW with values received
  uint64_t pushes = 0;      // STATUS frames sent (after writes, UPDATEDPS, drift, set)
  uint64_t queries = 0;     // DP_QUERY / DP_QUERY_NEW / null-DP queries answered
  uint64_t heartbeats = 0;  // HEART_BEAT answered
  uint64_t accepted = 0;    // connections accepted
  uint64_t refused = 0;     // connections refused (busy or rebooting)
  uint64_t handshakes = 0;  // 3.4/3.5 session keys negotiated
  uint64_t handshake_failures = 0;
  uint64_t decode_errors = 0;  // frames that did not decode (wrong key, corrupt, out of order)
  uint64_t idle_closes = 0;    // connections closed for inactivity
  uint64_t faults = 0;         // faults injected

  void add(const Counters& o);
  nlohmann::json to_json() const;
};

struct WriteRecord {
  uint64_t seq = 0;  // 1, 2, ... over the simulator's life
  std::string device;
  std::optional<std::string> cid;
  nlohmann::json dps;   // as the client sent them
  int64_t unix_us = 0;  // wall clock when the frame was decoded
};

enum class FaultKind {
  CLOSE,       // close the connection now (ms unused); with `reset`, an RST instead of a FIN
  SILENCE,     // stop answering and pushing for `ms` (0 = until CLEAR); the socket stays open
  DELAY,       // delay every frame sent by `ms`, for `duration_ms` (0 = until CLEAR)
  GARBAGE,     // send `bytes` random bytes that are not a frame
  CORRUPT,     // send a STATUS frame whose CRC / HMAC / GCM tag is wrong
  OVERSIZE,    // send a frame header declaring a length far over any sane bound, then some bytes
  CHANGE_KEY,  // new local key (`key`, or a random one); drops the connection unless `keep_connection`
  REBOOT,      // drop the connection, refuse connections for `ms`, state back to initial values
  FOREIGN,     // send a STATUS for another device id (`other_id`) on this connection
  CLEAR,       // end SILENCE and DELAY
};
std::optional<FaultKind> parse_fault_kind(std::string_view name);
std::string_view to_string(FaultKind k);

struct Fault {
  FaultKind kind = FaultKind::CLOSE;
  uint32_t ms = 0;
  uint32_t duration_ms = 0;
  size_t bytes = 0;
  std::string key;
  std::string other_id;
  bool keep_connection = false;
  bool reset = false;
};
constexpr uint32_t DEFAULT_REBOOT_MS = 3000;
constexpr size_t DEFAULT_GARBAGE_BYTES = 64;
// {"fault":"delay","ms":500,...} as used by the control channel.
Result<Fault> parse_fault(const nlohmann::json& j);

class Simulator {
 public:
  Simulator(uv_loop_t* loop, SimConfig config);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Binds every device listener (and the discovery sockets). On failure nothing is left listening.
  Status start();
  // Closes every connection, listener, socket and the timer. Idempotent. Run the loop to finish closing.
  void stop();
  bool running() const;

  size_t device_count() const;
  std::vector<std::string> device_ids() const;
  const DeviceSpec* spec(std::string_view id) const;
  // The bound port (differs from the spec when it asked for port 0). 0 when unknown / not listening.
  uint16_t port_of(std::string_view id) const;
  // The bound discovery request listener, if configured.
  std::optional<Endpoint> discovery_endpoint() const;
  bool connected(std::string_view id) const;
  // The key a device currently uses (changes with CHANGE_KEY). For the control channel's "list" only.
  std::optional<std::string> current_key(std::string_view id) const;

  // Current DPs of a device or of one of its sub-devices.
  Result<nlohmann::json> state(std::string_view id, const std::optional<std::string>& cid = {}) const;
  // Changes DPs as a button press / the cloud would; pushes a STATUS with what changed if a client is
  // connected. Unknown DP ids are added.
  Status set_dps(std::string_view id, const std::optional<std::string>& cid, const nlohmann::json& dps);
  Status inject(std::string_view id, const Fault& f);
  // Spontaneous change rate for one device (or all when `id` is empty); 0 stops it.
  Status set_push_interval(std::string_view id, uint32_t ms);

  Counters totals() const;
  Result<Counters> counters(std::string_view id) const;
  const std::deque<WriteRecord>& writes() const;
  void clear_writes();
  // Listeners called for every write received (after it is recorded): tests, the control port's "watch".
  // A listener must not remove listeners from inside the call.
  int add_write_listener(std::function<void(const WriteRecord&)> fn);
  void remove_write_listener(int id);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace t2m::sim

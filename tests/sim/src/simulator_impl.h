// The simulator's inside, shared by the files that implement it; tests, tools and the bench use only
// simulator.h. One Simulator::Impl holds every device; its member functions live with their concern:
//   simulator.cpp  the public facade, start/stop, the one event queue (one uv timer) and its dispatch
//   server.cpp     TCP: listeners, one connection per device, framing, session keys, sending and delays
//   device.cpp     what a device does: answers per protocol version, DP pushes, writes, drift, motion,
//                  countdowns
//   fault.cpp      fault requests (parse_fault) and injecting them, the end of a fault or a reboot
//   discovery.cpp  UDP announcements and the 3.5 answer to a discovery request
// Everything runs on the loop thread.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/payload.h"
#include "protocol/session.h"
#include "tests/sim/src/config.h"
#include "tests/sim/src/model.h"
#include "tests/sim/src/simulator.h"
#include "tests/sim/src/uv_owned.h"

namespace t2m::sim {

inline constexpr const char* TAG = "sim";
inline constexpr size_t IV_SIZE = 12;
// One buffer serves every socket's reads (each read is consumed before the next).
inline constexpr size_t READ_BUFFER_SIZE = 64 * 1024;
inline constexpr uint16_t ROOT = 0xFFFF;  // event node index for the device itself

inline uint32_t cmd_u32(proto::Command c) {
  return static_cast<uint32_t>(c);
}

enum class EvKind : uint8_t { IDLE, DRIFT, MOTION, COUNTDOWN, DELAYED, FAULT_END, REBOOT_END, BROADCAST };

// A timed event for one device. `gen` is compared with the device's (or node's) generation counter when
// the event fires: bumping the counter cancels every event already queued, without touching the queue.
struct Event {
  uint64_t due;
  uint32_t dev;
  uint32_t gen;
  uint16_t node;
  EvKind kind;
  bool operator>(const Event& o) const { return due > o.due; }
};

struct Node {
  std::string cid;  // empty for the device itself
  DpModel model;
  uint32_t motion_gen = 0;
  uint32_t countdown_gen = 0;
};

struct Conn {
  OwnedHandle<uv_tcp_t> tcp;
  proto::FrameSplitter splitter;
  proto::MessageCodec codec;
  std::optional<proto::DeviceHandshake> hs;
  uint64_t last_rx_ms = 0;
  uint64_t last_delayed_due = 0;
  std::deque<std::pair<uint64_t, Bytes>> delayed;

  Conn(proto::Version v, Bytes key, bool device22)
      : codec(proto::Role::DEVICE, v, std::move(key), device22) {}
};

struct Device {
  Simulator::Impl* sim = nullptr;
  uint32_t index = 0;
  DeviceSpec spec;
  std::string key;
  std::vector<Node> nodes;  // [0] = the device itself, then sub-devices
  OwnedHandle<uv_tcp_t> listener;
  uint16_t bound_port = 0;
  std::unique_ptr<Conn> conn;
  uint32_t conn_gen = 0;
  uint32_t seq = 0;
  bool silent = false;
  uint32_t delay_ms = 0;
  uint32_t fault_gen = 0;
  bool rebooting = false;
  uint32_t reboot_gen = 0;
  uint32_t drift_gen = 0;
  Counters c;
};

struct Simulator::Impl {
  uv_loop_t* loop;
  SimConfig config;
  std::vector<std::unique_ptr<Device>> devices;
  std::unordered_map<std::string, uint32_t> by_id;
  OwnedHandle<uv_timer_t> timer;
  uint64_t armed_due = UINT64_MAX;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
  OwnedHandle<uv_udp_t> bcast;
  OwnedHandle<uv_udp_t> disc;
  std::optional<Endpoint> disc_bound;
  std::deque<WriteRecord> writes;
  uint64_t write_seq = 0;
  std::vector<std::pair<int, std::function<void(const WriteRecord&)>>> write_listeners;
  int next_listener = 1;
  std::array<char, READ_BUFFER_SIZE> read_buf{};
  std::mt19937_64 rng{std::random_device{}()};
  bool running = false;

  Impl(uv_loop_t* l, SimConfig c);

  // --- simulator.cpp: lifetime, lookup, the event queue --------------------------------------------------
  Status start();
  void stop();
  Device* find(std::string_view id) const;
  Bytes random_bytes(size_t n);
  uint64_t now() const { return uv_now(loop); }
  void schedule(uint64_t delay_ms, const Device& d, EvKind kind, uint32_t gen, uint16_t node = ROOT);
  void arm();
  static void on_timer(uv_timer_t* t);
  void fire(const Event& e);

  // --- server.cpp: listening, connections, frames in and out ---------------------------------------------
  Status listen(Device& d);
  static void on_connection(uv_stream_t* server, int status);
  void accept(Device& d, uv_stream_t* server);
  void close_conn(Device& d, bool reset);
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  void on_frame(Device& d, Conn& c, const Bytes& frame);
  void write_now(Device& d, Conn& c, Bytes frame);
  // Sends now, or after the DELAY fault's delay (keeping the order of everything sent).
  void send(Device& d, Bytes frame);
  Bytes encode(Device& d, uint32_t cmd, std::string_view body, uint32_t seqno, uint32_t retcode = 0);
  uint32_t reply_seq(Device& d, uint32_t req);
  void on_idle_check(Device& d, const Event& e);
  void on_delayed_due(Device& d, const Event& e);

  // --- device.cpp: device behaviour ----------------------------------------------------------------------
  void on_message(Device& d, const proto::Message& m);
  void push(Device& d, size_t node, const nlohmann::json& dps);
  void arm_countdown(Device& d, size_t node, const nlohmann::json& changed);
  std::optional<size_t> node_for(const Device& d, const std::optional<std::string>& cid) const;
  void reply_error(Device& d, uint32_t cmd, uint32_t req_seq, const char* text);
  void record_write(Device& d, size_t node, const nlohmann::json& dps);
  int64_t unix_s() const;
  proto::Target target(const Device& d, size_t node) const;
  void on_drift(Device& d, const Event& e);
  void on_motion_step(Device& d, const Event& e);
  void on_countdown_end(Device& d, const Event& e);

  // --- fault.cpp: faults ---------------------------------------------------------------------------------
  Status inject(Device& d, const Fault& f);
  void on_fault_end(Device& d, const Event& e);
  void on_reboot_end(Device& d, const Event& e);

  // --- discovery.cpp: UDP --------------------------------------------------------------------------------
  Status start_udp();
  nlohmann::json announcement(const Device& d) const;
  void udp_send(uv_udp_t* sock, ByteView data, const sockaddr_in& to);
  void send_broadcast(Device& d);
  void on_broadcast_due(Device& d);
  static void on_disc_alloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void on_disc_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned);
};

}  // namespace t2m::sim

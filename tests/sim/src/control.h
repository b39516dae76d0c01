// The simulator's control channel for out-of-process users (integration tests, the benchmark, the demo):
// a loopback TCP port speaking JSON lines. Every request is one JSON object on one line; every reply is
// one JSON object on one line, {"ok":true,...} or {"ok":false,"error":code,"message":...}, echoing the
// request's "id" when it has one. Commands:
//   {"cmd":"ping"}
//   {"cmd":"list"}                                     devices: id, name, version, profile, host, port,
//                                                      connected, cids (never keys)
//   {"cmd":"state","device":ID[,"cid":CID]}            {"dps":{...},"connected":bool}
//   {"cmd":"set","device":ID[,"cid":CID],"dps":{...}}  change DPs; a STATUS is pushed to the client
//   {"cmd":"fault","device":ID,"fault":NAME,...}       see FaultKind (ms, duration_ms, bytes, key,
//                                                      other_id, keep_connection, reset)
//   {"cmd":"push_rate"[,"device":ID],"interval_ms":N}  spontaneous-change rate (0 = off), all devices
//                                                      when no device is given
//   {"cmd":"stats"[,"device":ID][,"per_device":true]}  {"totals":{...}[,"device":{...}][,"devices":{..}]}
//   {"cmd":"writes"[,"since":SEQ][,"device":ID][,"limit":N][,"clear":true]}
//                                                      {"writes":[{"seq","device","cid","dps","unix_us"}],
//                                                       "last_seq":N}
//   {"cmd":"watch"}                                    from now on this connection also gets one line per
//                                                      write received, as it happens:
//                                                      {"event":"write","seq","device","cid","dps","unix_us"}
//   {"cmd":"shutdown"}                                 stops the simulator (the program exits)
#pragma once

#include <uv.h>

#include <functional>
#include <list>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "tests/sim/src/config.h"
#include "tests/sim/src/simulator.h"
#include "tests/sim/src/uv_owned.h"

namespace t2m::sim {

// A request line longer than this closes the control connection.
constexpr size_t MAX_CONTROL_LINE = 1024 * 1024;

class ControlServer {
 public:
  ControlServer(uv_loop_t* loop, Simulator& sim);
  ~ControlServer() { close(); }
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Loopback only; port 0 picks a free port (see port()).
  Status listen(const Endpoint& at);
  uint16_t port() const { return port_; }
  void close();

  // One request -> its reply (what a line on the socket gets).
  nlohmann::json handle(const nlohmann::json& request);
  // Called for {"cmd":"shutdown"} after the reply is queued.
  void set_on_shutdown(std::function<void()> fn) { on_shutdown_ = std::move(fn); }

 private:
  struct Client {
    ControlServer* owner = nullptr;
    OwnedHandle<uv_tcp_t> tcp;
    std::string buf;
    bool watching = false;
  };
  static void on_connection(uv_stream_t* server, int status);
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  void drop(Client* c);
  void reply(Client& c, const nlohmann::json& j);

  uv_loop_t* loop_;
  Simulator& sim_;
  OwnedHandle<uv_tcp_t> listener_;
  uint16_t port_ = 0;
  std::list<Client> clients_;
  std::function<void()> on_shutdown_;
  int write_listener_ = 0;
  char read_buf_[16 * 1024] = {};
};

}  // namespace t2m::sim

// The driver's own connections: the simulator's JSON-lines control port (requests, and the "watch" stream
// of DP writes on a thread of its own) and the MQTT client (Paho C++) that drives the gateway and feeds
// every message to the Fleet.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include "bench/fleet.h"

namespace t2m::bench {

class LineSocket {
 public:
  ~LineSocket() { close_(); }
  bool open(uint16_t port);
  bool send_line(const std::string& s);
  // false on timeout, EOF or error.
  bool read_line(std::string& out, int timeout_ms);
  void shutdown_();

 private:
  void close_();
  int fd_ = -1;
  std::string buf_;
};

class SimControl {
 public:
  ~SimControl() { stop_watch(); }
  bool open(uint16_t port);
  // One request, one {"ok":...} answer ({"ok":false,"error":"timeout"} when none came).
  nlohmann::json request(const nlohmann::json& req);
  // A second connection that receives one line per DP write the simulator decodes.
  bool watch(std::function<void(const nlohmann::json&)> on_write);
  void stop_watch();

 private:
  uint16_t port_ = 0;
  LineSocket sock_;
  LineSocket watch_sock_;
  std::atomic<bool> stop_watch_{false};
  std::thread watch_thread_;
};

class Mqtt {
 public:
  Mqtt(const std::string& uri, Fleet& fleet);
  bool connect();
  bool subscribe(const std::string& filter);
  void unsubscribe(const std::string& filter);
  bool publish(const std::string& topic, const std::string& payload);
  void disconnect();

 private:
  ::mqtt::async_client cli_;
  Fleet& fleet_;
};

}  // namespace t2m::bench

#include "bench/clients.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "bench/clock.h"
#include "bench/process.h"

namespace t2m::bench {

namespace {

using nlohmann::json;

constexpr int CONTROL_TIMEOUT_MS = 10000;
// A watch read gives up this often to see whether the watch is to stop.
constexpr int WATCH_POLL_MS = 200;
// Paho C bounds its command queue (100 by default, even while connected): refresh-all publishes one
// /get per device at once.
constexpr int MAX_QUEUED_PUBLISHES = 1000000;

// Paho C (1.3 in Debian 12) never sets TCP_NODELAY and has no option for it (eclipse-paho/paho.mqtt.c#530):
// back-to-back small publishes then wait for the broker's delayed ACK (up to 40 ms on Linux). Its socket is
// not exposed, so after connecting set TCP_NODELAY on every TCP socket of this process (the driver's only
// other sockets are the control-port connections, which want it too).
void nodelay_all_tcp_sockets() {
  for (int fd = 3; fd < 1024; ++fd) {
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) continue;
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0 || peer.ss_family != AF_INET)
      continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

}  // namespace

// ---- the simulator's control port (JSON lines) ----------------------------------------------------------

bool LineSocket::open(uint16_t port) {
  close_();
  fd_ = connect_loopback(port);
  return fd_ >= 0;
}

bool LineSocket::send_line(const std::string& s) {
  std::string line = s + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool LineSocket::read_line(std::string& out, int timeout_ms) {
  const int64_t deadline = mono_us() + timeout_ms * US_PER_MS;
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      out = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return true;
    }
    const int64_t left = (deadline - mono_us()) / US_PER_MS;
    if (left <= 0 || fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
  }
}

void LineSocket::shutdown_() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void LineSocket::close_() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

bool SimControl::open(uint16_t port) {
  port_ = port;
  return sock_.open(port);
}

json SimControl::request(const json& req) {
  if (!sock_.send_line(req.dump())) return json{{"ok", false}, {"error", "send"}};
  std::string line;
  while (sock_.read_line(line, CONTROL_TIMEOUT_MS)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("ok")) return j;
  }
  return json{{"ok", false}, {"error", "timeout"}};
}

bool SimControl::watch(std::function<void(const json&)> on_write) {
  if (!watch_sock_.open(port_) || !watch_sock_.send_line(R"({"cmd":"watch"})")) return false;
  stop_watch_ = false;
  watch_thread_ = std::thread([this, on_write = std::move(on_write)] {
    std::string line;
    while (!stop_watch_) {
      if (!watch_sock_.read_line(line, WATCH_POLL_MS)) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.value("event", "") == "write") on_write(j);
    }
  });
  return true;
}

void SimControl::stop_watch() {
  stop_watch_ = true;
  if (watch_thread_.joinable()) watch_thread_.join();
}

// ---- MQTT (Paho C++) ------------------------------------------------------------------------------------

Mqtt::Mqtt(const std::string& uri, Fleet& fleet)
    : cli_(uri, "t2m-bench-" + std::to_string(getpid()), MAX_QUEUED_PUBLISHES, nullptr), fleet_(fleet) {}

bool Mqtt::connect() {
  try {
    cli_.set_message_callback([this](::mqtt::const_message_ptr m) {
      const int64_t t = unix_us();
      fleet_.on_message(m->get_topic(), m->get_payload_str(), t);
    });
    ::mqtt::connect_options o;
    o.set_clean_session(true);
    o.set_keep_alive_interval(60);
    o.set_mqtt_version(MQTTVERSION_3_1_1);
    cli_.connect(o)->wait_for(std::chrono::seconds(5));
    if (!cli_.is_connected()) return false;
    nodelay_all_tcp_sockets();
    return true;
  } catch (const std::exception& e) {
    fprintf(stderr, "t2m_bench: MQTT connect: %s\n", e.what());
    return false;
  }
}

bool Mqtt::subscribe(const std::string& filter) {
  try {
    return cli_.subscribe(filter, 0)->wait_for(std::chrono::seconds(5));
  } catch (const std::exception& e) {
    fprintf(stderr, "t2m_bench: MQTT subscribe %s: %s\n", filter.c_str(), e.what());
    return false;
  }
}

void Mqtt::unsubscribe(const std::string& filter) {
  try {
    cli_.unsubscribe(filter)->wait_for(std::chrono::seconds(5));
  } catch (const std::exception&) {
  }
}

bool Mqtt::publish(const std::string& topic, const std::string& payload) {
  try {
    cli_.publish(topic, payload.data(), payload.size(), 0, false);
    return true;
  } catch (const std::exception& e) {
    fprintf(stderr, "t2m_bench: MQTT publish %s: %s\n", topic.c_str(), e.what());
    return false;
  }
}

void Mqtt::disconnect() {
  try {
    if (cli_.is_connected()) cli_.disconnect()->wait_for(std::chrono::seconds(3));
  } catch (const std::exception&) {
  }
}

}  // namespace t2m::bench

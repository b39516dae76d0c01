// Test support (target t2m_test_support): a real mosquitto broker on a free loopback port for
// integration tests, a throw-away PKI made with the openssl CLI, temp dirs, free ports, and a bounded
// "run the uv loop until" helper. Test code only: these helpers block (waitpid, connect polling).
#pragma once

#include <uv.h>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace t2m::test {

// A unique directory under $TMPDIR (or /tmp), removed recursively by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "t2m");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A currently free TCP port on 127.0.0.1 (bind port 0, read it back, close). Another process could
// take it before use; tests accept that small race.
uint16_t free_port();

// True if a TCP connection to 127.0.0.1:port succeeds within timeout_ms.
bool wait_for_port(uint16_t port, int timeout_ms);

// Runs argv[0] with PATH lookup, stdout/stderr appended to `log_file` (or /dev/null), and waits.
// Returns the exit status, or -1 if it could not run.
int run_command(const std::vector<std::string>& argv, const std::string& log_file = {});

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

// A CA, a server certificate for 127.0.0.1/localhost signed by it, a client certificate signed by it,
// the client key also encrypted with `key_password`, and an unrelated second CA (for "bad CA" tests).
// EC P-256 keys: generated in milliseconds.
struct TestPki {
  std::string dir;
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  std::string client_key_encrypted;
  std::string key_password = "t2m-key-pass";
  std::string other_ca_cert;  // a CA that signed nothing we use
};
// Creates the files in `dir`; nullopt (with a message in *error) if openssl failed.
std::optional<TestPki> make_test_pki(const std::string& dir, std::string* error = nullptr);

struct BrokerOptions {
  uint16_t port = 0;           // 0: a free port is picked
  bool tcp = true;             // plain listener on 127.0.0.1:port()
  std::optional<TestPki> tls;  // adds a TLS listener on 127.0.0.1:tls_port()
  bool require_client_cert = false;
  // user -> password; when non-empty anonymous access is refused on every listener.
  std::vector<std::pair<std::string, std::string>> users;
};

// RAII mosquitto: config in a temp dir, persistence off, started by the constructor (check
// running()), always stopped by the destructor. restart() keeps the ports.
class MosquittoBroker {
 public:
  static constexpr int START_TIMEOUT_MS = 5000;
  static constexpr int STOP_TIMEOUT_MS = 3000;

  explicit MosquittoBroker(BrokerOptions options = {});
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  uint16_t tls_port() const { return tls_port_; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string tls_uri() const { return "ssl://127.0.0.1:" + std::to_string(tls_port_); }

  // Starts the broker (if not running) and waits until its listeners accept connections.
  bool start();
  // SIGTERM and wait (SIGKILL after STOP_TIMEOUT_MS): a clean stop.
  void stop();
  // SIGKILL: a crash. Clients see their sockets reset.
  void kill();
  // SIGSTOP / SIGCONT: a hung broker (connections stay open, nothing is answered).
  void pause();
  void resume();
  bool restart() {
    stop();
    return start();
  }
  // The broker's log so far (for failure messages).
  std::string log() const;

 private:
  void write_config_();
  void reap_(int timeout_ms);

  BrokerOptions options_;
  TempDir dir_{"t2m-mosquitto"};
  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
  pid_t pid_ = -1;
};

// A loopback TCP relay 127.0.0.1:port() -> 127.0.0.1:target on its own thread, so a test can cut a
// client's connection abruptly (RST, no MQTT DISCONNECT) while the broker keeps running: the broker
// then publishes the client's will, and the client sees a lost connection.
class TcpProxy {
 public:
  explicit TcpProxy(uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;
  uint16_t port() const { return port_; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  // Resets every relayed connection (both sides). New connections are still accepted unless
  // set_refusing(true).
  void cut();
  void set_refusing(bool refusing);
  size_t connections() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  uint16_t port_ = 0;
};

// A passive observer: `mosquitto_sub` as a child process, so tests need no second Paho client (Paho
// serves all clients of a process from one poll thread, and a second client's connect can wait
// seconds for it). Output goes to a file that messages() parses on demand.
class MqttSpy {
 public:
  static constexpr int READY_TIMEOUT_MS = 5000;
  struct Msg {
    std::string topic;
    std::string payload;
    bool retained = false;
  };
  // Subscribes to `filter` at QoS 1 on 127.0.0.1:port; ready() once a sentinel published to a
  // private topic came back (waited for, bounded), so the subscription is in place. `extra` adds
  // mosquitto_sub options (e.g. {"--cafile", ca, ...}).
  MqttSpy(uint16_t port, const std::string& filter, const std::vector<std::string>& extra = {});
  ~MqttSpy();
  MqttSpy(const MqttSpy&) = delete;
  MqttSpy& operator=(const MqttSpy&) = delete;
  bool ready() const { return ready_; }
  std::vector<Msg> messages() const;
  size_t count(const std::string& topic) const;
  std::optional<Msg> last(const std::string& topic) const;
  std::string output() const { return read_file(dir_.file("sub.out")); }

 private:
  TempDir dir_{"t2m-spy"};
  std::string sentinel_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

// mosquitto_pub on 127.0.0.1:port (QoS 1), waits for it; true on success.
bool mqtt_publish(uint16_t port, const std::string& topic, const std::string& payload, bool retain = false);

// The factor by which run_loop_until() stretches its timeout: $T2M_TEST_TIME_SCALE (a number >= 1, read
// once, at most 100), else 1. tests/valgrind.sh sets it: under memcheck every CPU-bound step on the
// test's loop (gateway, simulator, Paho callbacks) is 10-50x slower, so a busy moment can overrun a
// bound written for native speed. Only the bounds stretch: a wait that succeeds still ends at once.
double time_scale();
// `ms` * time_scale(), rounded up.
int scaled_ms(int ms);

// Runs `loop` until `done()` is true or `timeout_ms` (times time_scale()) passes (a repeating timer
// wakes the loop so the predicate is checked even when nothing else happens). Returns done().
bool run_loop_until(uv_loop_t* loop, const std::function<bool()>& done, int timeout_ms);
// Runs `loop` for about `ms` milliseconds.
void run_loop_for(uv_loop_t* loop, int ms);
// Runs `loop` until no handle or request keeps it alive (what was closed is gone) or `timeout_ms` (times
// time_scale()) passes. Returns true if it went idle.
bool run_loop_until_idle(uv_loop_t* loop, int timeout_ms);

}  // namespace t2m::test

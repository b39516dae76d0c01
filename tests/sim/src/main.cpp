// tuya2mqtt-sim: simulated Tuya devices on loopback for the demo, integration tests and benchmarks.
#include <sys/resource.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/uv_handle.h"
#include "tests/sim/src/config.h"
#include "tests/sim/src/control.h"
#include "tests/sim/src/simulator.h"
#include "tests/sim/src/uv_owned.h"

namespace {

using namespace t2m;
using namespace t2m::sim;

constexpr const char* SIM_MAIN_TAG = "sim-main";

constexpr const char* USAGE =
    R"(tuya2mqtt-sim: simulated Tuya LAN devices (protocol 3.1, 3.3, device22, 3.4, 3.5) on loopback.

Usage:
  tuya2mqtt-sim --devices FILE [options]
  tuya2mqtt-sim --generate N [--mix 3.3,3.4,3.5] [--profiles plug,bulb] [--base-address 127.0.2.1] [options]

Devices:
  --devices FILE           device set (JSON; see examples/sim/devices.json). Format:
                             {"defaults": {"idle_timeout_ms", "push_interval_ms", "travel_ms", "host"},
                              "discovery": {"broadcast_to": "127.0.0.1:6667", "interval_ms": 5000,
                                            "listen": "127.0.0.1:7000"},
                              "devices": [{"id", "key" (16 chars), "version" ("3.1".."3.5" | "device22"),
                                           "profile" (plug|bulb|curtain|sensor|switch|gateway), "name",
                                           "host" (loopback), "port" (0 = any), "product_key",
                                           "idle_timeout_ms", "push_interval_ms", "travel_ms",
                                           "dps" {initial values}, "sub_devices" [{"cid", "profile",
                                           "name", "dps"}] (gateway only)}]}
  --generate N             N generated devices (ids bfsim000000000000000.., keys derived from the index)
  --mix LIST               versions to cycle through when generating (default 3.3); 3.1,3.2,3.3,3.4,3.5,device22
  --profiles LIST          profiles to cycle through when generating (default plug)
  --base-address IP        first loopback address when generating (default 127.0.2.1); one address per
                           device, all on --base-port
  --base-port PORT         port of generated devices (default 6668)
  --same-host              generated devices share --base-address with ports counting up from --base-port
  --dump-devices FILE      write the device set (with keys, for the gateway's configuration) and continue
  --push-interval MS       spontaneous DP changes (power drift, temperature) every MS per device; 0 = off
                           (overrides the file)
  --idle-timeout MS        close a client that sent nothing for MS (default 30000; 0 = never; overrides)

Discovery (loopback only; nothing is ever sent elsewhere):
  --broadcast-to IP:PORT   send each device's UDP announcement there (default: no broadcasts)
  --broadcast-interval MS  per device (default 5000)
  --discovery-listen IP:PORT  answer 3.5 discovery requests (0x25) received there, to the sender

Control:
  --control IP:PORT        JSON-lines control port (loopback; port 0 = any; default: none). Requests, one per line:
                             {"cmd":"ping"} {"cmd":"list"}
                             {"cmd":"state","device":ID[,"cid":CID]}
                             {"cmd":"set","device":ID[,"cid":CID],"dps":{"1":true}}
                             {"cmd":"fault","device":ID,"fault":F[,"ms":N][,"duration_ms":N][,"bytes":N]
                                    [,"key":K][,"other_id":ID][,"keep_connection":true][,"reset":true]}
                               F: close, silence, delay, garbage, corrupt, oversize, change_key, reboot,
                                  foreign, clear
                             {"cmd":"push_rate"[,"device":ID],"interval_ms":N}
                             {"cmd":"stats"[,"device":ID][,"per_device":true]}
                             {"cmd":"writes"[,"since":SEQ][,"device":ID][,"limit":N][,"clear":true]}
                               -> {"writes":[{"seq","device","cid","dps","unix_us"}],"last_seq":N}
                             {"cmd":"watch"}  then one {"event":"write",...} line per write, as it happens
                             {"cmd":"shutdown"}
                           Replies: one JSON object per line, {"ok":true,...} or {"ok":false,"error","message"}.
  --ready-file FILE        written once everything listens: {"control_port":N,"pid":P,"devices":[{id,host,port}]}
  --writes-capacity N      recent writes kept for {"cmd":"writes"} (default 10000)
  --log-level LEVEL        error, warn, info (default), debug, verbose
  --help

Stops cleanly on SIGINT / SIGTERM. Local keys never appear in logs.
)";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool parse_u32(const std::string& s, uint32_t& out) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  unsigned long long v = std::stoull(s);
  if (v > UINT32_MAX) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int usage_error(const std::string& msg) {
  fprintf(stderr, "tuya2mqtt-sim: %s (see --help)\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string devices_file, dump_file, ready_file;
  GenerateOptions gen;
  bool generate = false;
  std::optional<uint32_t> push_interval, idle_timeout;
  std::optional<Endpoint> broadcast_to, discovery_listen, control_at;
  std::optional<uint32_t> broadcast_interval;
  std::optional<uint32_t> writes_capacity;

  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    uint32_t n = 0;
    if (a == "--help" || a == "-h") {
      fputs(USAGE, stdout);
      return 0;
    } else if (a == "--same-host") {
      gen.same_host = true;
    } else if (!value(v)) {
      return usage_error("unknown option or missing value: " + a);
    } else if (a == "--devices") {
      devices_file = v;
    } else if (a == "--generate") {
      if (!parse_u32(v, n)) return usage_error("--generate needs a count");
      gen.count = n;
      generate = true;
    } else if (a == "--mix") {
      gen.versions = split(v);
    } else if (a == "--profiles") {
      gen.profiles.clear();
      for (const auto& p : split(v)) {
        auto prof = parse_profile(p);
        if (!prof) return usage_error("unknown profile '" + p + "'");
        gen.profiles.push_back(*prof);
      }
    } else if (a == "--base-address") {
      gen.base_host = v;
    } else if (a == "--base-port") {
      if (!parse_u32(v, n) || n > 65535) return usage_error("bad --base-port");
      gen.base_port = static_cast<uint16_t>(n);
    } else if (a == "--dump-devices") {
      dump_file = v;
    } else if (a == "--push-interval") {
      if (!parse_u32(v, n)) return usage_error("bad --push-interval");
      push_interval = n;
    } else if (a == "--idle-timeout") {
      if (!parse_u32(v, n)) return usage_error("bad --idle-timeout");
      idle_timeout = n;
    } else if (a == "--broadcast-to" || a == "--discovery-listen" || a == "--control") {
      auto e = parse_loopback_endpoint(v);
      if (!e) return usage_error(a + ": " + e.error().message);
      (a == "--broadcast-to" ? broadcast_to : a == "--control" ? control_at : discovery_listen) = *e;
    } else if (a == "--broadcast-interval") {
      if (!parse_u32(v, n)) return usage_error("bad --broadcast-interval");
      broadcast_interval = n;
    } else if (a == "--ready-file") {
      ready_file = v;
    } else if (a == "--writes-capacity") {
      if (!parse_u32(v, n)) return usage_error("bad --writes-capacity");
      writes_capacity = n;
    } else if (a == "--log-level") {
      LogLevel lvl;
      if (!parse_log_level(v, lvl)) return usage_error("bad --log-level");
      log_set_level(lvl);
    } else {
      return usage_error("unknown option: " + a);
    }
  }

  SimConfig config;
  if (!devices_file.empty()) {
    auto c = load_config(devices_file);
    if (!c) return usage_error(c.error().message);
    config = std::move(*c);
  }
  if (generate) {
    if (push_interval) gen.push_interval_ms = *push_interval;
    if (idle_timeout) gen.idle_timeout_ms = *idle_timeout;
    auto devs = generate_devices(gen);
    if (!devs) return usage_error(devs.error().message);
    for (auto& d : *devs) config.devices.push_back(std::move(d));
  }
  if (config.devices.empty()) return usage_error("no devices: give --devices FILE and/or --generate N");
  for (auto& d : config.devices) {
    if (push_interval) d.push_interval_ms = *push_interval;
    if (idle_timeout) d.idle_timeout_ms = *idle_timeout;
  }
  if (broadcast_to) config.broadcast_to = broadcast_to;
  if (broadcast_interval) config.broadcast_interval_ms = *broadcast_interval;
  if (discovery_listen) config.discovery_listen = discovery_listen;
  if (writes_capacity) config.writes_capacity = *writes_capacity;
  if (auto st = validate_config(config); !st) return usage_error(st.error().message);

  if (!dump_file.empty()) {
    std::ofstream out(dump_file);
    out << devices_to_json(config.devices).dump(2) << "\n";
    if (!out) return usage_error("cannot write " + dump_file);
  }

  raise_fd_limit();
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) return 1;
  int rc = 0;
  {
    Simulator sim(&loop, config);
    ControlServer control(&loop, sim);
    OwnedHandle<uv_signal_t> sigint, sigterm;
    auto shutdown = [&]() {
      T2M_LOGI(SIM_MAIN_TAG, "shutting down");
      sim.stop();
      control.close();
      sigint.close();
      sigterm.close();
    };
    if (auto st = sim.start(); !st) {
      T2M_LOGE(SIM_MAIN_TAG, "%s", st.error().message.c_str());
      rc = 1;
    } else if (control_at && !control.listen(*control_at)) {
      T2M_LOGE(SIM_MAIN_TAG, "cannot open the control port");
      rc = 1;
    }
    if (rc == 0) {
      control.set_on_shutdown(shutdown);
      std::function<void()> on_signal = shutdown;
      auto install = [&](OwnedHandle<uv_signal_t>& h, int signum) {
        h.init([&](uv_signal_t* s) { return uv_signal_init(&loop, s); });
        h.get()->data = &on_signal;
        uv_signal_start(
            h.get(), [](uv_signal_t* s, int) { (*static_cast<std::function<void()>*>(s->data))(); }, signum);
      };
      install(sigint, SIGINT);
      install(sigterm, SIGTERM);
      nlohmann::json ready{{"control_port", control.port()}, {"pid", uv_os_getpid()}};
      nlohmann::json devs = nlohmann::json::array();
      for (const auto& id : sim.device_ids()) {
        devs.push_back({{"id", id}, {"host", sim.spec(id)->host}, {"port", sim.port_of(id)}});
      }
      ready["devices"] = devs;
      if (auto de = sim.discovery_endpoint()) ready["discovery_port"] = de->port;
      if (!ready_file.empty()) {
        std::string tmp = ready_file + ".tmp";
        std::ofstream(tmp) << ready.dump() << "\n";
        std::rename(tmp.c_str(), ready_file.c_str());
      }
      printf("tuya2mqtt-sim ready: %zu devices, control port %u\n", sim.device_count(), control.port());
      fflush(stdout);
      uv_run(&loop, UV_RUN_DEFAULT);
    } else {
      shutdown();
    }
  }
  int left = uv_close_all_and_drain(&loop);
  if (left != 0) T2M_LOGW(SIM_MAIN_TAG, "handles left open at exit");
  return rc;
}

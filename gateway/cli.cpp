#include "gateway/cli.h"

#include <uv.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cloud/wizard.h"
#include "common/log.h"
#include "common/timers.h"
#include "config/config.h"
#include "gateway/app.h"
#include "gateway/cli_args.h"
#include "gateway/device_session.h"
#include "gateway/discovery_listener.h"
#include "gateway/version.h"
#include "model/convert.h"
#include "model/device_model.h"
#include "mqtt/payload.h"

namespace t2m::gw {
namespace {

constexpr int EXIT_USAGE = 2;
constexpr int EXIT_FAILED = 1;
// tinytuya scans for 18 s: devices broadcast every few seconds, so that catches every one several times.
constexpr uint32_t DEFAULT_SCAN_SECONDS = 18;
constexpr uint32_t DEFAULT_REQUEST_INTERVAL_S = 6;
constexpr uint32_t DEFAULT_ONESHOT_TIMEOUT_S = 10;

const char* MAIN_HELP = R"(usage: tuya2mqtt <command> [options]

Commands:
  run       run the gateway:                tuya2mqtt run -c config.json
  scan      listen for devices on the LAN:  tuya2mqtt scan [--seconds 18] [--json]
  status    read a device once:             tuya2mqtt status <device> -c config.json
  set       write one DP once:              tuya2mqtt set <device> <dp> <value> -c config.json
  wizard    fetch devices and keys from the Tuya cloud into a device list
  history   export a device's cloud report log to CSV, incrementally
  version   print the version

`tuya2mqtt <command> --help` describes each command's options.
)";

const char* SCAN_HELP = R"(usage: tuya2mqtt scan [options]

Listens for Tuya UDP broadcasts (ports 6666, 6667, 7000) and prints every device heard.
  --seconds N           how long to listen (default 18)
  --bind ADDR           address to listen on (default 0.0.0.0)
  --ports P,P,...       ports to listen on (default 6666,6667,7000)
  --request ADDR        also send the 3.5 discovery request to ADDR:7000 every 6 s
                        (e.g. your subnet's broadcast address; some 3.5 devices only answer requests)
  --client-ip ADDR      the address devices should answer to (default: the --request address's host)
  --json                print JSON instead of a table
  -h, --help            this text
)";

const char* STATUS_HELP = R"(usage: tuya2mqtt status <device> [options]
       tuya2mqtt set <device> <dp> <value> [options]

Connects to one device, reads (status) or writes one DP (set), prints the device's state as JSON,
and disconnects. <device> is a name or id from the config, or any id with --key/--address.
  -c, --config FILE     configuration file with the device
  --key KEY             local key (16 characters) when not using a config
  --address ADDR        device address when not using a config
  --version V           3.1 | 3.2 | 3.3 | 3.4 | 3.5 | auto (default auto)
  --port N              TCP port (default 6668)
  --timeout S           give up after S seconds (default 10)
  -h, --help            this text
<dp> is a DP code (switch_1) or id (1); <value> is true/false, a number, or text.
)";

std::vector<std::string> args_of(int argc, char** argv) {
  return std::vector<std::string>(argv + 1, argv + argc);
}

std::vector<uint16_t> parse_ports(const std::string& text) {
  std::vector<uint16_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(static_cast<uint16_t>(std::stoul(part)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int scan_main(int argc, char** argv) {
  ArgSpec spec{{"--seconds", "--bind", "--ports", "--request", "--client-ip"},
               {"--json", "--help"},
               {{"-h", "--help"}}};
  auto a = parse_args(args_of(argc, argv), spec);
  if (!a) {
    std::fprintf(stderr, "tuya2mqtt scan: %s\n", a.error().message.c_str());
    return EXIT_USAGE;
  }
  if (a->has("--help")) {
    std::fputs(SCAN_HELP, stdout);
    return 0;
  }
  DiscoveryOptions opt;
  uint32_t seconds = DEFAULT_SCAN_SECONDS;
  try {
    if (auto v = a->get("--seconds")) seconds = static_cast<uint32_t>(std::stoul(*v));
    if (auto v = a->get("--ports")) opt.ports = parse_ports(*v);
  } catch (const std::exception&) {
    std::fprintf(stderr, "tuya2mqtt scan: --seconds and --ports take numbers\n");
    return EXIT_USAGE;
  }
  if (auto v = a->get("--bind")) opt.bind_address = *v;
  const bool json_out = a->has("--json");
  if (json_out) log_set_stderr(false);

  uv_loop_t loop;
  uv_loop_init(&loop);
  std::map<std::string, nlohmann::json> found;
  int rc = 0;
  {
    UvTimers timers(&loop);
    Scheduler sched(timers);
    DiscoveryListener listener(
        &loop, opt,
        [&](const proto::Announcement& ann, const std::string& sender) {
          nlohmann::json j{
              {"id", ann.gw_id},
              {"ip", ann.ip.empty() ? sender : ann.ip},
              {"version", ann.version ? std::string(proto::to_string(*ann.version)) : std::string("?")},
              {"product_key", ann.product_key},
              {"encrypted", ann.encrypt}};
          if (!found.count(ann.gw_id) && !json_out)
            std::printf("%-24s %-16s %-4s %s\n", ann.gw_id.c_str(), j["ip"].get<std::string>().c_str(),
                        j["version"].get<std::string>().c_str(), ann.product_key.c_str());
          found[ann.gw_id] = j;
        },
        nullptr);
    auto st = listener.start();
    if (!st.ok()) {
      std::fprintf(stderr, "tuya2mqtt scan: %s\n", st.error().message.c_str());
      rc = EXIT_FAILED;
    } else {
      if (!json_out) {
        std::printf("Listening %u s for Tuya devices...\n%-24s %-16s %-4s %s\n", seconds, "ID", "ADDRESS",
                    "VER", "PRODUCT KEY");
        std::fflush(stdout);
      }
      if (auto target = a->get("--request")) {
        const std::string client_ip = a->get("--client-ip").value_or(*target);
        auto send = [&listener, target = *target, client_ip] {
          Bytes iv(12);
          system_random()(iv.data(), iv.size());
          auto r = listener.send_request(target, proto::PORT_UDP_APP, client_ip, iv);
          if (!r.ok()) std::fprintf(stderr, "tuya2mqtt scan: %s\n", r.error().message.c_str());
        };
        send();
        sched.set_interval("request", DEFAULT_REQUEST_INTERVAL_S * MS_PER_S, send);
      } else if (!json_out) {
        std::printf("(3.5 devices that stay silent answer a request: add --request <broadcast address>)\n");
      }
      sched.set_timeout("end", seconds * MS_PER_S, [&] {
        sched.cancel_all();
        listener.stop();
      });
      uv_run(&loop, UV_RUN_DEFAULT);
    }
  }
  uv_close_all_and_drain(&loop);
  if (json_out) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& [id, j] : found) arr.push_back(j);
    std::printf("%s\n", arr.dump(2).c_str());
  } else {
    std::printf("%zu device(s) found\n", found.size());
  }
  return rc;
}

namespace {

struct OneShotTarget {
  config::DeviceConfig device;
  std::string error;
};

OneShotTarget resolve_target(const Args& a, const std::string& ref) {
  OneShotTarget t;
  if (auto path = a.get("--config")) {
    auto loaded = config::load_config(*path);
    if (!loaded) {
      t.error = *path + " is not valid: " + loaded.error().front().to_string();
      return t;
    }
    const auto* d = loaded->config.find_device(ref);
    if (!d) {
      t.error = "no device '" + ref + "' in " + *path;
      return t;
    }
    t.device = *d;
    if (d->is_sub_device()) {
      const auto* p = loaded->config.find_device(d->parent);
      if (!p) {
        t.error = "the gateway of sub-device '" + ref + "' is not configured";
        return t;
      }
      config::DeviceConfig merged = *p;
      merged.cid = d->cid;
      merged.mapping = d->mapping;
      merged.dps = d->dps;
      t.device = merged;
    }
  } else {
    t.device.id = ref;
    t.device.local_key = a.get("--key").value_or("");
    t.device.address = a.get("--address").value_or("");
    if (t.device.local_key.size() != 16 || t.device.address.empty()) {
      t.error = "give -c <config> or both --key (16 characters) and --address";
      return t;
    }
  }
  if (auto v = a.get("--version")) t.device.version = *v;
  if (auto p = a.get("--port")) t.device.port = static_cast<uint16_t>(std::stoul(*p));
  if (t.device.address == "auto") t.error = "the address of '" + ref + "' is 'auto': give --address";
  return t;
}

int oneshot(int argc, char** argv, bool is_set) {
  ArgSpec spec{{"--config", "--key", "--address", "--version", "--port", "--timeout"},
               {"--help"},
               {{"-c", "--config"}, {"-h", "--help"}}};
  auto a = parse_args(args_of(argc, argv), spec);
  if (!a) {
    std::fprintf(stderr, "tuya2mqtt: %s\n", a.error().message.c_str());
    return EXIT_USAGE;
  }
  if (a->has("--help")) {
    std::fputs(STATUS_HELP, stdout);
    return 0;
  }
  const size_t need = is_set ? 3 : 1;
  if (a->positional.size() != need) {
    std::fputs(STATUS_HELP, stderr);
    return EXIT_USAGE;
  }
  OneShotTarget target;
  try {
    target = resolve_target(*a, a->positional[0]);
  } catch (const std::exception&) {
    target.error = "--port takes a number";
  }
  if (!target.error.empty()) {
    std::fprintf(stderr, "tuya2mqtt: %s\n", target.error.c_str());
    return EXIT_USAGE;
  }
  log_register_secret(target.device.local_key);
  log_set_level(LogLevel::WARN);
  const model::DeviceModel dev_model = model::DeviceModel::build(target.device);
  nlohmann::json write;
  if (is_set) {
    auto v = mqtt::parse_bare_value(a->positional[2]);
    if (!v) {
      std::fprintf(stderr, "tuya2mqtt: %s\n", v.error().message.c_str());
      return EXIT_USAGE;
    }
    auto dps = model::command_to_dps(dev_model.model(), a->positional[1], v.value(), nullptr);
    if (!dps) {
      std::fprintf(stderr, "tuya2mqtt: %s\n", dps.error().message.c_str());
      return EXIT_USAGE;
    }
    write = dps.value();
  }
  uint32_t timeout_s = DEFAULT_ONESHOT_TIMEOUT_S;
  if (auto t = a->get("--timeout")) timeout_s = static_cast<uint32_t>(std::strtoul(t->c_str(), nullptr, 10));

  uv_loop_t loop;
  uv_loop_init(&loop);
  int rc = EXIT_FAILED;
  nlohmann::json dps = nlohmann::json::object();
  std::string error;
  {
    UvTimers timers(&loop);
    UvTcpTransportFactory transports(&loop);
    Scheduler sched(timers);
    SessionOptions o;
    o.device_id = target.device.id;
    o.local_key = to_bytes(target.device.local_key);
    o.host = target.device.address;
    o.port = target.device.port;
    o.version = target.device.version == "auto" ? std::nullopt : proto::parse_version(target.device.version);
    o.device22 = target.device.device22;
    o.backoff_min_ms = 500;  // one-shot: retry quickly within the timeout
    std::optional<std::string> cid;
    if (!target.device.cid.empty()) cid = target.device.cid;
    std::unique_ptr<DeviceSession> session;
    bool wrote = false;
    auto finish = [&](int code) {
      rc = code;
      sched.cancel_all();
      if (session) session->stop();
    };
    DeviceSession::Callbacks cb;
    cb.on_report = [&](const nlohmann::json& r, const std::optional<std::string>& rcid) {
      if (cid && rcid != cid) return;
      for (auto it = r.begin(); it != r.end(); ++it) dps[it.key()] = it.value();
      // status: the first full answer is enough; set: wait for the write's acknowledgement
      if (!is_set) finish(0);
    };
    cb.on_error = [&](const Error& e) { error = e.message; };
    cb.on_link = [&](bool up, const std::string&) {
      if (!up || !is_set || wrote) return;
      wrote = true;
      session->set_dps(write, cid, [&](const Status& st) {
        if (!st.ok()) {
          error = st.error().message;
          finish(EXIT_FAILED);
          return;
        }
        // The device echoes the change in a STATUS right after the ACK; give it a moment.
        sched.set_timeout("echo", 500, [&] { finish(0); });
      });
    };
    session = std::make_unique<DeviceSession>(o, timers, transports, system_random(), cb);
    sched.set_timeout("deadline", timeout_s * MS_PER_S, [&] {
      if (error.empty()) error = "no answer within " + std::to_string(timeout_s) + " s";
      finish(EXIT_FAILED);
    });
    session->start();
    uv_run(&loop, UV_RUN_DEFAULT);
    session.reset();
  }
  uv_close_all_and_drain(&loop);
  if (rc != 0) {
    std::fprintf(stderr, "tuya2mqtt: %s\n", error.empty() ? "failed" : error.c_str());
    return rc;
  }
  std::printf("%s\n", dev_model.to_state(dps).dump(2).c_str());
  return 0;
}

}  // namespace

int status_main(int argc, char** argv) {
  return oneshot(argc, argv, false);
}
int set_main(int argc, char** argv) {
  return oneshot(argc, argv, true);
}

int cli_main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(MAIN_HELP, stderr);
    return EXIT_USAGE;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(MAIN_HELP, stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("tuya2mqtt %s\n", std::string(GATEWAY_VERSION).c_str());
    return 0;
  }
  if (cmd == "run") return run_main(argc - 1, argv + 1);
  if (cmd == "scan") return scan_main(argc - 1, argv + 1);
  if (cmd == "status") return status_main(argc - 1, argv + 1);
  if (cmd == "set") return set_main(argc - 1, argv + 1);
  if (cmd == "wizard") return cloud::wizard_main(argc - 1, argv + 1);
  if (cmd == "history") return cloud::history_main(argc - 1, argv + 1);
  std::fprintf(stderr, "tuya2mqtt: unknown command '%s'\n\n%s", cmd.c_str(), MAIN_HELP);
  return EXIT_USAGE;
}

}  // namespace t2m::gw

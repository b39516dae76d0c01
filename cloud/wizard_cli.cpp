#include "cloud/wizard_cli.h"

#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cloud/history.h"
#include "cloud/http_client.h"
#include "cloud/wizard.h"
#include "common/log.h"
#include "common/timers.h"
#include "common/uv_handle.h"

namespace t2m::cloud {

using nlohmann::json;

namespace {

// Error::code of a private loop that could not be created.
constexpr const char* ERR_LOOP = "uv";
// Exit codes: a usage or configuration mistake is 2, a failed cloud operation 1.
constexpr int EXIT_OK = 0;
constexpr int EXIT_FAILED = 1;
constexpr int EXIT_USAGE = 2;

struct Args {
  std::map<std::string, std::string> opts;
  std::set<std::string> flags;
  std::vector<std::string> positional;
  std::string error;
};

Args parse_args(int argc, char** argv, const std::set<std::string>& flag_names,
                const std::set<std::string>& opt_names) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0 || s == "--") {
      a.positional.push_back(s);
      continue;
    }
    std::string name = s.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flag_names.count(name)) {
      a.flags.insert(name);
      continue;
    }
    if (!opt_names.count(name)) {
      a.error = "unknown option --" + name;
      return a;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        a.error = "--" + name + " needs a value";
        return a;
      }
      value = argv[++i];
    }
    a.opts[name] = value;
  }
  return a;
}

std::string opt(const Args& a, const std::string& name, const std::string& fallback = "") {
  auto it = a.opts.find(name);
  return it == a.opts.end() ? fallback : it->second;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string prompt(std::istream& in, std::ostream& out, const std::string& question, bool secret) {
  out << question << ": " << std::flush;
  termios saved{};
  const bool hide =
      secret && &in == &std::cin && ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (hide) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(in, line);
  if (hide) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    out << "\n";
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  while (!line.empty() && line.front() == ' ') line.erase(line.begin());
  return line;
}

// The cloud section of the gateway's config file, if one was given.
struct FileCloud {
  json cloud = json::object();
  std::string device_list;
};

Result<FileCloud> read_config_cloud(const std::string& path) {
  FileCloud fc;
  if (path.empty()) return fc;
  std::ifstream in(path);
  if (!in) return fail(ERR_CONFIG, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json doc = json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(ERR_CONFIG, path + " is not a JSON object");
  if (doc.contains("cloud") && doc["cloud"].is_object()) fc.cloud = doc["cloud"];
  fc.device_list = json_string(doc, "device_list");
  if (!fc.device_list.empty() && fc.device_list[0] != '/') {
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos) fc.device_list = path.substr(0, slash + 1) + fc.device_list;
  }
  return fc;
}

struct CliCloud {
  CloudConfig config;
  std::string user_id, device_id, device_list;
};

// Flags win over the environment (TUYA_ACCESS_ID, TUYA_ACCESS_SECRET, TUYA_REGION), which wins over
// the config file; what is still missing is asked on stdin unless --no-input.
Result<CliCloud> resolve_cloud(const Args& a, std::istream& in, std::ostream& out) {
  auto fc = read_config_cloud(opt(a, "config"));
  if (!fc) return fail(fc.error());
  CliCloud c;
  auto pick = [&](const char* flag, const char* env_name, const char* key) {
    std::string v = opt(a, flag);
    if (v.empty() && env_name) v = env(env_name);
    if (v.empty()) v = json_string(fc->cloud, key);
    return v;
  };
  c.config.access_id = pick("access-id", "TUYA_ACCESS_ID", "access_id");
  c.config.access_secret = pick("secret", "TUYA_ACCESS_SECRET", "access_secret");
  c.config.region = pick("region", "TUYA_REGION", "region");
  c.config.base_url = pick("base-url", nullptr, "base_url");
  c.user_id = pick("user-id", nullptr, "user_id");
  c.device_id = pick("device-id", nullptr, "device_id");
  c.device_list = opt(a, "out", opt(a, "devices", fc->device_list));
  const bool interactive = !a.flags.count("no-input");
  if (c.config.access_id.empty() && interactive) {
    c.config.access_id = prompt(in, out, "Access ID (Tuya IoT platform > Cloud > project > Overview)", false);
  }
  if (c.config.access_secret.empty() && interactive) {
    c.config.access_secret = prompt(in, out, "Access Secret (not shown)", true);
  }
  if (c.config.region.empty() && c.config.base_url.empty() && interactive) {
    c.config.region =
        prompt(in, out, "Region of the app account's data center (cn, us, us-e, eu, eu-w, in, sg)", false);
  }
  log_register_secret(c.config.access_secret);
  if (c.config.access_id.empty()) return fail(ERR_CONFIG, "no Access ID (--access-id or TUYA_ACCESS_ID)");
  if (c.config.access_secret.empty())
    return fail(ERR_CONFIG, "no Access Secret (--secret or TUYA_ACCESS_SECRET)");
  if (c.config.base_url.empty()) {
    if (c.config.region.empty()) return fail(ERR_CONFIG, "no region (--region)");
    if (auto url = region_base_url(c.config.region); !url) return fail(url.error());
  }
  return c;
}

// Runs one async operation on a private loop until its callback fires.
template <class T>
Result<T> run_on_loop(const CloudConfig& config, const std::function<void(OpenApi&, Callback<T>)>& start) {
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) return fail(ERR_LOOP, "cannot create an event loop");
  std::optional<Result<T>> out;
  {
    UvTimers timers(&loop);
    CurlHttpClient http(&loop);
    OpenApi api(http, timers, config);
    start(api, [&out](Result<T> r) { out.emplace(std::move(r)); });
    while (!out && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    api.channel().cancel_all();
  }
  uv_close_all_and_drain(&loop);
  if (!out) return fail(ERR_OTHER, "the operation ended without a result");
  return std::move(*out);
}

const std::set<std::string> COMMON_OPTS = {"access-id", "secret",  "region",   "base-url",
                                           "config",    "user-id", "device-id"};

void print_wizard_help(std::ostream& out) {
  out << "usage: tuya2mqtt wizard [options]\n"
         "Fetches the devices, local keys and DP mappings of a Tuya app account through a Tuya IoT platform\n"
         "cloud project and writes a device list (tinytuya devices.json format, readable only by you).\n\n"
         "  --access-id ID      cloud project Access ID      (or TUYA_ACCESS_ID, or cloud.access_id in "
         "--config)\n"
         "  --secret SECRET     cloud project Access Secret  (or TUYA_ACCESS_SECRET; asked without echo)\n"
         "  --region R          cn, us, us-e, eu, eu-w, in, sg: the app account's data center\n"
         "  --base-url URL      OpenAPI base URL instead of the region's\n"
         "  --device-id ID      any one device of the app account (to find the account)\n"
         "  --user-id UID       or the app account's uid\n"
         "  --config FILE       read the above from the \"cloud\" section of a tuya2mqtt config\n"
         "  --out FILE          device list to write (default devices.json, or the config's device_list)\n"
         "  --refresh           update an existing list: new keys of re-paired devices, new devices; report "
         "changes\n"
         "  --no-specs          skip DP specifications (no \"mapping\")\n"
         "  --no-input          never prompt; fail when something is missing\n"
         "  --help              this text\n";
}

void print_history_help(std::ostream& out) {
  out << "usage: tuya2mqtt history <device id or name> --out FILE.csv [options]\n"
         "Appends the device's cloud report logs to a CSV file; only events newer than the file's last row\n"
         "are added, so it can run from cron.\n\n"
         "  --out FILE          CSV file (created with a header, then appended to)\n"
         "  --since T           start (default: resume from the file, else 7 days back):\n"
         "                      ms or s epoch, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, or 7d / 12h / 30m ago\n"
         "  --until T           end (default now)\n"
         "  --codes a,b         DP codes (default: every code of the device's specification)\n"
         "  --devices FILE      device list for resolving names (default: the config's device_list)\n"
         "  --access-id, --secret, --region, --base-url, --config, --no-input: as for `tuya2mqtt wizard`\n"
         "  --help              this text\n";
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

}  // namespace

int wizard_main(int argc, char** argv) {
  std::set<std::string> opts = COMMON_OPTS;
  opts.insert("out");
  Args a = parse_args(argc, argv, {"help", "refresh", "no-specs", "no-input"}, opts);
  if (a.flags.count("help")) {
    print_wizard_help(std::cout);
    return EXIT_OK;
  }
  if (!a.error.empty() || !a.positional.empty()) {
    std::cerr << "wizard: " << (a.error.empty() ? "unexpected argument " + a.positional[0] : a.error) << "\n";
    print_wizard_help(std::cerr);
    return EXIT_USAGE;
  }
  auto cloud = resolve_cloud(a, std::cin, std::cout);
  if (!cloud) {
    std::cerr << "wizard: " << cloud.error().message << "\n";
    return EXIT_USAGE;
  }
  WizardOptions wo;
  wo.user_id = cloud->user_id;
  wo.device_id = cloud->device_id;
  if (wo.user_id.empty() && wo.device_id.empty() && !a.flags.count("no-input")) {
    wo.device_id =
        prompt(std::cin, std::cout, "Device ID of any one of your devices (from the Tuya app)", false);
  }
  wo.out_path = cloud->device_list.empty() ? "devices.json" : cloud->device_list;
  wo.refresh = a.flags.count("refresh") != 0;
  wo.with_specs = !a.flags.count("no-specs");

  auto report = run_on_loop<WizardReport>(
      cloud->config, [&](OpenApi& api, Callback<WizardReport> cb) { run_wizard(api, wo, std::move(cb)); });
  if (!report) {
    std::cerr << "wizard: " << log_scrub(report.error().message) << "\n";
    return EXIT_FAILED;
  }
  const WizardReport& r = report.value();
  std::cout << "Wrote " << r.devices << " devices to " << wo.out_path << " (" << r.sub_devices
            << " sub-devices, " << r.with_mapping << " with a DP mapping";
  if (r.spec_failures) std::cout << ", " << r.spec_failures << " without a specification";
  std::cout << "), readable only by you.\n";
  if (wo.refresh) {
    if (r.changes.empty()) std::cout << "Nothing changed.\n";
    for (const auto& c : r.changes) {
      std::cout << "  " << (c.name.empty() ? c.id : c.name) << " (" << c.id << "): " << to_string(c.kind);
      if (!c.detail.empty()) std::cout << ", " << c.detail;
      std::cout << "\n";
    }
  }
  std::cout << "App account uid: " << r.owner_uid << " (put it in the config as cloud.user_id).\n";
  return EXIT_OK;
}

int history_main(int argc, char** argv) {
  std::set<std::string> opts = COMMON_OPTS;
  opts.insert({"out", "since", "until", "codes", "devices"});
  Args a = parse_args(argc, argv, {"help", "no-input"}, opts);
  if (a.flags.count("help")) {
    print_history_help(std::cout);
    return EXIT_OK;
  }
  if (!a.error.empty() || a.positional.size() != 1 || opt(a, "out").empty()) {
    std::cerr << "history: " << (a.error.empty() ? "give one device and --out FILE.csv" : a.error) << "\n";
    print_history_help(std::cerr);
    return EXIT_USAGE;
  }
  // The CSV path is --out; the device list for names is --devices or the config's.
  Args for_cloud = a;
  for_cloud.opts.erase("out");
  auto cloud = resolve_cloud(for_cloud, std::cin, std::cout);
  if (!cloud) {
    std::cerr << "history: " << cloud.error().message << "\n";
    return EXIT_USAGE;
  }
  std::string device = a.positional[0];
  const std::string list_path = opt(a, "devices", cloud->device_list);
  if (!list_path.empty()) {
    if (auto list = read_device_list(list_path)) {
      for (const auto& e : list.value()) {
        if (json_string(e, "name") == device) device = json_string(e, "id");
      }
    }
  }
  UvTimers clock(nullptr);  // wall clock only: no loop needed
  const int64_t now = clock.unix_ms();
  HistoryRequest req;
  req.device_id = device;
  req.out_path = opt(a, "out");
  req.codes = split_list(opt(a, "codes"));
  for (const char* which : {"since", "until"}) {
    const std::string text = opt(a, which);
    if (text.empty()) continue;
    auto t = parse_time_arg(text, now);
    if (!t) {
      std::cerr << "history: --" << which << ": " << t.error().message << "\n";
      return EXIT_USAGE;
    }
    (std::string(which) == "since" ? req.since_ms : req.until_ms) = *t;
  }
  auto result = run_on_loop<HistoryResult>(cloud->config, [&](OpenApi& api, Callback<HistoryResult> cb) {
    // Wall time comes from the API's clock-corrected view once the token is known.
    api.channel().connect([&api, req, cb](Result<std::string> ok) {
      if (!ok) {
        cb(fail(ok.error()));
        return;
      }
      UvTimers t(nullptr);  // wall clock only
      export_history(api, req, t.unix_ms() + api.channel().clock_offset_ms(), cb);
    });
  });
  if (!result) {
    std::cerr << "history: " << log_scrub(result.error().message) << "\n";
    return EXIT_FAILED;
  }
  std::cout << "Appended " << result->appended << " new events (" << result->fetched << " fetched, "
            << iso_utc(result->from_ms) << " .. " << iso_utc(result->to_ms) << ") to " << req.out_path
            << "\n";
  return EXIT_OK;
}

}  // namespace t2m::cloud

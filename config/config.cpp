// The shared toolkit of config/: typed readers of JSON values, durations, and loading a configuration
// from its file (with its device list, and the permission check of files that hold keys).
#include "config/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "config/config_internal.h"

namespace t2m::config {
namespace detail {

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string type_name(const json& v) {
  return v.type_name();
}

void check_unknown(Ctx& ctx, const json& obj, const std::string& path,
                   std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : obj.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end())
      ctx.warn(join(path, k), "unknown key, ignored");
  }
}

bool get_string(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, std::string& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_string()) {
    ctx.err(join(path, key), "must be a string (got " + type_name(*it) + ")");
    return false;
  }
  out = it->get<std::string>();
  return true;
}

bool get_bool(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, bool& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    ctx.err(join(path, key), "must be true or false (got " + type_name(*it) + ")");
    return false;
  }
  out = it->get<bool>();
  return true;
}

bool get_int(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, int64_t& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (it->is_number_integer()) {
    out = it->get<int64_t>();
    return true;
  }
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (d == std::floor(d) && std::fabs(d) < 9e15) {
      out = static_cast<int64_t>(d);
      return true;
    }
  }
  ctx.err(join(path, key),
          "must be an integer (got " + (it->is_number() ? it->dump() : type_name(*it)) + ")");
  return false;
}

bool get_seconds(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, seconds& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  const auto ms = parse_duration(*it);
  if (!ms) {
    ctx.err(join(path, key), "must be a duration: seconds or a string such as \"10s\", \"5m\"");
    return false;
  }
  if (ms->count() % MS_PER_SECOND != 0) {
    ctx.err(join(path, key), "must be whole seconds");
    return false;
  }
  out = std::chrono::duration_cast<seconds>(*ms);
  return true;
}

bool get_millis(Ctx& ctx, const json& obj, std::string_view key, const std::string& path, milliseconds& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  const auto ms = parse_duration(*it);
  if (!ms) {
    ctx.err(join(path, key), "must be a duration: seconds or a string such as \"250ms\", \"1s\"");
    return false;
  }
  out = *ms;
  return true;
}

std::optional<int> parse_dp_id(std::string_view key) {
  int id = 0;
  auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec != std::errc() || p != key.data() + key.size() || id < MIN_DP_ID || id > MAX_DP_ID)
    return std::nullopt;
  return id;
}

json duration_json(milliseconds ms) {
  if (ms.count() % MS_PER_SECOND == 0) return json(ms.count() / MS_PER_SECOND);
  return json(std::to_string(ms.count()) + "ms");
}

}  // namespace detail

namespace {

using namespace detail;

// Does the document hold anything secret? (Permission warnings only matter then.)
bool holds_secrets(const Config& c) {
  if (!c.mqtt.password.empty()) return true;
  if (c.mqtt.tls && !c.mqtt.tls->key_password.empty()) return true;
  if (c.cloud && !c.cloud->access_secret.empty()) return true;
  for (const auto& d : c.devices) {
    if (d.origin == DeviceOrigin::CONFIG && entry_sets(d.extra, "local_key")) {
      return true;
    }
  }
  return false;
}

void check_permissions(const std::string& path, bool secrets, ConfigWarnings& warnings) {
  if (!secrets) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if ((st.st_mode & GROUP_OTHER_BITS) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    warnings.push_back(path + ": readable by group/others (mode " + mode +
                       ") but holds keys or passwords; run: chmod 600 " + path);
  }
}

std::string line_col(const std::string& text, size_t byte) {
  size_t line = 1;
  size_t col = 1;
  for (size_t i = 0; i < text.size() && i + 1 < byte; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Reads and parses a JSON file; the error text never quotes the file's content (it may hold keys).
std::optional<json> read_json(const std::string& path, const std::string& issue_path, Ctx& ctx) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ctx.err(issue_path, "cannot read " + path);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    ctx.err(issue_path, path + ": JSON syntax error at " + line_col(text, e.byte));
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(PushTransport transport) {
  switch (transport) {
    case PushTransport::OFF:
      return "off";
    case PushTransport::PULSAR:
      return "pulsar";
    case PushTransport::OPENHUB:
      return "openhub";
  }
  return "off";
}

std::optional<milliseconds> parse_duration(const json& value) {
  double amount = 0;
  double unit_ms = MS_PER_SECOND;
  if (value.is_number()) {
    amount = value.get<double>();
  } else if (value.is_string()) {
    std::string s = value.get<std::string>();
    s.erase(std::remove_if(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); }), s.end());
    size_t n = 0;
    while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
    if (n == 0) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + n, amount);
    if (ec != std::errc() || p != s.data() + n) return std::nullopt;
    const std::string unit = s.substr(n);
    if (unit == "ms") {
      unit_ms = 1;
    } else if (unit.empty() || unit == "s") {
      unit_ms = MS_PER_SECOND;
    } else if (unit == "m" || unit == "min") {
      unit_ms = static_cast<double>(MS_PER_SECOND * SECONDS_PER_MINUTE);
    } else if (unit == "h") {
      unit_ms = static_cast<double>(MS_PER_SECOND * SECONDS_PER_HOUR);
    } else {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  const double ms = amount * unit_ms;
  // A week is far beyond any interval here; the bound keeps the conversion defined.
  constexpr double MAX_MS = 7.0 * 24 * SECONDS_PER_HOUR * MS_PER_SECOND;
  if (!std::isfinite(ms) || ms < 0 || ms > MAX_MS) return std::nullopt;
  return milliseconds(std::llround(ms));
}

const DeviceConfig* Config::find_device(std::string_view id_or_name) const {
  for (const auto& d : devices) {
    if (d.id == id_or_name) return &d;
  }
  for (const auto& d : devices) {
    if (d.display_name() == id_or_name) return &d;
  }
  return nullptr;
}

DeviceConfig* Config::find_device(std::string_view id_or_name) {
  return const_cast<DeviceConfig*>(std::as_const(*this).find_device(id_or_name));
}

Result<LoadedConfig, ConfigIssues> load_config(const std::string& path) {
  Ctx ctx;
  LoadedConfig out;
  std::error_code ec;
  out.path = std::filesystem::absolute(path, ec).string();
  if (ec) out.path = path;
  auto doc = read_json(path, "", ctx);
  if (!doc) return fail(ctx.issues);
  json list = nullptr;
  if (doc->is_object() && doc->contains("device_list") && (*doc)["device_list"].is_string()) {
    std::filesystem::path lp((*doc)["device_list"].get<std::string>());
    if (lp.is_relative()) lp = std::filesystem::path(out.path).parent_path() / lp;
    out.device_list_path = lp.string();
    auto l = read_json(out.device_list_path, "device_list", ctx);
    if (!l) return fail(ctx.issues);
    list = std::move(*l);
  }
  auto parsed = parse_config(*doc, list, &out.warnings);
  if (!parsed) return fail(parsed.error());
  out.config = std::move(*parsed);
  check_permissions(path, holds_secrets(out.config), out.warnings);
  if (!out.device_list_path.empty()) {
    bool list_keys = false;
    for (const auto& [id, d] : out.config.device_list_entries) list_keys = list_keys || !d.local_key.empty();
    check_permissions(out.device_list_path, list_keys, out.warnings);
  }
  return out;
}

}  // namespace t2m::config

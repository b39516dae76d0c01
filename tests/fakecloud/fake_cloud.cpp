// The fake's front door: target parsing, the signature and token checks of every request, token grants
// and refreshes, injected failures, and routing to the endpoint handlers (fake_cloud_endpoints.cpp).
#include "tests/fakecloud/fake_cloud.h"

#include <algorithm>
#include <cstdlib>

#include "tests/fakecloud/fake_cloud_util.h"

namespace t2m::fakecloud {

using nlohmann::json;
using namespace detail;

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hexval = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (s[i] == '+') ? ' ' : s[i];
  }
  return out;
}

bool parse_target(std::string_view target, std::string& path, cloud::KeyValues& query) {
  size_t scheme = target.find("://");
  if (scheme != std::string_view::npos) {
    size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  if (target.empty() || target[0] != '/') return false;
  size_t q = target.find('?');
  path = std::string(target.substr(0, q));
  query.clear();
  if (q == std::string_view::npos) return true;
  for (const auto& part : split(target.substr(q + 1), '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string::npos) {
      query.emplace_back(url_decode(part), "");
    } else {
      query.emplace_back(url_decode(part.substr(0, eq)), url_decode(part.substr(eq + 1)));
    }
  }
  return true;
}

FakeCloud::FakeCloud(Timers& clock) : FakeCloud(clock, Options{}) {}
FakeCloud::FakeCloud(Timers& clock, Options options) : clock_(clock), options_(std::move(options)) {}

void FakeCloud::add_device(FakeDevice device) {
  std::string id = device.id;
  devices_[id] = std::move(device);
}

FakeDevice* FakeCloud::device(const std::string& id) {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : &it->second;
}

void FakeCloud::remove_device(const std::string& id) {
  devices_.erase(id);
}

void FakeCloud::fail(const std::string& prefix, Failure failure) {
  failures_.emplace_back(prefix, std::move(failure));
}

void FakeCloud::expire_all_tokens() {
  for (auto& [tok, t] : tokens_) t.expires_at = now_ms() - 1;
}

FakeFirmware* FakeCloud::firmware(const std::string& device_id, int channel) {
  auto it = firmware_.find(device_id);
  if (it == firmware_.end()) return nullptr;
  for (auto& f : it->second) {
    if (f.channel == channel) return &f;
  }
  return nullptr;
}

int FakeCloud::count(const std::string& prefix) const {
  return static_cast<int>(
      std::count_if(log_.begin(), log_.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
}

Response FakeCloud::ok(const json& result) const {
  json env = {
      {"success", true}, {"t", now_ms()}, {"tid", "fake-tid-" + std::to_string(serial_)}, {"result", result}};
  return Response{200, env.dump(), false};
}

Response FakeCloud::error(int code, const std::string& msg) const {
  json env = {{"code", code}, {"msg", msg}, {"success", false}, {"t", now_ms()}, {"tid", "fake-tid-err"}};
  return Response{200, env.dump(), false};
}

std::optional<Response> FakeCloud::authenticate(const Request& r, bool token_call) {
  auto header = [&](const char* name) -> const std::string* {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? nullptr : &it->second;
  };
  const std::string* client_id = header("client_id");
  const std::string* sign = header("sign");
  const std::string* t = header("t");
  const std::string* method = header("sign_method");
  if (!client_id || !sign || !t || !method) return error(1105, "missing the header");
  if (*method != "HMAC-SHA256") return error(1004, "sign invalid");
  if (*client_id != options_.client_id) return error(1005, "clientId invalid");
  const int64_t tv = to_i64(*t, -1);
  if (t->size() != 13 || tv < 0 || std::llabs(tv - now_ms()) > options_.sign_window_ms) {
    return error(1013, "request time is invalid");
  }
  cloud::SignInput in;
  in.method = r.method;
  in.path = r.path;
  in.query = r.query;
  in.body = r.body;
  in.client_id = *client_id;
  in.secret = options_.secret;
  in.t = *t;
  if (const std::string* nonce = header("nonce")) in.nonce = *nonce;
  if (const std::string* sh = header("signature-headers")) {
    for (const auto& name : split(*sh, ':')) {
      if (name.empty()) continue;
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const std::string* v = header(lower.c_str());
      in.signed_headers.emplace_back(name, v ? *v : "");
    }
  }
  const std::string* token = header("access_token");
  if (!token_call) {
    if (!token || token->empty()) return error(1002, "access_token is null");
    in.access_token = *token;
  }
  if (cloud::sign_request(in) != *sign) {
    ++sign_rejects_;
    return error(1004, "sign invalid");
  }
  if (!token_call) {
    auto it = tokens_.find(*token);
    if (it == tokens_.end()) return error(1011, "token invalid");
    if (it->second.expires_at <= now_ms()) return error(1010, "token is expired");
  }
  return std::nullopt;
}

Response FakeCloud::issue_token() {
  if (options_.reuse_valid_token) {
    for (const auto& [tok, t] : tokens_) {
      if (t.expires_at > now_ms()) {
        json res = {{"access_token", tok},
                    {"refresh_token", t.refresh},
                    {"expire_time", (t.expires_at - now_ms()) / 1000},
                    {"uid", options_.project_uid}};
        return ok(res);
      }
    }
  }
  ++serial_;
  std::string access = "fake-at-" + std::to_string(serial_) + "-0123456789abcdef";
  std::string refresh = "fake-rt-" + std::to_string(serial_) + "-fedcba9876543210";
  tokens_[access] = Token{now_ms() + options_.expire_time_s * 1000, refresh};
  refresh_tokens_[refresh] = access;
  json res = {{"access_token", access},
              {"refresh_token", refresh},
              {"expire_time", options_.expire_time_s},
              {"uid", options_.project_uid}};
  return ok(res);
}

Response FakeCloud::handle(const Request& r) {
  const std::string line = r.method + " " + r.path;
  log_.push_back(line);
  const bool token_call = r.method == "GET" && r.path.rfind("/v1.0/token", 0) == 0;
  if (auto rejected = authenticate(r, token_call)) return *rejected;

  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (line.rfind(it->first, 0) != 0) continue;
    Failure f = it->second;
    if (--it->second.times <= 0) failures_.erase(it);
    if (f.hang) return Response{200, "", true};
    if (f.http_status) return Response{f.http_status, "<html>upstream error</html>", false};
    if (f.malformed) return Response{200, "{\"success\":true,\"result\":[1,2", false};
    return error(f.code, f.msg);
  }

  std::vector<std::string> seg = split(r.path, '/');
  if (!seg.empty() && seg[0].empty()) seg.erase(seg.begin());
  return route(r, seg);
}

Response FakeCloud::route(const Request& r, const std::vector<std::string>& seg) {
  const size_t n = seg.size();
  auto is = [&](std::initializer_list<const char*> parts) {
    if (parts.size() != n) return false;
    size_t i = 0;
    for (const char* p : parts) {
      if (std::string(p) != "*" && seg[i] != p) return false;
      ++i;
    }
    return true;
  };
  const bool get = r.method == "GET";
  const bool post = r.method == "POST";

  // Tokens.
  if (get && is({"v1.0", "token"})) {
    if (query_get(r.query, "grant_type") != "1") return error(1003, "grant type invalid");
    ++grants_;
    return issue_token();
  }
  if (get && is({"v1.0", "token", "*"})) {
    auto it = refresh_tokens_.find(seg[2]);
    if (it == refresh_tokens_.end()) return error(1012, "token status invalid");
    ++refreshes_;
    tokens_.erase(it->second);  // the old pair dies
    refresh_tokens_.erase(it);
    const bool reuse = options_.reuse_valid_token;
    options_.reuse_valid_token = false;
    Response resp = issue_token();
    options_.reuse_valid_token = reuse;
    return resp;
  }

  // Listings.
  if (get && is({"v2.0", "cloud", "thing", "device"})) return thing_list(r);
  if (get && is({"v1.3", "iot-03", "devices"})) return v13_list(r);
  if (get && is({"v1.0", "iot-01", "associated-users", "devices"})) return associated(r);
  if (get && is({"v1.0", "users", "*", "devices"})) return user_devices(seg[2]);
  if (get && is({"v1.0", "devices", "factory-infos"})) return factory_infos(r);
  if (get && is({"v1.0", "iot-03", "devices", "status"})) return batch_status(r);

  // Open-hub MQTT access config (§6.b), both project types.
  if (post &&
      (is({"v1.0", "open-hub", "access", "config"}) || is({"v1.0", "iot-03", "open-hub", "access-config"})))
    return openhub_config(r);

  // Per-device APIs: find the device id segment.
  std::string id;
  if (n >= 3 && seg[1] == "devices") id = seg[2];
  if (n >= 4 && seg[1] == "iot-03" && seg[2] == "devices") id = seg[3];
  if (n >= 4 && seg[1] == "cloud" && seg[2] == "thing") id = seg[3];
  auto dit = devices_.find(id);
  if (id.empty()) return error(1108, "uri path invalid");
  if (dit == devices_.end()) return error(2005, "device is not exist");
  FakeDevice& d = dit->second;

  if (get && is({"v1.0", "devices", "*"})) return ok(device_json(d, false));
  if (get && is({"v1.0", "devices", "*", "status"})) return ok(d.status);
  if (get && is({"v1.0", "devices", "*", "specifications"})) return specifications(d, false);
  if (get && is({"v1.1", "devices", "*", "specifications"})) return specifications(d, true);
  if (get && is({"v1.0", "iot-03", "devices", "*", "specification"})) return specifications(d, false);
  if (get && is({"v2.0", "cloud", "thing", "*", "model"})) return model(d);
  if (get && is({"v2.0", "cloud", "thing", "*", "shadow", "properties"})) return shadow(d, r);
  if (post &&
      (is({"v1.0", "devices", "*", "commands"}) || is({"v1.0", "iot-03", "devices", "*", "commands"})))
    return commands(d, r);
  if (post && is({"v2.0", "cloud", "thing", "*", "shadow", "properties", "issue"}))
    return issue_properties(d, r);
  if (get && is({"v2.1", "cloud", "thing", "*", "report-logs"})) return report_logs(d, r);
  if (get && is({"v2.0", "cloud", "thing", "*", "firmware"})) return firmware_query(d);
  if (post && is({"v2.0", "cloud", "thing", "*", "firmware", "*"}))
    return firmware_start(d, to_int(seg[5], -1));
  if (get && is({"v2.0", "cloud", "thing", "*", "firmware", "*", "progress"})) {
    return firmware_progress(d, to_int(seg[5], -1));
  }
  return error(1108, "uri path invalid");
}

}  // namespace t2m::fakecloud

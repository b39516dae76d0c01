#include "tests/fakecloud/fake_cloud.h"

#include <algorithm>
#include <cstdlib>

namespace t2m::fakecloud {

using nlohmann::json;

namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// json::value() with a string default trips GCC's -Wnull-dereference inside nlohmann; this does not.
std::string sval(const json& j, const char* key, const char* fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const json& v = j.at(key);
  if (!v.is_string()) return fallback;
  return v.get_ref<const std::string&>();
}

std::string query_get(const cloud::KeyValues& q, const std::string& key) {
  for (const auto& [k, v] : q) {
    if (k == key) return v;
  }
  return {};
}

bool query_has(const cloud::KeyValues& q, const std::string& key) {
  return std::any_of(q.begin(), q.end(), [&](const auto& kv) { return kv.first == key; });
}

int to_int(const std::string& s, int fallback) {
  if (s.empty()) return fallback;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  return (end && *end == 0) ? static_cast<int>(v) : fallback;
}

int64_t to_i64(const std::string& s, int64_t fallback) {
  if (s.empty()) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  return (end && *end == 0) ? v : fallback;
}

}  // namespace

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

Response FakeCloud::openhub_config(const Request& r) {
  if (!openhub_) return error(1106, "permission deny");
  const json body = json::parse(r.body, nullptr, false);
  auto str = [&](const char* key) -> std::string {
    if (!body.is_object() || !body.contains(key) || !body.at(key).is_string()) return {};
    return body.at(key).get<std::string>();
  };
  const std::string version = str("msg_encrypted_version");
  if (str("link_id").empty() || str("link_type") != "mqtt" || str("topics") != "device" ||
      (version != "1.0" && version != "2.0"))
    return error(1109, "param is illegal");
  if (str("uid") != options_.project_uid) return error(1106, "permission deny");
  openhub_requests_.push_back(body);
  const std::string sink = "cloud/token/out/" + openhub_->client_id;
  return ok({{"url", openhub_->url},
             {"client_id", openhub_->client_id},
             {"username", openhub_->username},
             {"password", openhub_->password},
             {"expire_time", openhub_->expire_time_s},
             {"source_topic", {{"device", openhub_->source_topic}}},
             {"sink_topic", {{"device", sink}}}});
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
  if (get && is({"v1.0", "users", "*", "devices"})) {
    if (seg[2] == options_.project_uid) return error(1106, "permission deny");
    std::vector<const FakeDevice*> list;
    for (const auto& [id, d] : devices_) {
      if (d.uid == seg[2]) list.push_back(&d);
    }
    return device_json_list(list);
  }
  if (get && is({"v1.0", "devices", "factory-infos"})) {
    json arr = json::array();
    for (const auto& id : split(query_get(r.query, "device_ids"), ',')) {
      auto it = devices_.find(id);
      if (it == devices_.end()) continue;
      arr.push_back({{"id", id}, {"mac", it->second.mac}, {"uuid", it->second.uuid}, {"sn", ""}});
    }
    return ok(arr);
  }
  if (get && is({"v1.0", "iot-03", "devices", "status"})) {
    json arr = json::array();
    for (const auto& id : split(query_get(r.query, "device_ids"), ',')) {
      auto it = devices_.find(id);
      if (it != devices_.end()) arr.push_back({{"id", id}, {"status", it->second.status}});
    }
    return ok(arr);
  }

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
      (is({"v1.0", "devices", "*", "commands"}) || is({"v1.0", "iot-03", "devices", "*", "commands"}))) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.contains("commands") || !body["commands"].is_array()) {
      return error(1109, "param is illegal");
    }
    json kv = json::object();
    for (const auto& c : body["commands"]) {
      if (!c.is_object() || !c.contains("code") || !c["code"].is_string() || !c.contains("value")) {
        return error(1109, "param is illegal");
      }
      kv[c["code"].get<std::string>()] = c["value"];
    }
    return write(d, kv);
  }
  if (post && is({"v2.0", "cloud", "thing", "*", "shadow", "properties", "issue"})) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.contains("properties")) return error(1109, "param is illegal");
    json props = body["properties"];
    if (props.is_string()) props = json::parse(props.get<std::string>(), nullptr, false);
    if (!props.is_object()) return error(1109, "param is illegal");
    return write(d, props);
  }
  if (get && is({"v2.1", "cloud", "thing", "*", "report-logs"})) return report_logs(d, r);
  if (get && is({"v2.0", "cloud", "thing", "*", "firmware"})) return firmware_query(d);
  if (post && is({"v2.0", "cloud", "thing", "*", "firmware", "*"}))
    return firmware_start(d, to_int(seg[5], -1));
  if (get && is({"v2.0", "cloud", "thing", "*", "firmware", "*", "progress"})) {
    return firmware_progress(d, to_int(seg[5], -1));
  }
  return error(1108, "uri path invalid");
}

json FakeCloud::device_json(const FakeDevice& d, bool camel) const {
  json j = {{"id", d.id},
            {"name", d.name},
            {"uid", d.uid},
            {"owner_id", "home-1"},
            {"category", d.category},
            {"product_id", d.product_id},
            {"product_name", d.product_name},
            {"sub", d.sub},
            {"uuid", d.uuid},
            {"ip", d.ip},
            {"icon", d.icon},
            {"time_zone", d.time_zone},
            {"model", d.model},
            {"active_time", 1690000000},
            {"create_time", 1690000000},
            {"update_time", 1700000000},
            {"status", d.status}};
  if (camel) {
    j["localKey"] = d.local_key;
    j["isOnline"] = d.online;
    j["customName"] = d.name;
  } else {
    j["local_key"] = d.local_key;
    j["online"] = d.online;
  }
  if (!d.node_id.empty()) j["node_id"] = d.node_id;
  if (!d.gateway_id.empty()) j["gateway_id"] = d.gateway_id;
  return j;
}

Response FakeCloud::device_json_list(const std::vector<const FakeDevice*>& list) const {
  json arr = json::array();
  for (const FakeDevice* d : list) arr.push_back(device_json(*d, false));
  return ok(arr);
}

Response FakeCloud::thing_list(const Request& r) const {
  const int page_size = to_int(query_get(r.query, "page_size"), 0);
  if (page_size <= 0 || page_size > 20) return error(1101, "param is out of range");
  const std::string last_id = query_get(r.query, "last_id");
  json arr = json::array();
  for (auto it = last_id.empty() ? devices_.begin() : devices_.upper_bound(last_id);
       it != devices_.end() && static_cast<int>(arr.size()) < page_size; ++it) {
    arr.push_back(device_json(it->second, options_.camel_case));
  }
  return ok(arr);
}

Response FakeCloud::v13_list(const Request& r) const {
  const std::string source_id = query_get(r.query, "source_id");
  if (query_get(r.query, "source_type") != "tuyaUser") return error(1109, "param is illegal");
  if (source_id == options_.project_uid) return error(1106, "permission deny");
  const int page_size = to_int(query_get(r.query, "page_size"), 20);
  if (page_size <= 0 || page_size > 200) return error(1101, "param is out of range");
  const std::string last = query_get(r.query, "last_row_key");
  json list = json::array();
  std::vector<const FakeDevice*> mine;
  for (const auto& [id, d] : devices_) {
    if (d.uid == source_id) mine.push_back(&d);
  }
  bool has_more = false;
  std::string cursor;
  for (const FakeDevice* d : mine) {
    if (!last.empty() && d->id <= last) continue;
    if (static_cast<int>(list.size()) == page_size) {
      has_more = true;
      break;
    }
    list.push_back(device_json(*d, false));
    cursor = d->id;
  }
  return ok({{"list", list}, {"has_more", has_more}, {"last_row_key", cursor}, {"total", mine.size()}});
}

Response FakeCloud::associated(const Request& r) const {
  const int size = to_int(query_get(r.query, "size"), 20);
  const std::string last = query_get(r.query, "last_row_key");
  json list = json::array();
  bool has_more = false;
  std::string cursor;
  for (const auto& [id, d] : devices_) {
    if (!last.empty() && id <= last) continue;
    if (static_cast<int>(list.size()) == size) {
      has_more = true;
      break;
    }
    list.push_back(device_json(d, false));
    cursor = id;
  }
  return ok(
      {{"devices", list}, {"has_more", has_more}, {"last_row_key", cursor}, {"total", devices_.size()}});
}

Response FakeCloud::specifications(const FakeDevice& d, bool with_dp_id) const {
  if (!d.has_dps) return error(2009, "not support this device");
  json functions = json::array(), status = json::array();
  for (const auto& dp : d.dps) {
    json e = {
        {"code", dp["code"]}, {"type", dp["type"]}, {"values", dp["values"].dump()}, {"name", dp["code"]}};
    if (with_dp_id) e["dp_id"] = dp["dp_id"];
    status.push_back(e);
    if (sval(dp, "mode", "rw") != "ro") functions.push_back(e);
  }
  return ok({{"category", d.category}, {"functions", functions}, {"status", status}});
}

Response FakeCloud::model(const FakeDevice& d) const {
  json props = json::array();
  for (const auto& dp : d.dps) {
    json type_spec = dp["values"];
    const std::string t = dp["type"];
    type_spec["type"] = t == "Boolean"   ? "bool"
                        : t == "Integer" ? "value"
                        : t == "Enum"    ? "enum"
                        : t == "String"  ? "string"
                        : t == "Bitmap"  ? "bitmap"
                                         : "raw";
    props.push_back({{"abilityId", dp["dp_id"]},
                     {"code", dp["code"]},
                     {"name", dp["code"]},
                     {"accessMode", sval(dp, "mode", "rw")},
                     {"typeSpec", type_spec}});
  }
  json m = {{"modelId", d.product_id}, {"services", json::array({{{"code", ""}, {"properties", props}}})}};
  return ok({{"model", m.dump()}});
}

Response FakeCloud::shadow(const FakeDevice& d, const Request& r) const {
  std::vector<std::string> codes;
  if (query_has(r.query, "codes")) codes = split(query_get(r.query, "codes"), ',');
  json props = json::array();
  for (const auto& dp : d.dps) {
    const std::string code = dp["code"];
    if (!codes.empty() && std::find(codes.begin(), codes.end(), code) == codes.end()) continue;
    json value = nullptr;
    for (const auto& s : d.status) {
      if (sval(s, "code", "") == code) value = s["value"];
    }
    props.push_back(
        {{"code", code}, {"dp_id", dp["dp_id"]}, {"custom_name", ""}, {"time", now_ms()}, {"value", value}});
  }
  return ok({{"properties", props}});
}

Response FakeCloud::write(FakeDevice& d, const json& kv) {
  if (!d.online) return error(2001, "device is offline");
  for (const auto& [code, value] : kv.items()) {
    std::string mode, type;
    for (const auto& dp : d.dps) {
      if (sval(dp, "code", "") == code) {
        mode = sval(dp, "mode", "rw");
        type = sval(dp, "type", "");
      }
    }
    if (mode.empty() || mode == "ro") return error(2008, "command or value not support");
    if ((type == "Boolean" && !value.is_boolean()) || (type == "Integer" && !value.is_number_integer()) ||
        (type == "Enum" && !value.is_string())) {
      return error(1104, "type is incorrect");
    }
  }
  for (const auto& [code, value] : kv.items()) {
    bool found = false;
    for (auto& s : d.status) {
      if (sval(s, "code", "") == code) {
        s["value"] = value;
        found = true;
      }
    }
    if (!found) d.status.push_back({{"code", code}, {"value", value}});
    writes_.push_back({{"device", d.id}, {"code", code}, {"value", value}});
  }
  return ok(true);
}

Response FakeCloud::report_logs(const FakeDevice& d, const Request& r) const {
  for (const char* required : {"codes", "start_time", "end_time", "size"}) {
    if (!query_has(r.query, required)) return error(1100, std::string("param is empty: ") + required);
  }
  const auto codes = split(query_get(r.query, "codes"), ',');
  const int64_t start = to_i64(query_get(r.query, "start_time"), 0);
  const int64_t end = to_i64(query_get(r.query, "end_time"), 0);
  const int size = to_int(query_get(r.query, "size"), 20);
  if (size <= 0 || size > 100) return error(1101, "param is out of range");
  std::vector<LogEntry> sel;
  auto it = logs_.find(d.id);
  if (it != logs_.end()) {
    for (const auto& e : it->second) {
      if (e.event_time < start || e.event_time > end) continue;
      if (std::find(codes.begin(), codes.end(), e.code) == codes.end()) continue;
      sel.push_back(e);
    }
  }
  std::stable_sort(sel.begin(), sel.end(),
                   [](const LogEntry& a, const LogEntry& b) { return a.event_time > b.event_time; });
  const std::string cursor = query_get(r.query, "last_row_key");
  size_t offset = 0;
  if (!cursor.empty()) {
    if (cursor.rfind("rk-", 0) != 0) return error(1109, "param is illegal");
    offset = static_cast<size_t>(to_int(cursor.substr(3), 0));
  }
  json logs = json::array();
  size_t i = offset;
  for (; i < sel.size() && logs.size() < static_cast<size_t>(size); ++i) {
    if (options_.camel_case) {
      logs.push_back({{"code", sel[i].code}, {"value", sel[i].value}, {"eventTime", sel[i].event_time}});
    } else {
      logs.push_back({{"code", sel[i].code}, {"value", sel[i].value}, {"event_time", sel[i].event_time}});
    }
  }
  bool has_more = i < sel.size();
  std::string next = "rk-" + std::to_string(i);
  if (options_.logs_cursor_loop) {
    has_more = true;
    next = cursor.empty() ? "rk-0" : cursor;
  }
  json res = {{"device_id", d.id}, {"total", sel.size()}, {"logs", logs}};
  if (options_.camel_case) {
    res["hasMore"] = has_more;
    res["lastRowKey"] = next;
  } else {
    res["has_more"] = has_more;
    res["last_row_key"] = next;
  }
  return ok(res);
}

Response FakeCloud::firmware_query(const FakeDevice& d) const {
  json arr = json::array();
  auto it = firmware_.find(d.id);
  if (it == firmware_.end()) return ok(arr);
  for (const auto& f : it->second) {
    json e = {{"type", f.channel},
              {"type_desc", f.channel == 9 ? "MCU" : "main module"},
              {"upgrade_status", f.upgrade_status},
              {"current_version", f.current_version},
              {"version", f.latest_version},
              {"can_upgrade", f.can_upgrade},
              {"timeout", 600},
              {"upgrade_type", 0},
              {"last_upgrade_time", 0},
              {"desc", "fix bugs"}};
    if (!f.remind.empty()) e["remind"] = f.remind;
    arr.push_back(e);
  }
  return ok(arr);
}

Response FakeCloud::firmware_start(const FakeDevice& d, int channel) {
  FakeFirmware* f = firmware(d.id, channel);
  if (!f) return error(1109, "param is illegal");
  if (!d.online) return error(2001, "device is offline");
  if (f->upgrade_status == 2) return error(1113, "repeated operation in short time");
  if (f->upgrade_status == 0 || f->current_version == f->latest_version)
    return error(1109, "no upgrade available");
  if (!f->can_upgrade) return error(1109, "device can not upgrade");
  f->upgrade_status = 2;
  f->progress = 0;
  return ok(true);
}

Response FakeCloud::firmware_progress(const FakeDevice& d, int channel) {
  FakeFirmware* f = firmware(d.id, channel);
  if (!f) return error(1109, "param is illegal");
  if (f->upgrade_status == 2 && !f->stall) {
    f->progress = std::min(100, f->progress + f->progress_step);
    if (f->progress >= 100) {
      f->upgrade_status = f->outcome;
      if (f->outcome == 3) f->current_version = f->latest_version;
    }
  }
  return ok({{"upgrade_status", f->upgrade_status}, {"progress", f->progress}});
}

InProcessHttpClient::~InProcessHttpClient() {
  for (const auto& [id, timer] : pending_) timers_.cancel(timer);
}

cloud::HttpRequestId InProcessHttpClient::send(cloud::HttpRequest request, cloud::HttpCallback callback) {
  const cloud::HttpRequestId id = next_++;
  sent_.push_back(request);
  sent_at_.push_back(timers_.now_ms());
  Request r;
  r.method = request.method;
  r.body = request.body;
  const bool parsed = parse_target(request.url, r.path, r.query);
  for (const auto& [k, v] : request.headers) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    r.headers[lower] = v;
  }
  Response resp = parsed ? cloud_.handle(r) : Response{400, "bad request", false};
  const uint64_t delay = resp.hang ? request.timeout_ms : latency_ms_;
  peak_ = std::max(peak_, pending_.size() + 1);
  pending_[id] = timers_.start(delay, 0, [this, id, resp, cb = std::move(callback)]() {
    pending_.erase(id);
    if (resp.hang) {
      cb(fail(cloud::HTTP_ERR_TIMEOUT, "request timed out (fake)"));
    } else {
      cb(cloud::HttpResponse{resp.status, resp.body});
    }
  });
  return id;
}

void InProcessHttpClient::cancel(cloud::HttpRequestId id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  timers_.cancel(it->second);
  pending_.erase(it);
}

void populate_demo(FakeCloud& cloud) {
  FakeDevice bulb;
  bulb.id = "bf0000000000000bulb1";
  bulb.name = "Desk Lamp";
  bulb.local_key = "k3yBulb0000000001";
  bulb.category = "dj";
  bulb.product_id = "prodbulb01";
  bulb.product_name = "Smart Bulb";
  bulb.uuid = "uuidbulb1";
  bulb.mac = "a4:cf:12:00:00:01";
  bulb.model = "SL10";
  bulb.status = json::array({{{"code", "switch_led"}, {"value", false}},
                             {{"code", "bright_value_v2"}, {"value", 500}},
                             {{"code", "work_mode"}, {"value", "white"}}});
  bulb.dps = json::array({
      {{"dp_id", 20}, {"code", "switch_led"}, {"type", "Boolean"}, {"values", json::object()}},
      {{"dp_id", 21},
       {"code", "work_mode"},
       {"type", "Enum"},
       {"values", {{"range", {"white", "colour", "scene"}}}}},
      {{"dp_id", 22},
       {"code", "bright_value_v2"},
       {"type", "Integer"},
       {"values", {{"min", 10}, {"max", 1000}, {"scale", 0}, {"step", 1}, {"unit", ""}}}},
  });
  cloud.add_device(bulb);

  FakeDevice plug;
  plug.id = "bf0000000000000plug1";
  plug.name = "Kettle Plug";
  plug.local_key = "k3yPlug0000000001";
  plug.category = "cz";
  plug.product_id = "prodplug01";
  plug.product_name = "Smart Plug";
  plug.uuid = "uuidplug1";
  plug.mac = "a4cf12000002";
  plug.status =
      json::array({{{"code", "switch_1"}, {"value", true}}, {{"code", "cur_voltage"}, {"value", 2230}}});
  plug.dps = json::array({
      {{"dp_id", 1}, {"code", "switch_1"}, {"type", "Boolean"}, {"values", json::object()}},
      {{"dp_id", 20},
       {"code", "cur_voltage"},
       {"type", "Integer"},
       {"mode", "ro"},
       {"values", {{"min", 0}, {"max", 5000}, {"scale", 1}, {"step", 1}, {"unit", "V"}}}},
  });
  cloud.add_device(plug);

  FakeDevice gw;
  gw.id = "bf00000000000000gw01";
  gw.name = "Zigbee Gateway";
  gw.local_key = "k3yGate0000000001";
  gw.category = "wg2";
  gw.product_id = "prodgw0001";
  gw.product_name = "Zigbee Gateway";
  gw.uuid = "uuidgw1";
  gw.mac = "a4:cf:12:00:00:03";
  gw.has_dps = false;
  cloud.add_device(gw);

  FakeDevice sensor;
  sensor.id = "bf0000000000000sens1";
  sensor.name = "Door Sensor";
  sensor.local_key = "k3ySens0000000001";
  sensor.category = "mcs";
  sensor.product_id = "prodsens01";
  sensor.product_name = "Door Sensor";
  sensor.sub = true;
  sensor.node_id = "a4c1380000000001";
  sensor.gateway_id = gw.id;
  sensor.ip = "";
  sensor.status = json::array(
      {{{"code", "doorcontact_state"}, {"value", false}}, {{"code", "battery_percentage"}, {"value", 90}}});
  sensor.dps = json::array({
      {{"dp_id", 1},
       {"code", "doorcontact_state"},
       {"type", "Boolean"},
       {"mode", "ro"},
       {"values", json::object()}},
      {{"dp_id", 2},
       {"code", "battery_percentage"},
       {"type", "Integer"},
       {"mode", "ro"},
       {"values", {{"min", 0}, {"max", 100}, {"scale", 0}, {"step", 1}, {"unit", "%"}}}},
  });
  cloud.add_device(sensor);
}

}  // namespace t2m::fakecloud

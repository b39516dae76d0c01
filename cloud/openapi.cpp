#include "cloud/openapi.h"

#include <uv.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "common/bytes.h"
#include "common/log.h"

namespace t2m::cloud {

using nlohmann::json;

namespace {

const char* const TAG = "cloud.api";
// Hard stop for cursor walks, far above any real account (20 per page -> 10 000 devices).
constexpr int MAX_PAGES = 500;
constexpr int THING_PAGE_SIZE = 20;       // documented maximum of /v2.0/cloud/thing/device
constexpr int V13_PAGE_SIZE = 100;        // ≤ 200 allowed
constexpr int ASSOCIATED_PAGE_SIZE = 50;  // what tinytuya uses
constexpr size_t FACTORY_BATCH = 50;
constexpr size_t STATUS_BATCH = 20;  // documented limit of the batch status API
constexpr size_t NONCE_BYTES = 16;

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool pattern_matches(std::string_view pattern, std::string_view method, std::string_view path) {
  size_t sp = pattern.find(' ');
  if (sp == std::string_view::npos || pattern.substr(0, sp) != method) return false;
  std::string_view p = pattern.substr(sp + 1);
  for (;;) {
    size_t a = p.find('/', 1), b = path.find('/', 1);
    std::string_view ps = p.substr(0, a), xs = path.substr(0, b);
    if (ps != "/*" && ps != xs) return false;
    if (a == std::string_view::npos || b == std::string_view::npos) return a == b;
    p = p.substr(a);
    path = path.substr(b);
  }
}

Error tuya_error(int code, const std::string& msg, const std::string& tid) {
  const CodeInfo info = classify_tuya_code(code);
  std::string text = "[" + std::to_string(code) + "] " + msg;
  if (!tid.empty()) text += " (tid " + tid + ")";
  if (info.hint && *info.hint) text += ": " + std::string(info.hint);
  return Error{info.error_code, text};
}

}  // namespace

CodeInfo classify_tuya_code(int code) {
  switch (code) {
    case 500:
      return {CodeAction::RETRY_BACKOFF, ERR_SERVER, ""};
    case 1110:
    case 1111:
    case 1199:
      return {CodeAction::RETRY_BACKOFF, ERR_THROTTLED, "too many requests; the gateway backs off"};
    case 1112:
      return {CodeAction::RETRY_BACKOFF, ERR_BUSY, "the cloud is syncing the user; retry later"};
    case 1010:
      return {CodeAction::REFRESH_TOKEN, ERR_TOKEN, ""};
    case 1011:
    case 1012:
    case 1400:
      return {CodeAction::NEW_TOKEN, ERR_TOKEN, ""};
    case 1013:
      return {CodeAction::CLOCK_SKEW, ERR_CLOCK, "the host clock is off; synchronise it (NTP)"};
    case 1001:
    case 1005:
    case 1008:
      return {CodeAction::STOP, ERR_CONFIG, "check the Access ID and Access Secret of the cloud project"};
    case 28841002:
      return {CodeAction::STOP, ERR_TRIAL_EXPIRED,
              "the IoT Core trial of the cloud project has expired; extend it on the Tuya IoT platform"};
    case 28841004:
      return {CodeAction::STOP, ERR_QUOTA,
              "the monthly API quota of the Trial Edition is used up; the gateway stops calling the cloud"};
    case 28841105:
      return {CodeAction::FAIL, ERR_NOT_AUTHORIZED,
              "the cloud project is not authorised to call this API; subscribe/authorise the API service "
              "(IoT Core, Authorization Token Management, Smart Home Basic Service)"};
    case 1004:
      return {CodeAction::FAIL, ERR_SIGN, "wrong Access Secret, or a signing bug"};
    case 1000:
    case 2002:
    case 2003:
    case 2005:
    case 2006:
    case 2010:
      return {CodeAction::FAIL, ERR_NOT_FOUND, ""};
    case 1002:
    case 1003:
    case 1100:
    case 1101:
    case 1102:
    case 1105:
    case 1109:
      return {CodeAction::FAIL, ERR_BAD_REQUEST, ""};
    case 1103:
      return {CodeAction::FAIL, ERR_COMMAND, ""};
    case 1104:
      return {CodeAction::FAIL, ERR_TYPE, "a value has the wrong JSON type for this DP"};
    case 1106:
      return {CodeAction::FAIL, ERR_PERMISSION,
              "permission denied: the app account may not be linked to the project, the data center may be "
              "wrong, the device may not be in the project, or the API family is not allowed"};
    case 1108:
      return {CodeAction::FAIL, ERR_API_UNAVAILABLE, "this API is not available to the project"};
    case 1113:
      return {CodeAction::FAIL, ERR_DUPLICATE, "the same operation was repeated too quickly"};
    case 2001:
      return {CodeAction::FAIL, ERR_OFFLINE, "the device is offline"};
    case 2007:
      return {CodeAction::FAIL, ERR_REGION,
              "wrong data center: the project region must be the one of the app account"};
    case 2008:
    case 2009:
      return {CodeAction::FAIL, ERR_UNSUPPORTED, ""};
    case 2406:
      return {CodeAction::FAIL, ERR_SKILL, "wrong data center or app schema"};
    default:
      return {CodeAction::FAIL, ERR_OTHER, ""};
  }
}

int tuya_code_of(const Error& e) {
  if (e.message.size() < 3 || e.message[0] != '[') return 0;
  return std::atoi(e.message.c_str() + 1);
}

const std::vector<std::string>& known_regions() {
  static const std::vector<std::string> REGIONS = {"cn", "us", "us-e", "eu", "eu-w", "in", "sg"};
  return REGIONS;
}

Result<std::string> region_base_url(std::string_view region) {
  if (region == "cn") return std::string("https://openapi.tuyacn.com");
  if (region == "us" || region == "az") return std::string("https://openapi.tuyaus.com");
  if (region == "us-e" || region == "ue") return std::string("https://openapi-ueaz.tuyaus.com");
  if (region == "eu") return std::string("https://openapi.tuyaeu.com");
  if (region == "eu-w" || region == "we") return std::string("https://openapi-weaz.tuyaeu.com");
  if (region == "in") return std::string("https://openapi.tuyain.com");
  if (region == "sg") return std::string("https://openapi-sg.iotbing.com");
  return fail(ERR_CONFIG,
              "unknown region '" + std::string(region) + "' (one of cn, us, us-e, eu, eu-w, in, sg)");
}

NonceSource random_nonce_source() {
  return [] {
    uint8_t buf[NONCE_BYTES];
    if (uv_random(nullptr, nullptr, buf, sizeof(buf), 0, nullptr) != 0) return std::string();
    return to_hex(ByteView(buf, sizeof(buf)));
  };
}

std::vector<RateRule> default_rate_rules() {
  return {
      {"GET /v2.0/cloud/thing/*/model", 10},
      {"POST /v2.0/cloud/thing/*/shadow/properties/issue", 4},
      {"POST /v2.0/cloud/thing/*/shadow/actions", 4},
      {"GET /v2.0/cloud/thing/*/shadow/properties", 50},
      {"POST /v2.0/cloud/thing/*/shadow/properties/desired", 4},
      {"GET /v2.0/cloud/thing/*/shadow/properties/desired", 10},
      {"POST /v2.0/cloud/thing/*/shadow/properties", 4},
  };
}

uint64_t OpenApi::interval_ms(const Bucket& b) {
  return static_cast<uint64_t>(std::ceil(1000.0 / std::max(b.qps, 0.001)));
}

struct OpenApi::Call {
  std::string method, path;
  KeyValues query;
  std::string body;
  JsonCallback cb;
  int attempts = 0;
  bool token_retried = false;
  bool clock_retried = false;
  bool active = false;
  bool done = false;
  bool token_only = false;  // connect(): completes once a token is held
};

OpenApi::OpenApi(HttpClient& http, Timers& timers, CloudConfig config, NonceSource nonce)
    : http_(http),
      timers_(timers),
      config_(std::move(config)),
      nonce_(std::move(nonce)),
      rules_(default_rate_rules()) {
  if (!config_.base_url.empty()) {
    base_url_ = config_.base_url;
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  } else if (auto url = region_base_url(config_.region)) {
    base_url_ = *url;
  }
  log_register_secret(config_.access_secret);
}

OpenApi::~OpenApi() {
  for (const auto& [call, entry] : in_flight_) http_.cancel(entry.first);
  if (token_fetching_) http_.cancel(token_request_);
  for (TimerId id : owned_timers_) timers_.cancel(id);
}

Status OpenApi::validate() const {
  if (config_.access_id.empty()) return fail(ERR_CONFIG, "the cloud Access ID is empty");
  if (config_.access_secret.empty()) return fail(ERR_CONFIG, "the cloud Access Secret is empty");
  if (base_url_.empty()) return fail(region_base_url(config_.region).error());
  return {};
}

void OpenApi::after(uint64_t delay_ms, std::function<void()> fn) {
  auto key = std::make_shared<TimerId>(NO_TIMER);
  *key = timers_.start(delay_ms, 0, [this, key, fn = std::move(fn)] {
    owned_timers_.erase(*key);
    fn();
  });
  owned_timers_.insert(*key);
}

void OpenApi::call(std::string method, std::string path, KeyValues query, std::string body, JsonCallback cb) {
  auto c = std::make_shared<Call>();
  c->method = std::move(method);
  c->path = std::move(path);
  c->query = std::move(query);
  c->body = std::move(body);
  c->cb = std::move(cb);
  if (auto st = validate(); !st) {
    after(0, [this, c, e = st.error()] { finish(c, fail(e)); });
    return;
  }
  if (stopped_) {
    after(0, [this, c] {
      if (stopped_) {
        finish(c, fail(ERR_STOPPED, "cloud calls stopped after an earlier error: " + stopped_->message));
      } else {
        queue_.push_back(c);
        pump();
      }
    });
    return;
  }
  queue_.push_back(c);
  pump();
}

OpenApi::Bucket& OpenApi::bucket_for(const Call& c) {
  for (const auto& rule : rules_) {
    if (pattern_matches(rule.pattern, c.method, c.path)) {
      Bucket& b = buckets_[rule.pattern];
      b.qps = rule.qps;
      return b;
    }
  }
  Bucket& b = buckets_["default"];
  b.qps = config_.default_qps;
  return b;
}

void OpenApi::pump() {
  if (pumping_) {
    repump_ = true;
    return;
  }
  pumping_ = true;
  do {
    repump_ = false;
    const uint64_t now = timers_.now_ms();
    uint64_t earliest = std::numeric_limits<uint64_t>::max();
    size_t i = 0;
    while (i < queue_.size() && active_ < config_.max_concurrent) {
      Bucket& b = bucket_for(*queue_[i]);
      if (b.next_ms > now) {
        earliest = std::min(earliest, b.next_ms);
        ++i;
        continue;
      }
      b.next_ms = now + interval_ms(b);
      CallPtr c = queue_[i];
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
      dispatch(c);
    }
    if (earliest != std::numeric_limits<uint64_t>::max()) schedule_pump(earliest);
  } while (repump_);
  pumping_ = false;
}

void OpenApi::schedule_pump(uint64_t at_ms) {
  if (pump_timer_ != NO_TIMER && pump_at_ <= at_ms) return;
  if (pump_timer_ != NO_TIMER) {
    timers_.cancel(pump_timer_);
    owned_timers_.erase(pump_timer_);
  }
  pump_at_ = at_ms;
  const uint64_t now = timers_.now_ms();
  pump_timer_ = timers_.start(at_ms > now ? at_ms - now : 0, 0, [this] {
    owned_timers_.erase(pump_timer_);
    pump_timer_ = NO_TIMER;
    pump();
  });
  owned_timers_.insert(pump_timer_);
}

void OpenApi::dispatch(const CallPtr& c) {
  if (!c->active) {
    c->active = true;
    ++active_;
  }
  if (token_fresh()) {
    send(c);
  } else {
    token_wait_.push_back(c);
    ensure_token();
  }
}

void OpenApi::deactivate(const CallPtr& c) {
  if (c->active) {
    c->active = false;
    --active_;
  }
}

bool OpenApi::token_fresh() const {
  if (access_token_.empty()) return false;
  const uint64_t margin = std::min(config_.refresh_margin_ms, token_lifetime_ms_ / 2);
  return timers_.now_ms() + margin < token_expiry_ms_;
}

std::string OpenApi::timestamp() const {
  return std::to_string(timers_.unix_ms() + clock_offset_ms_);
}

HttpRequest OpenApi::build(const std::string& method, const std::string& path, const KeyValues& query,
                           const std::string& body, const std::string& token) const {
  SignInput in;
  in.method = method;
  in.path = path;
  in.query = query;
  in.body = body;
  in.client_id = config_.access_id;
  in.secret = config_.access_secret;
  in.access_token = token;
  in.t = timestamp();
  in.nonce = nonce_ ? nonce_() : std::string();

  HttpRequest req;
  req.method = method;
  req.url = base_url_ + path;
  if (!query.empty()) {
    KeyValues sorted = query;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    char sep = '?';
    for (const auto& [k, v] : sorted) {
      req.url += sep;
      req.url += url_encode(k) + "=" + url_encode(v);
      sep = '&';
    }
  }
  req.body = body;
  req.timeout_ms = config_.request_timeout_ms;
  req.headers = {{"client_id", config_.access_id},
                 {"sign", sign_request(in)},
                 {"sign_method", "HMAC-SHA256"},
                 {"t", in.t},
                 {"lang", config_.lang}};
  if (!in.nonce.empty()) req.headers.emplace_back("nonce", in.nonce);
  if (!token.empty()) req.headers.emplace_back("access_token", token);
  if (method != "GET") req.headers.emplace_back("Content-Type", "application/json");
  return req;
}

void OpenApi::send(const CallPtr& c) {
  if (c->token_only) {
    after(0, [this, c] { finish(c, json(uid_)); });
    return;
  }
  const std::string token = access_token_;
  // Charged again at the moment of sending: a call that waited for a token must not arrive early.
  Bucket& b = bucket_for(*c);
  b.next_ms = std::max(b.next_ms, timers_.now_ms() + interval_ms(b));
  ++stats_.requests;
  T2M_LOGV(TAG, "%s %s", c->method.c_str(), c->path.c_str());
  HttpRequestId id = http_.send(build(c->method, c->path, c->query, c->body, token),
                                [this, c, token](Result<HttpResponse> r) {
                                  in_flight_.erase(c.get());
                                  on_response(c, token, std::move(r));
                                });
  in_flight_[c.get()] = {id, c};
}

void OpenApi::on_response(const CallPtr& c, const std::string& token_used, Result<HttpResponse> r) {
  const bool idempotent = c->method == "GET";
  if (!r || r->status >= 500) {
    Error e = r ? Error{ERR_TRANSPORT, "HTTP status " + std::to_string(r->status)}
                : Error{ERR_TRANSPORT, r.error().code + ": " + r.error().message};
    if (idempotent && c->attempts < config_.max_retries) {
      retry_later(c, false);
    } else {
      finish(c, fail(e));
    }
    return;
  }
  if (r->status != 200) {
    finish(c, fail(ERR_TRANSPORT, "HTTP status " + std::to_string(r->status)));
    return;
  }
  json env = json::parse(r->body, nullptr, false);
  if (env.is_discarded() || !env.is_object()) {
    finish(c, fail(ERR_MALFORMED, "the cloud answered something that is not a JSON object"));
    return;
  }
  const json* success = env.contains("success") ? &env["success"] : nullptr;
  if (success && success->is_boolean() && success->get<bool>()) {
    finish(c, env.contains("result") ? env["result"] : json());
    return;
  }
  int code = 0;
  if (env.contains("code")) {
    const json& cj = env["code"];
    if (cj.is_number_integer()) code = cj.get<int>();
    if (cj.is_string()) code = std::atoi(cj.get<std::string>().c_str());
  }
  const std::string msg = env.contains("msg") && env["msg"].is_string() ? env["msg"].get<std::string>() : "";
  const std::string tid = env.contains("tid") && env["tid"].is_string() ? env["tid"].get<std::string>() : "";
  if (code == 0) {
    finish(c, fail(ERR_MALFORMED, "the cloud answered success=false without an error code"));
    return;
  }
  Error err = tuya_error(code, msg, tid);
  const CodeInfo info = classify_tuya_code(code);
  switch (info.action) {
    case CodeAction::REFRESH_TOKEN:
    case CodeAction::NEW_TOKEN:
      if (c->token_retried) {
        finish(c, fail(err));
        return;
      }
      c->token_retried = true;
      ++stats_.retries;
      if (token_used == access_token_) {
        // Only the first call to see the dead token resets it; later ones just wait for the new one.
        if (info.action == CodeAction::NEW_TOKEN) {
          access_token_.clear();
          refresh_token_.clear();
        }
        token_expiry_ms_ = 0;
      }
      dispatch(c);
      return;
    case CodeAction::CLOCK_SKEW:
      if (!c->clock_retried && env.contains("t") && env["t"].is_number_integer()) {
        c->clock_retried = true;
        adopt_server_time(env["t"].get<int64_t>());
        ++stats_.retries;
        send(c);
        return;
      }
      finish(c, fail(err));
      return;
    case CodeAction::RETRY_BACKOFF:
      ++stats_.throttled;
      if (c->attempts < config_.max_retries) {
        retry_later(c, true);
      } else {
        finish(c, fail(err));
      }
      return;
    case CodeAction::STOP:
      stop(err);
      finish(c, fail(err));
      return;
    case CodeAction::FAIL:
      finish(c, fail(err));
      return;
  }
}

void OpenApi::adopt_server_time(int64_t server_t) {
  const int64_t offset = server_t - timers_.unix_ms();
  if (std::llabs(offset - clock_offset_ms_) > 1000) {
    T2M_LOGW(TAG, "host clock differs from the cloud's by %lld ms; compensating",
             static_cast<long long>(offset));
  }
  clock_offset_ms_ = offset;
}

void OpenApi::stop(const Error& e) {
  T2M_LOGE(TAG, "cloud calls stopped: %s", e.message.c_str());
  stopped_ = e;
  auto queued = std::move(queue_);
  queue_.clear();
  for (auto& q : queued) finish(q, fail(ERR_STOPPED, "cloud calls stopped: " + e.message));
}

void OpenApi::retry_later(const CallPtr& c, bool penalise_bucket) {
  ++c->attempts;
  ++stats_.retries;
  const uint64_t delay =
      std::min(config_.backoff_max_ms, config_.backoff_initial_ms << std::min(c->attempts - 1, 20));
  if (penalise_bucket) {
    Bucket& b = bucket_for(*c);
    b.next_ms = std::max(b.next_ms, timers_.now_ms() + delay);
  }
  deactivate(c);
  T2M_LOGD(TAG, "retrying %s %s in %llu ms (attempt %d)", c->method.c_str(), c->path.c_str(),
           static_cast<unsigned long long>(delay), c->attempts);
  after(delay, [this, c] {
    queue_.push_front(c);
    pump();
  });
}

void OpenApi::finish(const CallPtr& c, Result<json> r) {
  if (c->done) return;
  c->done = true;
  deactivate(c);
  if (!r) {
    ++stats_.errors;
    T2M_LOGD(TAG, "%s %s failed: %s", c->method.c_str(), c->path.c_str(), r.error().message.c_str());
  }
  JsonCallback cb = std::move(c->cb);
  if (cb) cb(std::move(r));
  pump();
}

void OpenApi::ensure_token() {
  if (token_fetching_) return;
  fetch_token(!refresh_token_.empty(), 0);
}

void OpenApi::fetch_token(bool use_refresh, int attempt) {
  token_fetching_ = true;
  HttpRequest req = use_refresh ? build("GET", "/v1.0/token/" + refresh_token_, {}, {}, {})
                                : build("GET", "/v1.0/token", {{"grant_type", "1"}}, {}, {});
  ++stats_.requests;
  token_request_ = http_.send(std::move(req), [this, use_refresh, attempt](Result<HttpResponse> r) {
    on_token(use_refresh, attempt, std::move(r));
  });
}

void OpenApi::on_token(bool was_refresh, int attempt, Result<HttpResponse> r) {
  auto retry_or_fail = [&](const Error& e) {
    if (attempt < config_.max_retries) {
      const uint64_t delay =
          std::min(config_.backoff_max_ms, config_.backoff_initial_ms << std::min(attempt, 20));
      after(delay, [this, was_refresh, attempt] { fetch_token(was_refresh, attempt + 1); });
    } else {
      token_failed(e);
    }
  };
  if (!r || r->status >= 500) {
    retry_or_fail(r ? Error{ERR_TRANSPORT, "token: HTTP status " + std::to_string(r->status)}
                    : Error{ERR_TRANSPORT, "token: " + r.error().message});
    return;
  }
  json env = json::parse(r->body, nullptr, false);
  if (env.is_discarded() || !env.is_object()) {
    retry_or_fail(Error{ERR_MALFORMED, "token: the cloud answered something that is not a JSON object"});
    return;
  }
  if (env.contains("success") && env["success"].is_boolean() && env["success"].get<bool>()) {
    auto tok = parse_token(env.contains("result") ? env["result"] : json());
    if (!tok) {
      retry_or_fail(tok.error());
      return;
    }
    if (env.contains("t") && env["t"].is_number_integer()) adopt_server_time(env["t"].get<int64_t>());
    access_token_ = tok->access_token;
    refresh_token_ = tok->refresh_token;
    uid_ = tok->uid;
    token_lifetime_ms_ = static_cast<uint64_t>(tok->expire_time_s) * 1000;
    token_expiry_ms_ = timers_.now_ms() + token_lifetime_ms_;
    log_register_secret(access_token_);
    log_register_secret(refresh_token_);
    if (was_refresh) {
      ++stats_.token_refreshes;
    } else {
      ++stats_.token_grants;
    }
    T2M_LOGD(TAG, "token %s, valid %lld s", was_refresh ? "refreshed" : "granted",
             static_cast<long long>(tok->expire_time_s));
    token_fetching_ = false;
    auto waiting = std::move(token_wait_);
    token_wait_.clear();
    for (auto& c : waiting) send(c);
    return;
  }
  int code = 0;
  if (env.contains("code") && env["code"].is_number_integer()) code = env["code"].get<int>();
  const std::string msg = env.contains("msg") && env["msg"].is_string() ? env["msg"].get<std::string>() : "";
  Error err = tuya_error(code, msg, "");
  if (was_refresh) {
    // The refresh token is single-use and may already be spent: start over with a fresh grant.
    refresh_token_.clear();
    access_token_.clear();
    fetch_token(false, 0);
    return;
  }
  const CodeInfo info = classify_tuya_code(code);
  if (info.action == CodeAction::CLOCK_SKEW && env.contains("t") && env["t"].is_number_integer() &&
      attempt == 0) {
    adopt_server_time(env["t"].get<int64_t>());
    fetch_token(false, attempt + 1);
    return;
  }
  if (info.action == CodeAction::RETRY_BACKOFF) {
    ++stats_.throttled;
    retry_or_fail(err);
    return;
  }
  if (info.action == CodeAction::STOP || code == 1004) {
    token_failed(err);
    stop(err);
    return;
  }
  token_failed(err);
}

void OpenApi::token_failed(const Error& e) {
  token_fetching_ = false;
  T2M_LOGW(TAG, "could not obtain a cloud token: %s", e.message.c_str());
  auto waiting = std::move(token_wait_);
  token_wait_.clear();
  Error out = e;
  if (classify_tuya_code(tuya_code_of(e)).action != CodeAction::STOP && e.code != std::string(ERR_SIGN)) {
    out = Error{ERR_TOKEN, "no cloud token: " + e.message};
  }
  for (auto& c : waiting) finish(c, fail(out));
}

void OpenApi::cancel_all() {
  std::vector<CallPtr> all(queue_.begin(), queue_.end());
  all.insert(all.end(), token_wait_.begin(), token_wait_.end());
  for (const auto& [call, entry] : in_flight_) {
    http_.cancel(entry.first);
    all.push_back(entry.second);
  }
  queue_.clear();
  token_wait_.clear();
  in_flight_.clear();
  if (token_fetching_) {
    http_.cancel(token_request_);
    token_fetching_ = false;
  }
  for (auto& c : all) finish(c, fail(ERR_CANCELLED, "cancelled"));
}

void OpenApi::connect(Callback<std::string> cb) {
  auto c = std::make_shared<Call>();
  c->method = "GET";
  c->path = "/v1.0/token";
  c->token_only = true;
  c->cb = [cb = std::move(cb)](Result<json> r) {
    if (!r) {
      cb(fail(r.error()));
    } else {
      cb(r->is_string() ? r->get<std::string>() : std::string());
    }
  };
  if (auto st = validate(); !st) {
    after(0, [this, c, e = st.error()] { finish(c, fail(e)); });
    return;
  }
  queue_.push_back(c);
  pump();
}

// ---------------------------------------------------------------------------------------------
// Typed calls.

namespace {

template <class T, class Parse>
JsonCallback parsed(Callback<T> cb, Parse parse) {
  return [cb = std::move(cb), parse](Result<json> r) {
    if (!r) {
      cb(fail(r.error()));
      return;
    }
    cb(parse(*r));
  };
}

JsonCallback as_bool(Callback<bool> cb) {
  return [cb = std::move(cb)](Result<json> r) {
    if (!r) {
      cb(fail(r.error()));
      return;
    }
    // Tuya answers `true` or `{}`; an explicit false is a failed command.
    if (r->is_boolean() && !r->get<bool>()) {
      cb(fail(ERR_COMMAND, "the cloud answered false"));
      return;
    }
    cb(true);
  };
}

}  // namespace

void OpenApi::get_device(const std::string& id, Callback<DeviceInfo> cb) {
  get("/v1.0/devices/" + id, {},
      parsed<DeviceInfo>(std::move(cb), [](const json& j) { return parse_device(j); }));
}

void OpenApi::refresh_local_key(const std::string& id, Callback<std::string> cb) {
  get_device(id, [cb = std::move(cb), id](Result<DeviceInfo> d) {
    if (!d) {
      cb(fail(d.error()));
      return;
    }
    if (d->local_key.empty()) {
      cb(fail(ERR_NOT_FOUND, "the cloud has no local key for " + id));
      return;
    }
    log_register_secret(d->local_key);
    cb(d->local_key);
  });
}

void OpenApi::get_status(const std::string& id, JsonCallback cb) {
  get("/v1.0/devices/" + id + "/status", {}, std::move(cb));
}

void OpenApi::get_statuses(const std::vector<std::string>& ids, Callback<std::map<std::string, json>> cb) {
  struct Acc {
    std::map<std::string, json> out;
    int remaining = 0;
    std::optional<Error> error;
    Callback<std::map<std::string, json>> cb;
  };
  auto acc = std::make_shared<Acc>();
  acc->cb = std::move(cb);
  if (ids.empty()) {
    after(0, [acc] { acc->cb(std::map<std::string, json>{}); });
    return;
  }
  for (size_t i = 0; i < ids.size(); i += STATUS_BATCH) {
    std::vector<std::string> batch(
        ids.begin() + static_cast<std::ptrdiff_t>(i),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + STATUS_BATCH)));
    ++acc->remaining;
    get("/v1.0/iot-03/devices/status", {{"device_ids", join(batch, ',')}}, [acc](Result<json> r) {
      if (!r) {
        acc->error = r.error();
      } else if (r->is_array()) {
        for (const auto& e : *r) {
          if (e.is_object() && e.contains("id") && e["id"].is_string() && e.contains("status")) {
            acc->out[e["id"].get<std::string>()] = e["status"];
          }
        }
      } else {
        acc->error = Error{ERR_MALFORMED, "batch status is not an array"};
      }
      if (--acc->remaining == 0) {
        if (acc->error) {
          acc->cb(fail(*acc->error));
        } else {
          acc->cb(std::move(acc->out));
        }
      }
    });
  }
}

struct OpenApi::Walk {
  Listing api;
  std::string owner;
  std::vector<DeviceInfo> out;
  std::set<std::string> ids;
  std::set<std::string> cursors;
  int pages = 0;
  Callback<std::vector<DeviceInfo>> cb;
};

void OpenApi::list_devices_with(Listing api, const std::string& owner_uid,
                                Callback<std::vector<DeviceInfo>> cb) {
  auto w = std::make_shared<Walk>();
  w->api = api;
  w->owner = owner_uid;
  w->cb = std::move(cb);
  if ((api == Listing::IOT03_V13 || api == Listing::USER_V1) && owner_uid.empty()) {
    after(0, [w] { w->cb(fail(ERR_BAD_REQUEST, "this listing needs the app account's uid")); });
    return;
  }
  walk_page(w, "");
}

void OpenApi::walk_page(const std::shared_ptr<Walk>& w, const std::string& cursor) {
  std::string path;
  KeyValues q;
  switch (w->api) {
    case Listing::THING_V2:
      path = "/v2.0/cloud/thing/device";
      q = {{"page_size", std::to_string(THING_PAGE_SIZE)}};
      if (!cursor.empty()) q.emplace_back("last_id", cursor);
      break;
    case Listing::IOT03_V13:
      path = "/v1.3/iot-03/devices";
      q = {
          {"source_type", "tuyaUser"}, {"source_id", w->owner}, {"page_size", std::to_string(V13_PAGE_SIZE)}};
      if (!cursor.empty()) q.emplace_back("last_row_key", cursor);
      break;
    case Listing::ASSOCIATED_USERS:
      path = "/v1.0/iot-01/associated-users/devices";
      q = {{"size", std::to_string(ASSOCIATED_PAGE_SIZE)}};
      if (!cursor.empty()) q.emplace_back("last_row_key", cursor);
      break;
    case Listing::USER_V1:
      path = "/v1.0/users/" + w->owner + "/devices";
      break;
  }
  get(path, q, [this, w](Result<json> r) {
    if (!r) {
      w->cb(fail(r.error()));
      return;
    }
    auto page = parse_device_page(*r);
    if (!page) {
      w->cb(fail(page.error()));
      return;
    }
    ++w->pages;
    size_t fresh = 0;
    for (auto& d : page->devices) {
      if (w->ids.insert(d.id).second) {
        ++fresh;
        w->out.push_back(std::move(d));
      }
    }
    std::string next;
    bool more = false;
    if (w->api == Listing::THING_V2) {
      // Plain array: a short page is the last one; the cursor is the last id seen.
      more = static_cast<int>(page->devices.size()) >= THING_PAGE_SIZE;
      next = w->out.empty() ? std::string() : w->out.back().id;
    } else if (w->api != Listing::USER_V1) {
      more = page->has_more;
      next = page->cursor;
    }
    if (more && (next.empty() || !w->cursors.insert(next).second || fresh == 0 || w->pages >= MAX_PAGES)) {
      T2M_LOGW(TAG, "device listing stopped: the cloud repeated its cursor or sent an empty page");
      more = false;
    }
    if (more) {
      walk_page(w, next);
    } else {
      w->cb(std::move(w->out));
    }
  });
}

void OpenApi::list_devices(const std::string& owner_uid, Callback<std::vector<DeviceInfo>> cb) {
  struct Merge {
    std::vector<DeviceInfo> out;
    std::map<std::string, size_t> index;
    std::vector<Error> errors;
    int remaining = 0;
    Callback<std::vector<DeviceInfo>> cb;
    void add(std::vector<DeviceInfo> list) {
      for (auto& d : list) {
        auto it = index.find(d.id);
        if (it == index.end()) {
          index[d.id] = out.size();
          out.push_back(std::move(d));
        } else {
          DeviceInfo& have = out[it->second];
          if (have.local_key.empty()) have.local_key = d.local_key;
          if (have.node_id.empty()) have.node_id = d.node_id;
          if (have.gateway_id.empty()) have.gateway_id = d.gateway_id;
          if (have.name.empty()) have.name = d.name;
        }
      }
    }
    void done() {
      if (--remaining > 0) return;
      // Partial answers are fine (APIs not subscribed); only all-failed is an error.
      if (out.empty() && !errors.empty()) {
        cb(fail(errors.front()));
      } else {
        cb(std::move(out));
      }
    }
  };
  auto m = std::make_shared<Merge>();
  m->cb = std::move(cb);
  m->remaining = 3;
  auto collect = [m](Result<std::vector<DeviceInfo>> r) {
    if (r) {
      m->add(std::move(r.value()));
    } else {
      T2M_LOGD(TAG, "a device listing failed: %s", r.error().message.c_str());
      m->errors.push_back(r.error());
    }
    m->done();
  };
  if (owner_uid.empty()) {
    m->remaining = 2;
  } else {
    list_devices_with(Listing::IOT03_V13, owner_uid,
                      [this, m, owner_uid, collect](Result<std::vector<DeviceInfo>> r) {
                        if (r) {
                          collect(std::move(r));
                          return;
                        }
                        // Projects without the v1.3 API still have the legacy per-user listing.
                        list_devices_with(Listing::USER_V1, owner_uid, collect);
                      });
  }
  list_devices_with(Listing::THING_V2, "", collect);
  list_devices_with(Listing::ASSOCIATED_USERS, "", collect);
}

void OpenApi::factory_infos(const std::vector<std::string>& ids, Callback<std::vector<FactoryInfo>> cb) {
  struct Acc {
    std::vector<FactoryInfo> out;
    int remaining = 0;
    std::optional<Error> error;
    Callback<std::vector<FactoryInfo>> cb;
  };
  auto acc = std::make_shared<Acc>();
  acc->cb = std::move(cb);
  if (ids.empty()) {
    after(0, [acc] { acc->cb(std::vector<FactoryInfo>{}); });
    return;
  }
  for (size_t i = 0; i < ids.size(); i += FACTORY_BATCH) {
    std::vector<std::string> batch(
        ids.begin() + static_cast<std::ptrdiff_t>(i),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + FACTORY_BATCH)));
    ++acc->remaining;
    get("/v1.0/devices/factory-infos", {{"device_ids", join(batch, ',')}}, [acc](Result<json> r) {
      if (r) {
        auto f = parse_factory_infos(*r);
        if (f) {
          for (auto& x : f.value()) acc->out.push_back(std::move(x));
        } else {
          acc->error = f.error();
        }
      } else {
        acc->error = r.error();
      }
      if (--acc->remaining == 0) {
        if (acc->out.empty() && acc->error) {
          acc->cb(fail(*acc->error));
        } else {
          acc->cb(std::move(acc->out));
        }
      }
    });
  }
}

void OpenApi::get_thing_model(const std::string& id, Callback<std::vector<DpSpec>> cb) {
  get("/v2.0/cloud/thing/" + id + "/model", {},
      parsed<std::vector<DpSpec>>(std::move(cb), [](const json& j) { return parse_thing_model(j); }));
}

void OpenApi::get_shadow_properties(const std::string& id, const std::vector<std::string>& codes,
                                    Callback<std::vector<ShadowProperty>> cb) {
  KeyValues q;
  if (!codes.empty()) q.emplace_back("codes", join(codes, ','));
  get("/v2.0/cloud/thing/" + id + "/shadow/properties", q,
      parsed<std::vector<ShadowProperty>>(std::move(cb),
                                          [](const json& j) { return parse_shadow_properties(j); }));
}

void OpenApi::get_specification(const std::string& id, Callback<Specification> cb) {
  auto fill_ids = [this, id](Specification spec, Callback<Specification> done) {
    auto missing = [](const Specification& s) {
      auto none = [](const std::vector<DpSpec>& v) {
        return std::any_of(v.begin(), v.end(), [](const DpSpec& d) { return d.dp_id == 0; });
      };
      return none(s.functions) || none(s.status);
    };
    auto apply = [](Specification& s, const std::map<std::string, int>& ids) {
      for (auto* v : {&s.functions, &s.status}) {
        for (auto& d : *v) {
          auto it = ids.find(d.code);
          if (d.dp_id == 0 && it != ids.end()) d.dp_id = it->second;
        }
      }
    };
    if (!missing(spec)) {
      done(std::move(spec));
      return;
    }
    get_thing_model(id, [this, id, spec, done, missing, apply](Result<std::vector<DpSpec>> model) mutable {
      if (model) {
        std::map<std::string, int> ids;
        for (const auto& d : model.value()) {
          if (d.dp_id) ids[d.code] = d.dp_id;
        }
        apply(spec, ids);
      }
      if (!missing(spec)) {
        done(std::move(spec));
        return;
      }
      get_shadow_properties(id, {}, [spec, done, apply](Result<std::vector<ShadowProperty>> props) mutable {
        if (props) {
          std::map<std::string, int> ids;
          for (const auto& p : props.value()) {
            if (p.dp_id) ids[p.code] = p.dp_id;
          }
          apply(spec, ids);
        }
        done(std::move(spec));
      });
    });
  };
  get("/v1.1/devices/" + id + "/specifications", {},
      [this, id, cb = std::move(cb), fill_ids](Result<json> r) mutable {
        if (r) {
          auto spec = parse_specification(*r);
          if (!spec) {
            cb(fail(spec.error()));
            return;
          }
          fill_ids(std::move(spec.value()), std::move(cb));
          return;
        }
        if (tuya_code_of(r.error()) == 2009) {  // the device has no DPs (e.g. a gateway)
          cb(Specification{});
          return;
        }
        if (r.error().code != std::string(ERR_PERMISSION) &&
            r.error().code != std::string(ERR_API_UNAVAILABLE)) {
          cb(fail(r.error()));
          return;
        }
        get("/v1.0/iot-03/devices/" + id + "/specification", {},
            [cb = std::move(cb), fill_ids](Result<json> r2) mutable {
              if (!r2) {
                cb(fail(r2.error()));
                return;
              }
              auto spec = parse_specification(*r2);
              if (!spec) {
                cb(fail(spec.error()));
                return;
              }
              fill_ids(std::move(spec.value()), std::move(cb));
            });
      });
}

void OpenApi::send_commands(const std::string& id, const json& code_values, Callback<bool> cb) {
  json commands = json::array();
  if (code_values.is_object()) {
    for (const auto& [code, value] : code_values.items())
      commands.push_back({{"code", code}, {"value", value}});
  }
  const std::string body = proto::dump_lossy(json{{"commands", commands}});
  call("POST", "/v1.0/devices/" + id + "/commands", {}, body,
       [this, id, body, cb = std::move(cb)](Result<json> r) mutable {
         if (!r && (r.error().code == std::string(ERR_PERMISSION) ||
                    r.error().code == std::string(ERR_API_UNAVAILABLE))) {
           // Some projects only allow the iot-03 family (docs/cloud.md §4.5).
           call("POST", "/v1.0/iot-03/devices/" + id + "/commands", {}, body, as_bool(std::move(cb)));
           return;
         }
         as_bool(std::move(cb))(std::move(r));
       });
}

void OpenApi::issue_properties(const std::string& id, const json& code_values, Callback<bool> cb) {
  // Documented type String: the properties object as JSON text.
  post("/v2.0/cloud/thing/" + id + "/shadow/properties/issue",
       json{{"properties", proto::dump_lossy(code_values)}}, as_bool(std::move(cb)));
}

void OpenApi::get_firmware(const std::string& id, Callback<std::vector<FirmwareInfo>> cb) {
  get("/v2.0/cloud/thing/" + id + "/firmware", {},
      parsed<std::vector<FirmwareInfo>>(std::move(cb), [](const json& j) { return parse_firmware_list(j); }));
}

void OpenApi::start_firmware_upgrade(const std::string& id, int channel, Callback<bool> cb) {
  call("POST", "/v2.0/cloud/thing/" + id + "/firmware/" + std::to_string(channel), {}, {},
       as_bool(std::move(cb)));
}

void OpenApi::get_upgrade_progress(const std::string& id, int channel, Callback<UpgradeProgress> cb) {
  get("/v2.0/cloud/thing/" + id + "/firmware/" + std::to_string(channel) + "/progress", {},
      parsed<UpgradeProgress>(std::move(cb), [](const json& j) { return parse_upgrade_progress(j); }));
}

void OpenApi::get_report_logs(const std::string& id, const std::vector<std::string>& codes, int64_t start_ms,
                              int64_t end_ms, int size, const std::string& last_row_key,
                              Callback<ReportLogPage> cb) {
  KeyValues q = {{"codes", join(codes, ',')},
                 {"start_time", std::to_string(start_ms)},
                 {"end_time", std::to_string(end_ms)},
                 {"size", std::to_string(size)}};
  if (!last_row_key.empty()) q.emplace_back("last_row_key", last_row_key);
  get("/v2.1/cloud/thing/" + id + "/report-logs", q,
      parsed<ReportLogPage>(std::move(cb), [](const json& j) { return parse_report_logs(j); }));
}

}  // namespace t2m::cloud

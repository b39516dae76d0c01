#include "cloud/openapi_channel.h"

#include <uv.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "cloud/models.h"
#include "common/bytes.h"
#include "common/log.h"

namespace t2m::cloud {

using nlohmann::json;

namespace {

const char* const OPENAPI_CHANNEL_TAG = "cloud.api";
constexpr size_t NONCE_BYTES = 16;
// A correction larger than this is worth a warning: the host clock needs NTP, not just compensation.
constexpr int64_t CLOCK_WARN_MS = 1000;
// Caps the doubling of the back-off so the shift stays defined; backoff_max_ms caps the delay itself.
constexpr int MAX_BACKOFF_DOUBLINGS = 20;
// The bucket of APIs without a rule, and the lowest rate a rule may ask for (no division by zero).
constexpr const char* DEFAULT_BUCKET = "default";
constexpr double MIN_QPS = 0.001;

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

}  // namespace

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

uint64_t OpenApiChannel::interval_ms(const Bucket& b) {
  return static_cast<uint64_t>(std::ceil(MS_PER_S / std::max(b.qps, MIN_QPS)));
}

struct OpenApiChannel::Call {
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

OpenApiChannel::OpenApiChannel(HttpClient& http, Timers& timers, CloudConfig config, NonceSource nonce)
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

OpenApiChannel::~OpenApiChannel() {
  for (const auto& [call, entry] : in_flight_) http_.cancel(entry.first);
  if (token_fetching_) http_.cancel(token_request_);
  for (TimerId id : owned_timers_) timers_.cancel(id);
}

Status OpenApiChannel::validate() const {
  if (config_.access_id.empty()) return fail(ERR_CONFIG, "the cloud Access ID is empty");
  if (config_.access_secret.empty()) return fail(ERR_CONFIG, "the cloud Access Secret is empty");
  if (base_url_.empty()) return fail(region_base_url(config_.region).error());
  return {};
}

void OpenApiChannel::after(uint64_t delay_ms, std::function<void()> fn) {
  auto key = std::make_shared<TimerId>(NO_TIMER);
  *key = timers_.start(delay_ms, 0, [this, key, fn = std::move(fn)] {
    owned_timers_.erase(*key);
    fn();
  });
  owned_timers_.insert(*key);
}

void OpenApiChannel::call(std::string method, std::string path, KeyValues query, std::string body,
                          JsonCallback cb) {
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

OpenApiChannel::Bucket& OpenApiChannel::bucket_for(const Call& c) {
  for (const auto& rule : rules_) {
    if (pattern_matches(rule.pattern, c.method, c.path)) {
      Bucket& b = buckets_[rule.pattern];
      b.qps = rule.qps;
      return b;
    }
  }
  Bucket& b = buckets_[DEFAULT_BUCKET];
  b.qps = config_.default_qps;
  return b;
}

void OpenApiChannel::pump() {
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

void OpenApiChannel::schedule_pump(uint64_t at_ms) {
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

void OpenApiChannel::dispatch(const CallPtr& c) {
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

void OpenApiChannel::deactivate(const CallPtr& c) {
  if (c->active) {
    c->active = false;
    --active_;
  }
}

bool OpenApiChannel::token_fresh() const {
  if (access_token_.empty()) return false;
  const uint64_t margin = std::min(config_.refresh_margin_ms, token_lifetime_ms_ / 2);
  return timers_.now_ms() + margin < token_expiry_ms_;
}

std::string OpenApiChannel::timestamp() const {
  return std::to_string(timers_.unix_ms() + clock_offset_ms_);
}

HttpRequest OpenApiChannel::build(const std::string& method, const std::string& path, const KeyValues& query,
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

void OpenApiChannel::send(const CallPtr& c) {
  if (c->token_only) {
    after(0, [this, c] { finish(c, json(uid_)); });
    return;
  }
  const std::string token = access_token_;
  // Charged again at the moment of sending: a call that waited for a token must not arrive early.
  Bucket& b = bucket_for(*c);
  b.next_ms = std::max(b.next_ms, timers_.now_ms() + interval_ms(b));
  ++stats_.requests;
  T2M_LOGV(OPENAPI_CHANNEL_TAG, "%s %s", c->method.c_str(), c->path.c_str());
  HttpRequestId id = http_.send(build(c->method, c->path, c->query, c->body, token),
                                [this, c, token](Result<HttpResponse> r) {
                                  in_flight_.erase(c.get());
                                  on_response(c, token, std::move(r));
                                });
  in_flight_[c.get()] = {id, c};
}

void OpenApiChannel::on_response(const CallPtr& c, const std::string& token_used, Result<HttpResponse> r) {
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

void OpenApiChannel::adopt_server_time(int64_t server_t) {
  const int64_t offset = server_t - timers_.unix_ms();
  if (std::llabs(offset - clock_offset_ms_) > CLOCK_WARN_MS) {
    T2M_LOGW(OPENAPI_CHANNEL_TAG, "host clock differs from the cloud's by %lld ms; compensating",
             static_cast<long long>(offset));
  }
  clock_offset_ms_ = offset;
}

void OpenApiChannel::stop(const Error& e) {
  T2M_LOGE(OPENAPI_CHANNEL_TAG, "cloud calls stopped: %s", e.message.c_str());
  stopped_ = e;
  auto queued = std::move(queue_);
  queue_.clear();
  for (auto& q : queued) finish(q, fail(ERR_STOPPED, "cloud calls stopped: " + e.message));
}

void OpenApiChannel::retry_later(const CallPtr& c, bool penalise_bucket) {
  ++c->attempts;
  ++stats_.retries;
  const uint64_t delay = backoff_ms(c->attempts - 1);
  if (penalise_bucket) {
    Bucket& b = bucket_for(*c);
    b.next_ms = std::max(b.next_ms, timers_.now_ms() + delay);
  }
  deactivate(c);
  T2M_LOGD(OPENAPI_CHANNEL_TAG, "retrying %s %s in %llu ms (attempt %d)", c->method.c_str(), c->path.c_str(),
           static_cast<unsigned long long>(delay), c->attempts);
  after(delay, [this, c] {
    queue_.push_front(c);
    pump();
  });
}

uint64_t OpenApiChannel::backoff_ms(int attempt) const {
  return std::min(config_.backoff_max_ms,
                  config_.backoff_initial_ms << std::min(attempt, MAX_BACKOFF_DOUBLINGS));
}

void OpenApiChannel::finish(const CallPtr& c, Result<json> r) {
  if (c->done) return;
  c->done = true;
  deactivate(c);
  if (!r) {
    ++stats_.errors;
    T2M_LOGD(OPENAPI_CHANNEL_TAG, "%s %s failed: %s", c->method.c_str(), c->path.c_str(),
             r.error().message.c_str());
  }
  JsonCallback cb = std::move(c->cb);
  if (cb) cb(std::move(r));
  pump();
}

void OpenApiChannel::ensure_token() {
  if (token_fetching_) return;
  fetch_token(!refresh_token_.empty(), 0);
}

void OpenApiChannel::fetch_token(bool use_refresh, int attempt) {
  token_fetching_ = true;
  HttpRequest req = use_refresh ? build("GET", "/v1.0/token/" + refresh_token_, {}, {}, {})
                                : build("GET", "/v1.0/token", {{"grant_type", "1"}}, {}, {});
  ++stats_.requests;
  token_request_ = http_.send(std::move(req), [this, use_refresh, attempt](Result<HttpResponse> r) {
    on_token(use_refresh, attempt, std::move(r));
  });
}

void OpenApiChannel::on_token(bool was_refresh, int attempt, Result<HttpResponse> r) {
  auto retry_or_fail = [&](const Error& e) {
    if (attempt < config_.max_retries) {
      after(backoff_ms(attempt), [this, was_refresh, attempt] { fetch_token(was_refresh, attempt + 1); });
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
    T2M_LOGD(OPENAPI_CHANNEL_TAG, "token %s, valid %lld s", was_refresh ? "refreshed" : "granted",
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
  if (info.action == CodeAction::STOP || code == TUYA_CODE_SIGN_INVALID) {
    token_failed(err);
    stop(err);
    return;
  }
  token_failed(err);
}

void OpenApiChannel::token_failed(const Error& e) {
  token_fetching_ = false;
  T2M_LOGW(OPENAPI_CHANNEL_TAG, "could not obtain a cloud token: %s", e.message.c_str());
  auto waiting = std::move(token_wait_);
  token_wait_.clear();
  Error out = e;
  if (classify_tuya_code(tuya_code_of(e)).action != CodeAction::STOP && e.code != std::string(ERR_SIGN)) {
    out = Error{ERR_TOKEN, "no cloud token: " + e.message};
  }
  for (auto& c : waiting) finish(c, fail(out));
}

void OpenApiChannel::cancel_all() {
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

void OpenApiChannel::connect(Callback<std::string> cb) {
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

}  // namespace t2m::cloud

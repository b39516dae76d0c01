// The Tuya OpenAPI channel: signed requests (docs/cloud.md §1), the token lifecycle (fetch, refresh
// before expiry, one refresh at a time, retry once on expired/invalid token), clock-skew correction from
// the server's `t`, error mapping (§2.2, openapi_errors.h), per-API rate limits, bounded concurrency and
// back-off (§2.3), all behind one request queue. It knows no endpoint: the typed calls live in openapi.h.
// Everything runs on the loop thread; callbacks are never invoked from inside the call that started them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/http_client.h"
#include "cloud/openapi_errors.h"
#include "cloud/sign.h"
#include "common/result.h"
#include "common/timers.h"
#include "protocol/dps.h"

namespace t2m::cloud {

// Region code (cn, us, us-e, eu, eu-w, in, sg, plus tinytuya's az/ue/we) -> OpenAPI base URL.
Result<std::string> region_base_url(std::string_view region);
const std::vector<std::string>& known_regions();

using NonceSource = std::function<std::string()>;
// 32 random hex characters per call (uv_random); "" would disable the nonce header.
NonceSource random_nonce_source();

struct CloudConfig {
  std::string access_id;
  std::string access_secret;
  std::string region = "eu";
  std::string base_url;  // overrides region when set (tests: http://127.0.0.1:port)
  std::string lang = "en";
  uint64_t request_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
  int max_retries = 3;                 // for back-off codes, 500 and transport errors of GETs
  uint64_t backoff_initial_ms = 1000;  // doubles per attempt
  uint64_t backoff_max_ms = 30000;
  uint64_t refresh_margin_ms = 60000;  // refresh this long before expiry (SDKs use 60 s)
  size_t max_concurrent = 4;           // Tuya answers 1110 past a small concurrency
  double default_qps = 10.0;           // APIs without a documented limit
};

// A per-API limit: `pattern` is "METHOD /path" with `*` for one path segment.
struct RateRule {
  std::string pattern;
  double qps;
};
// Limits from docs/cloud.md §2.3 (model 10/s, shadow issue 4/s, shadow actions 4/s, properties 50/s ...).
std::vector<RateRule> default_rate_rules();

using JsonCallback = std::function<void(Result<nlohmann::json>)>;
template <class T>
using Callback = std::function<void(Result<T>)>;

struct ApiStats {
  uint64_t requests = 0, retries = 0, token_grants = 0, token_refreshes = 0, throttled = 0, errors = 0;
};

class OpenApiChannel {
 public:
  OpenApiChannel(HttpClient& http, Timers& timers, CloudConfig config,
                 NonceSource nonce = random_nonce_source());
  ~OpenApiChannel();
  OpenApiChannel(const OpenApiChannel&) = delete;
  OpenApiChannel& operator=(const OpenApiChannel&) = delete;

  // Validates the configuration (region, id, secret) without network.
  Status validate() const;

  // Generic signed call; `result` of the envelope on success. `body` is sent byte for byte.
  void call(std::string method, std::string path, KeyValues query, std::string body, JsonCallback cb);
  void get(std::string path, KeyValues query, JsonCallback cb) {
    call("GET", std::move(path), std::move(query), {}, std::move(cb));
  }
  // Strings that are not UTF-8 (a bare MQTT value) are sent with U+FFFD instead of throwing.
  void post(std::string path, const nlohmann::json& body, JsonCallback cb) {
    call("POST", std::move(path), {}, proto::dump_lossy(body), std::move(cb));
  }

  // Obtains a token now (also done lazily by every call). Result: the project uid.
  void connect(Callback<std::string> cb);

  // Runs `fn` on a later loop turn (never dropped unless the channel is destroyed first): lets a typed
  // call answer without a request and still keep the never-from-inside-the-call promise.
  void defer(std::function<void()> fn) { after(0, std::move(fn)); }

  // State.
  const std::string& project_uid() const { return uid_; }
  bool has_token() const { return !access_token_.empty(); }
  int64_t clock_offset_ms() const { return clock_offset_ms_; }
  const std::optional<Error>& stopped() const { return stopped_; }
  void resume() { stopped_.reset(); }  // after the user fixed the configuration
  const ApiStats& stats() const { return stats_; }
  const std::string& base_url() const { return base_url_; }
  // Drops pending calls (their callbacks get ERR_CANCELLED) and in-flight requests.
  void cancel_all();

 private:
  struct Call;
  using CallPtr = std::shared_ptr<Call>;
  struct Bucket {
    double qps = 0;
    uint64_t next_ms = 0;
  };

  void pump();
  void schedule_pump(uint64_t at_ms);
  void dispatch(const CallPtr& c);
  void deactivate(const CallPtr& c);
  void send(const CallPtr& c);
  void on_response(const CallPtr& c, const std::string& token_used, Result<HttpResponse> r);
  void finish(const CallPtr& c, Result<nlohmann::json> r);
  void retry_later(const CallPtr& c, bool penalise_bucket);
  uint64_t backoff_ms(int attempt) const;
  void stop(const Error& e);
  void adopt_server_time(int64_t server_t);
  Bucket& bucket_for(const Call& c);
  static uint64_t interval_ms(const Bucket& b);
  void after(uint64_t delay_ms, std::function<void()> fn);

  void ensure_token();
  void fetch_token(bool use_refresh, int attempt);
  void on_token(bool was_refresh, int attempt, Result<HttpResponse> r);
  void token_failed(const Error& e);
  bool token_fresh() const;

  std::string timestamp() const;
  HttpRequest build(const std::string& method, const std::string& path, const KeyValues& query,
                    const std::string& body, const std::string& token) const;

  HttpClient& http_;
  Timers& timers_;
  CloudConfig config_;
  NonceSource nonce_;
  std::string base_url_;
  std::vector<RateRule> rules_;
  std::map<std::string, Bucket> buckets_;

  std::deque<CallPtr> queue_;        // waiting for a rate/concurrency slot
  std::vector<CallPtr> token_wait_;  // dispatched, waiting for a token
  std::map<Call*, std::pair<HttpRequestId, CallPtr>> in_flight_;
  std::set<TimerId> owned_timers_;
  TimerId pump_timer_ = NO_TIMER;
  uint64_t pump_at_ = 0;
  size_t active_ = 0;  // calls holding a concurrency slot (sending or waiting for a token)
  bool pumping_ = false;
  bool repump_ = false;

  std::string access_token_, refresh_token_, uid_;
  uint64_t token_expiry_ms_ = 0;  // monotonic
  uint64_t token_lifetime_ms_ = 0;
  bool token_fetching_ = false;
  HttpRequestId token_request_ = 0;
  int64_t clock_offset_ms_ = 0;
  std::optional<Error> stopped_;
  ApiStats stats_;
};

}  // namespace t2m::cloud

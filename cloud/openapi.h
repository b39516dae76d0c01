// Tuya OpenAPI client: token lifecycle (fetch, refresh before expiry, one refresh at a time, retry
// once on expired/invalid token), clock-skew correction from the server's `t`, error mapping
// (docs/cloud.md §2.2), per-API rate limits and back-off, and typed calls. Everything runs on the loop
// thread; callbacks are never invoked from inside the call that started them.
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
#include "cloud/models.h"
#include "cloud/sign.h"
#include "common/result.h"
#include "common/timers.h"
#include "protocol/dps.h"

namespace t2m::cloud {

// Error::code values of this module (stable: used in metrics and MQTT error answers).
inline constexpr const char* ERR_TRANSPORT = "cloud_transport";      // network, timeout, HTTP status
inline constexpr const char* ERR_SERVER = "cloud_server";            // 500 after retries
inline constexpr const char* ERR_NOT_FOUND = "cloud_not_found";      // 1000, 2002/2003/2005/2006/2010
inline constexpr const char* ERR_CONFIG = "cloud_config";            // 1001/1005/1008: wrong id/secret
inline constexpr const char* ERR_SIGN = "cloud_sign_invalid";        // 1004
inline constexpr const char* ERR_TOKEN = "cloud_token";              // token could not be obtained/renewed
inline constexpr const char* ERR_CLOCK = "cloud_clock";              // 1013 after correction
inline constexpr const char* ERR_BAD_REQUEST = "cloud_bad_request";  // 1002/1003/1100-1102/1105/1109
inline constexpr const char* ERR_COMMAND = "cloud_command_failed";   // 1103
inline constexpr const char* ERR_TYPE = "cloud_type_incorrect";      // 1104
inline constexpr const char* ERR_PERMISSION = "cloud_permission_denied";       // 1106
inline constexpr const char* ERR_API_UNAVAILABLE = "cloud_api_unavailable";    // 1108
inline constexpr const char* ERR_THROTTLED = "cloud_throttled";                // 1110/1111/1199 after retries
inline constexpr const char* ERR_BUSY = "cloud_busy";                          // 1112 after retries
inline constexpr const char* ERR_DUPLICATE = "cloud_duplicate";                // 1113
inline constexpr const char* ERR_OFFLINE = "cloud_device_offline";             // 2001
inline constexpr const char* ERR_REGION = "cloud_region";                      // 2007
inline constexpr const char* ERR_UNSUPPORTED = "cloud_unsupported";            // 2008/2009
inline constexpr const char* ERR_NOT_AUTHORIZED = "cloud_api_not_authorized";  // 28841105
inline constexpr const char* ERR_TRIAL_EXPIRED = "cloud_trial_expired";        // 28841002
inline constexpr const char* ERR_QUOTA = "cloud_quota_exhausted";              // 28841004
inline constexpr const char* ERR_SKILL = "cloud_skill_invalid";                // 2406
inline constexpr const char* ERR_STOPPED = "cloud_stopped";  // refused: an earlier fatal error
inline constexpr const char* ERR_CANCELLED = "cloud_cancelled";
inline constexpr const char* ERR_OTHER = "cloud_error";

// What the client does with a Tuya error code (docs/cloud.md §2.2 table).
enum class CodeAction {
  RETRY_BACKOFF,  // 500, 1110, 1111, 1112, 1199
  REFRESH_TOKEN,  // 1010: refresh, retry once
  NEW_TOKEN,      // 1011/1012/1400: fresh grant_type=1 token, retry once
  CLOCK_SKEW,     // 1013: adopt the server's clock, retry once
  STOP,           // 1001/1005/1008, 28841002, 28841004: configuration/account problem, stop calling
  FAIL,           // everything else: report to the caller
};

struct CodeInfo {
  CodeAction action;
  const char* error_code;
  const char* hint;  // what the user should check, empty when none
};
CodeInfo classify_tuya_code(int code);
// Tuya's numeric code inside an Error produced by this module ("[1106] ..."), or 0.
int tuya_code_of(const Error& e);

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

class OpenApi {
 public:
  OpenApi(HttpClient& http, Timers& timers, CloudConfig config, NonceSource nonce = random_nonce_source());
  ~OpenApi();
  OpenApi(const OpenApi&) = delete;
  OpenApi& operator=(const OpenApi&) = delete;

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

  // --- devices ---
  void get_device(const std::string& id, Callback<DeviceInfo> cb);
  // Every device of the app account `owner_uid` (v1.3 listing, falls back to /v1.0/users/{uid}/devices),
  // plus the project-wide listings (v2.0 thing list, associated users) merged by id.
  void list_devices(const std::string& owner_uid, Callback<std::vector<DeviceInfo>> cb);
  // One listing API, every page (guards: repeated or empty cursor, de-duplication by id).
  enum class Listing { THING_V2, IOT03_V13, ASSOCIATED_USERS, USER_V1 };
  void list_devices_with(Listing api, const std::string& owner_uid, Callback<std::vector<DeviceInfo>> cb);
  void factory_infos(const std::vector<std::string>& ids, Callback<std::vector<FactoryInfo>> cb);
  void get_status(const std::string& id, JsonCallback cb);
  // Batch status (≤ 20 ids per call, split as needed): device id -> [{code, value}].
  void get_statuses(const std::vector<std::string>& ids, Callback<std::map<std::string, nlohmann::json>> cb);
  // For the gateway when a device's key stops working: the current local key.
  void refresh_local_key(const std::string& id, Callback<std::string> cb);

  // --- specifications ---
  // v1.1 specifications (dp_id); when a code lacks a dp_id, the thing model and then the shadow
  // properties fill it in. 2009 (no DPs) gives an empty specification, not an error.
  void get_specification(const std::string& id, Callback<Specification> cb);
  void get_thing_model(const std::string& id, Callback<std::vector<DpSpec>> cb);
  void get_shadow_properties(const std::string& id, const std::vector<std::string>& codes,
                             Callback<std::vector<ShadowProperty>> cb);

  // --- control (LAN fallback) ---
  // {"code": value, ...}; falls back from /v1.0/devices to /v1.0/iot-03/devices on 1106/1108.
  void send_commands(const std::string& id, const nlohmann::json& code_values, Callback<bool> cb);
  void issue_properties(const std::string& id, const nlohmann::json& code_values, Callback<bool> cb);

  // --- firmware (see ota.h for the state machine) ---
  void get_firmware(const std::string& id, Callback<std::vector<FirmwareInfo>> cb);
  void start_firmware_upgrade(const std::string& id, int channel, Callback<bool> cb);
  void get_upgrade_progress(const std::string& id, int channel, Callback<UpgradeProgress> cb);

  // --- history ---
  void get_report_logs(const std::string& id, const std::vector<std::string>& codes, int64_t start_ms,
                       int64_t end_ms, int size, const std::string& last_row_key, Callback<ReportLogPage> cb);

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
  struct Walk;
  void walk_page(const std::shared_ptr<Walk>& w, const std::string& cursor);
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

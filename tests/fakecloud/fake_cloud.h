// A fake Tuya OpenAPI (docs/cloud.md §7): verifies every request's signature, issues expiring tokens with
// single-use refresh tokens, paginates device lists, serves specifications, firmware (scripted state
// machine) and report logs, and injects failures on demand. The core is transport-free (`handle`);
// `InProcessHttpClient` routes a cloud::HttpClient straight into it on injected timers, and
// `FakeCloudServer` (fake_cloud_server.h) serves it as HTTP/1.1 on 127.0.0.1. Sources: fake_cloud.cpp
// (checks, tokens, routing), fake_cloud_endpoints.cpp (handlers), in_process_http.cpp, fake_cloud_demo.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cloud/http_client.h"
#include "cloud/sign.h"
#include "common/timers.h"
#include "tests/fakes/fake_timers.h"

namespace t2m::fakecloud {

struct Request {
  std::string method;
  std::string path;
  cloud::KeyValues query;                      // decoded
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct Response {
  int status = 200;
  std::string body;
  bool hang = false;  // never answer (timeouts)
};

// Splits "http://host:port/p?a=b%20c" into path and decoded query.
bool parse_target(std::string_view target, std::string& path, cloud::KeyValues& query);
std::string url_decode(std::string_view s);

struct FakeDevice {
  std::string id, name, local_key, category = "dj", product_id = "prod0001", product_name = "Fake Bulb";
  std::string uuid, mac, ip = "192.0.2.10", uid = "ay1700000000000owner", model, icon = "smart/icon.png";
  std::string node_id, gateway_id, time_zone = "+01:00";
  bool sub = false;
  bool online = true;
  nlohmann::json status = nlohmann::json::array();  // [{code, value}]
  // Each entry: {dp_id, code, type, values(object), mode: "rw"|"ro"}; "ro" entries are status only.
  nlohmann::json dps = nlohmann::json::array();
  bool has_dps = true;  // false: specifications answer 2009
};

struct FakeFirmware {
  int channel = 0;
  std::string current_version = "1.0.0";
  std::string latest_version = "1.1.0";
  int upgrade_status = 1;  // 0 nothing, 1 ready, 2 upgrading, 3 done, 4 failed, 7 timeout
  bool can_upgrade = true;
  std::string remind;
  int progress = 0;
  int progress_step = 25;  // per progress query
  int outcome = 3;         // status once progress reaches 100
  bool stall = false;      // stays at status 2 forever (client time-out path)
};

struct Failure {
  int code = 0;  // Tuya error code in an HTTP 200 envelope
  std::string msg = "injected";
  int http_status = 0;  // e.g. 500: answer with this status and an HTML body
  bool malformed = false;
  bool hang = false;
  int times = 1;
};

// What the open-hub access-config call hands out (docs/cloud.md §6.b, §7.9): normally a FakeOpenhub's
// access(), i.e. a loopback mosquitto and credentials it accepts.
struct OpenhubAccess {
  std::string url;  // tcp://127.0.0.1:<port>
  std::string client_id, username, password;
  int64_t expire_time_s = 7200;
  std::string source_topic;  // answered as {"device": <this>}
};

struct LogEntry {
  std::string code;
  std::string value;  // string as Tuya sends it
  int64_t event_time = 0;
};

class FakeCloud {
 public:
  struct Options {
    std::string client_id = "fakeclientid00000001";
    std::string secret = "fakesecret0123456789abcdefghijklm";
    int64_t expire_time_s = 7200;
    int64_t sign_window_ms = 10LL * 60 * 1000;
    std::string project_uid = "bay1700000000000proj";
    int64_t clock_offset_ms = 0;    // the fake's clock runs this far ahead of the injected one
    bool camel_case = false;        // report logs and thing list answer in camelCase
    bool logs_cursor_loop = false;  // report logs keep answering the same cursor
    bool reuse_valid_token = true;  // grant_type=1 while valid returns the same token
  };

  explicit FakeCloud(Timers& clock);
  FakeCloud(Timers& clock, Options options);

  Response handle(const Request& request);

  Options& options() { return options_; }
  void add_device(FakeDevice device);
  FakeDevice* device(const std::string& id);
  void remove_device(const std::string& id);
  // Injects a failure for requests whose "METHOD /path" starts with `prefix`, e.g. "GET /v1.0/devices/".
  void fail(const std::string& prefix, Failure failure);
  void clear_failures() { failures_.clear(); }
  void expire_all_tokens();
  void revoke_all_tokens() {
    tokens_.clear();
    refresh_tokens_.clear();
  }
  void set_firmware(const std::string& device_id, std::vector<FakeFirmware> fw) {
    firmware_[device_id] = std::move(fw);
  }
  FakeFirmware* firmware(const std::string& device_id, int channel);
  void add_log(const std::string& device_id, LogEntry entry) { logs_[device_id].push_back(std::move(entry)); }
  // Serves POST /v1.0/open-hub/access/config and /v1.0/iot-03/open-hub/access-config with `access`
  // (unset: both answer 1106, as for a project without the message service). Bodies are checked:
  // uid = the project uid, a link_id, link_type "mqtt", topics "device", msg_encrypted_version
  // "1.0"/"2.0" (else 1109).
  void set_openhub(std::optional<OpenhubAccess> access) { openhub_ = std::move(access); }
  // Every accepted config call's body, in order.
  const std::vector<nlohmann::json>& openhub_requests() const { return openhub_requests_; }

  // Statistics for assertions.
  int count(const std::string& prefix) const;
  int grants() const { return grants_; }
  int refreshes() const { return refreshes_; }
  int sign_rejects() const { return sign_rejects_; }
  int64_t now_ms() const { return clock_.unix_ms() + options_.clock_offset_ms; }
  const std::vector<std::string>& request_log() const { return log_; }
  // Commands and shadow writes accepted, as {"device","code","value"}.
  const nlohmann::json& writes() const { return writes_; }

 private:
  struct Token {
    int64_t expires_at = 0;
    std::string refresh;
  };
  Response ok(const nlohmann::json& result) const;
  Response error(int code, const std::string& msg) const;
  std::optional<Response> authenticate(const Request& r, bool token_call);
  Response route(const Request& r, const std::vector<std::string>& seg);
  Response issue_token();
  // Endpoint handlers (fake_cloud_endpoints.cpp).
  Response user_devices(const std::string& uid) const;
  Response factory_infos(const Request& r) const;
  Response batch_status(const Request& r) const;
  Response commands(FakeDevice& d, const Request& r);
  Response issue_properties(FakeDevice& d, const Request& r);
  Response device_json_list(const std::vector<const FakeDevice*>& list) const;
  nlohmann::json device_json(const FakeDevice& d, bool v2) const;
  Response specifications(const FakeDevice& d, bool with_dp_id) const;
  Response model(const FakeDevice& d) const;
  Response shadow(const FakeDevice& d, const Request& r) const;
  Response write(FakeDevice& d, const nlohmann::json& kv);
  Response thing_list(const Request& r) const;
  Response v13_list(const Request& r) const;
  Response associated(const Request& r) const;
  Response report_logs(const FakeDevice& d, const Request& r) const;
  Response firmware_query(const FakeDevice& d) const;
  Response firmware_start(const FakeDevice& d, int channel);
  Response firmware_progress(const FakeDevice& d, int channel);
  Response openhub_config(const Request& r);

  Timers& clock_;
  Options options_;
  std::map<std::string, FakeDevice> devices_;
  std::map<std::string, Token> tokens_;
  std::map<std::string, std::string> refresh_tokens_;  // refresh -> access
  std::vector<std::pair<std::string, Failure>> failures_;
  std::map<std::string, std::vector<FakeFirmware>> firmware_;
  std::map<std::string, std::vector<LogEntry>> logs_;
  std::optional<OpenhubAccess> openhub_;
  std::vector<nlohmann::json> openhub_requests_;
  std::vector<std::string> log_;
  nlohmann::json writes_ = nlohmann::json::array();
  int serial_ = 0;
  int grants_ = 0;
  int refreshes_ = 0;
  int sign_rejects_ = 0;
};

// Routes requests into a FakeCloud with a small injected latency, so tests run on FakeTimers alone.
class InProcessHttpClient final : public cloud::HttpClient {
 public:
  InProcessHttpClient(FakeCloud& cloud, Timers& timers, uint64_t latency_ms = 5)
      : cloud_(cloud), timers_(timers), latency_ms_(latency_ms) {}
  ~InProcessHttpClient() override;
  cloud::HttpRequestId send(cloud::HttpRequest request, cloud::HttpCallback callback) override;
  void cancel(cloud::HttpRequestId id) override;
  size_t in_flight() const override { return pending_.size(); }
  // Every request as sent (method, url, headers, body), for assertions.
  const std::vector<cloud::HttpRequest>& sent() const { return sent_; }
  // Monotonic time of each send, parallel to sent().
  const std::vector<uint64_t>& sent_at() const { return sent_at_; }
  size_t peak_in_flight() const { return peak_; }

 private:
  FakeCloud& cloud_;
  Timers& timers_;
  uint64_t latency_ms_;
  cloud::HttpRequestId next_ = 1;
  std::map<cloud::HttpRequestId, TimerId> pending_;
  std::vector<cloud::HttpRequest> sent_;
  std::vector<uint64_t> sent_at_;
  size_t peak_ = 0;
};

// A demo data set: a bulb, a plug with energy DPs, a Zigbee gateway and one sub-device.
void populate_demo(FakeCloud& cloud);

}  // namespace t2m::fakecloud

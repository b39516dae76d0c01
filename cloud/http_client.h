// Asynchronous HTTP for the OpenAPI layer. CurlHttpClient drives libcurl's multi-socket API from the
// uv loop (one uv_poll per socket, one uv_timer for curl's timeout), so nothing blocks the loop.
// The HttpClient interface lets the OpenAPI layer run against an in-process fake in tests.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/uv_handle.h"

namespace t2m::cloud {

inline constexpr uint64_t HTTP_DEFAULT_TIMEOUT_MS = 15000;
inline constexpr uint64_t HTTP_DEFAULT_CONNECT_TIMEOUT_MS = 10000;
// OpenAPI answers are small; a device list page with 200 entries stays well under 1 MiB.
inline constexpr size_t HTTP_DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

// Error codes (Error::code) produced by HTTP clients.
inline constexpr const char* HTTP_ERR_TIMEOUT = "http_timeout";
inline constexpr const char* HTTP_ERR_TOO_LARGE = "http_response_too_large";
inline constexpr const char* HTTP_ERR_TRANSPORT = "http_transport";
inline constexpr const char* HTTP_ERR_SETUP = "http_setup";

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute, query already percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent byte for byte (the signature covers these exact bytes)
  uint64_t timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
  uint64_t connect_timeout_ms = HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
  size_t max_response_bytes = HTTP_DEFAULT_MAX_RESPONSE_BYTES;
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

using HttpCallback = std::function<void(Result<HttpResponse>)>;
using HttpRequestId = uint64_t;

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Starts a request. The callback runs later on the loop thread, exactly once, unless cancelled;
  // it never runs inside send(). Any HTTP status is a successful transfer (status in the response).
  virtual HttpRequestId send(HttpRequest request, HttpCallback callback) = 0;
  // Aborts a request; its callback will not run. Unknown ids are ignored.
  virtual void cancel(HttpRequestId id) = 0;
  virtual size_t in_flight() const = 0;
};

class CurlHttpClient final : public HttpClient {
 public:
  // The loop must outlive this object and be run after its destruction so handles finish closing.
  // Do not destroy the client from inside one of its callbacks.
  explicit CurlHttpClient(uv_loop_t* loop);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  HttpRequestId send(HttpRequest request, HttpCallback callback) override;
  void cancel(HttpRequestId id) override;
  size_t in_flight() const override { return transfers_.size(); }

  // True when libcurl resolves names without blocking (threaded or c-ares resolver).
  static bool async_dns_available();

 private:
  struct Transfer;
  struct Socket {
    UvHandle<uv_poll_t> poll;
    CurlHttpClient* owner = nullptr;
    int fd = -1;
  };

  static int on_curl_socket(void* easy, int fd, int action, void* userp, void* socketp);
  static int on_curl_timer(void* multi, long timeout_ms, void* userp);
  static void on_poll(uv_poll_t* handle, int status, int events);
  static void on_timeout(uv_timer_t* handle);
  static size_t on_write(char* data, size_t size, size_t nmemb, void* userp);
  static void on_deferred(uv_timer_t* handle);

  void socket_action(int fd, int flags);
  void drain_messages();
  void finish(Transfer& t, Result<HttpResponse> result);
  void defer_failure(HttpCallback cb, Error error);

  uv_loop_t* loop_;
  void* multi_ = nullptr;  // CURLM*, kept opaque so this header does not pull in curl.h
  UvHandle<uv_timer_t> timer_;
  UvHandle<uv_timer_t> deferred_timer_;
  HttpRequestId next_id_ = 1;
  std::map<HttpRequestId, std::unique_ptr<Transfer>> transfers_;
  std::map<int, std::unique_ptr<Socket>> sockets_;
  std::vector<std::pair<HttpCallback, Error>> deferred_;
};

// Percent-encodes everything except RFC 3986 unreserved characters (for query keys and values).
std::string url_encode(std::string_view text);

}  // namespace t2m::cloud

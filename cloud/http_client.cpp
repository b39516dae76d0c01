#include "cloud/http_client.h"

#include <curl/curl.h>

#include <mutex>

#include "common/log.h"

namespace t2m::cloud {

namespace {

const char* const HTTP_CLIENT_TAG = "cloud.http";

CURLM* as_multi(void* p) {
  return static_cast<CURLM*>(p);
}

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!CurlHttpClient::async_dns_available()) {
      T2M_LOGW(HTTP_CLIENT_TAG,
               "libcurl has no asynchronous resolver: name lookups may block the loop briefly");
    }
  });
}

}  // namespace

struct CurlHttpClient::Transfer {
  HttpRequestId id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  std::string response;
  size_t max_bytes = 0;
  bool too_large = false;
  HttpCallback callback;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
    if (headers) curl_slist_free_all(headers);
  }
};

bool CurlHttpClient::async_dns_available() {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  return info && (info->features & CURL_VERSION_ASYNCHDNS) != 0;
}

CurlHttpClient::CurlHttpClient(uv_loop_t* loop) : loop_(loop) {
  global_init_once();
  timer_.init([&](uv_timer_t* t) { return uv_timer_init(loop_, t); });
  timer_->data = this;
  deferred_timer_.init([&](uv_timer_t* t) { return uv_timer_init(loop_, t); });
  deferred_timer_->data = this;
  CURLM* m = curl_multi_init();
  multi_ = m;
  if (m) {
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &CurlHttpClient::on_curl_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &CurlHttpClient::on_curl_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
  }
}

CurlHttpClient::~CurlHttpClient() {
  CURLM* m = as_multi(multi_);
  for (auto& [id, t] : transfers_) {
    if (m) curl_multi_remove_handle(m, t->easy);
  }
  transfers_.clear();
  if (m) curl_multi_cleanup(m);
  multi_ = nullptr;
  sockets_.clear();  // closes the poll handles
}

size_t CurlHttpClient::on_write(char* data, size_t size, size_t nmemb, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  const size_t n = size * nmemb;
  if (t->response.size() + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  t->response.append(data, n);
  return n;
}

HttpRequestId CurlHttpClient::send(HttpRequest request, HttpCallback callback) {
  const HttpRequestId id = next_id_++;
  CURLM* m = as_multi(multi_);
  auto t = std::make_unique<Transfer>();
  t->id = id;
  t->easy = curl_easy_init();
  if (!m || !t->easy) {
    defer_failure(std::move(callback), Error{HTTP_ERR_SETUP, "libcurl initialisation failed"});
    return id;
  }
  t->body = std::move(request.body);
  t->max_bytes = request.max_response_bytes;
  t->callback = std::move(callback);
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlHttpClient::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout_ms));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_response_bytes));
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (request.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    if (request.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.c_str());
  }
  for (const auto& [name, value] : request.headers) {
    std::string line = name + ": " + value;
    if (value.empty()) line = name + ";";  // curl's syntax for a header with an empty value
    t->headers = curl_slist_append(t->headers, line.c_str());
  }
  // Tuya does not do 100-continue; waiting for it only adds a second of latency.
  t->headers = curl_slist_append(t->headers, "Expect:");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);

  Transfer* raw = t.get();
  transfers_.emplace(id, std::move(t));
  if (curl_multi_add_handle(m, raw->easy) != CURLM_OK) {
    HttpCallback cb = std::move(raw->callback);
    transfers_.erase(id);
    defer_failure(std::move(cb), Error{HTTP_ERR_SETUP, "curl_multi_add_handle failed"});
  }
  return id;
}

void CurlHttpClient::cancel(HttpRequestId id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  curl_multi_remove_handle(as_multi(multi_), it->second->easy);
  transfers_.erase(it);
}

void CurlHttpClient::defer_failure(HttpCallback cb, Error error) {
  deferred_.emplace_back(std::move(cb), std::move(error));
  uv_timer_start(deferred_timer_.get(), &CurlHttpClient::on_deferred, 0, 0);
}

void CurlHttpClient::on_deferred(uv_timer_t* handle) {
  auto* self = static_cast<CurlHttpClient*>(handle->data);
  if (!self) return;
  auto items = std::move(self->deferred_);
  self->deferred_.clear();
  for (auto& [cb, err] : items) {
    if (cb) cb(fail(err));
  }
}

int CurlHttpClient::on_curl_socket(void* /*easy*/, int fd, int action, void* userp, void* /*socketp*/) {
  auto* self = static_cast<CurlHttpClient*>(userp);
  if (action == CURL_POLL_REMOVE) {
    auto it = self->sockets_.find(fd);
    if (it != self->sockets_.end()) {
      uv_poll_stop(it->second->poll.get());
      self->sockets_.erase(it);  // closes the poll handle before curl closes the fd
    }
    return 0;
  }
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end()) {
    auto s = std::make_unique<Socket>();
    s->owner = self;
    s->fd = fd;
    if (s->poll.init([&](uv_poll_t* p) { return uv_poll_init_socket(self->loop_, p, fd); }) != 0) {
      T2M_LOGE(HTTP_CLIENT_TAG, "uv_poll_init_socket failed for fd %d", fd);
      return -1;
    }
    s->poll->data = s.get();
    it = self->sockets_.emplace(fd, std::move(s)).first;
  }
  int events = 0;
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) events |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(it->second->poll.get(), events, &CurlHttpClient::on_poll);
  return 0;
}

int CurlHttpClient::on_curl_timer(void* /*multi*/, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlHttpClient*>(userp);
  if (timeout_ms < 0) {
    uv_timer_stop(self->timer_.get());
  } else {
    // 0 means "as soon as possible"; socket_action may not be called from inside this callback.
    uv_timer_start(self->timer_.get(), &CurlHttpClient::on_timeout, static_cast<uint64_t>(timeout_ms), 0);
  }
  return 0;
}

void CurlHttpClient::on_poll(uv_poll_t* handle, int status, int events) {
  auto* s = static_cast<Socket*>(handle->data);
  if (!s) return;
  int flags = 0;
  if (status < 0) flags |= CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  // `s` may be destroyed inside socket_action (CURL_POLL_REMOVE): copy what is needed first.
  CurlHttpClient* owner = s->owner;
  owner->socket_action(s->fd, flags);
}

void CurlHttpClient::on_timeout(uv_timer_t* handle) {
  auto* self = static_cast<CurlHttpClient*>(handle->data);
  if (!self) return;
  self->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void CurlHttpClient::socket_action(int fd, int flags) {
  int running = 0;
  curl_multi_socket_action(as_multi(multi_), fd, flags, &running);
  drain_messages();
}

void CurlHttpClient::drain_messages() {
  CURLMsg* msg = nullptr;
  int pending = 0;
  while ((msg = curl_multi_info_read(as_multi(multi_), &pending)) != nullptr) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode code = msg->data.result;
    char* priv = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    auto* t = reinterpret_cast<Transfer*>(priv);
    if (!t) continue;
    if (code == CURLE_OK) {
      HttpResponse r;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
      r.body = std::move(t->response);
      finish(*t, std::move(r));
    } else if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
      finish(*t, fail(HTTP_ERR_TOO_LARGE, "response larger than " + std::to_string(t->max_bytes) + " bytes"));
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      finish(*t, fail(HTTP_ERR_TIMEOUT, std::string("request timed out: ") + t->errbuf));
    } else {
      std::string detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);
      finish(*t, fail(HTTP_ERR_TRANSPORT, detail));
    }
  }
}

void CurlHttpClient::finish(Transfer& t, Result<HttpResponse> result) {
  auto it = transfers_.find(t.id);
  if (it == transfers_.end()) return;
  HttpCallback cb = std::move(t.callback);
  curl_multi_remove_handle(as_multi(multi_), t.easy);
  transfers_.erase(it);  // `t` is gone from here on
  if (cb) cb(std::move(result));
}

std::string url_encode(std::string_view text) {
  static const char* const HEX = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += HEX[c >> 4];
      out += HEX[c & 0xF];
    }
  }
  return out;
}

}  // namespace t2m::cloud

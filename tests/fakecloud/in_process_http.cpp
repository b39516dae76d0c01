// InProcessHttpClient: a cloud::HttpClient that hands each request to a FakeCloud and answers after a
// fixed latency on the injected timers, so OpenAPI tests run on fake time alone.
#include <algorithm>
#include <cctype>

#include "tests/fakecloud/fake_cloud.h"

namespace t2m::fakecloud {

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

}  // namespace t2m::fakecloud

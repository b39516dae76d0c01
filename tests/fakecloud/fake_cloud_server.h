// Serves a FakeCloud as HTTP/1.1 (keep-alive, Content-Length bodies) on 127.0.0.1 over libuv.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/uv_handle.h"
#include "tests/fakecloud/fake_cloud.h"

namespace t2m::fakecloud {

inline constexpr size_t MAX_REQUEST_BYTES = 1024 * 1024;

class FakeCloudServer {
 public:
  FakeCloudServer(uv_loop_t* loop, FakeCloud& cloud) : loop_(loop), cloud_(cloud) {}
  ~FakeCloudServer() { close(); }
  FakeCloudServer(const FakeCloudServer&) = delete;
  FakeCloudServer& operator=(const FakeCloudServer&) = delete;

  // Binds 127.0.0.1:`port` (0 = any free port) and returns the bound port.
  Result<int> listen(int port = 0);
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  size_t connections() const { return conns_.size(); }
  // Extra body bytes appended to every answer (response-size limit tests).
  void set_padding(size_t bytes) { padding_ = bytes; }
  // Accepts requests and never answers them (client time-out tests).
  void set_silent(bool silent) { silent_ = silent; }
  void close();

 private:
  struct Conn {
    FakeCloudServer* owner = nullptr;
    UvHandle<uv_tcp_t> tcp;
    std::string in;
    bool hung = false;
  };
  static void on_connection(uv_stream_t* server, int status);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void process(Conn& c);
  void drop(Conn* c);
  void write(Conn& c, std::string data);

  uv_loop_t* loop_;
  FakeCloud& cloud_;
  UvHandle<uv_tcp_t> listener_;
  int port_ = 0;
  size_t padding_ = 0;
  bool silent_ = false;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace t2m::fakecloud

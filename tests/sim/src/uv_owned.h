// A heap-owned libuv handle for the simulator's sockets: like common/uv_handle.h's UvHandle, plus a
// movable owner and closing a TCP handle with an RST (uv_tcp_close_reset), which is how a busy device
// turns a second client away.
#pragma once

#include <uv.h>

#include <memory>
#include <type_traits>
#include <utility>

namespace t2m::sim {

template <class T>
class OwnedHandle {
 public:
  OwnedHandle() = default;
  ~OwnedHandle() { close(); }
  OwnedHandle(const OwnedHandle&) = delete;
  OwnedHandle& operator=(const OwnedHandle&) = delete;
  OwnedHandle(OwnedHandle&& o) noexcept : h_(std::move(o.h_)) {}
  OwnedHandle& operator=(OwnedHandle&& o) noexcept {
    if (this != &o) {
      close();
      h_ = std::move(o.h_);
    }
    return *this;
  }

  T* get() const { return h_.get(); }
  bool open() const { return h_ != nullptr; }

  // Runs an init function such as uv_tcp_init; only a successful init obliges a close.
  template <class Fn>
  int init(Fn&& fn) {
    close();
    auto h = std::make_unique<T>();
    int rc = std::forward<Fn>(fn)(h.get());
    if (rc == 0) h_ = std::move(h);
    return rc;
  }

  // The memory goes in the close callback, as libuv requires; `data` is cleared first so no callback
  // still queued can reach its former owner.
  void close(bool reset = false) {
    if (!h_) return;
    T* raw = h_.release();
    raw->data = nullptr;
    auto cb = [](uv_handle_t* p) { std::unique_ptr<T> owner(reinterpret_cast<T*>(p)); };
    if constexpr (std::is_same_v<T, uv_tcp_t>) {
      if (reset && uv_tcp_close_reset(raw, cb) == 0) return;
    }
    (void)reset;
    uv_close(reinterpret_cast<uv_handle_t*>(raw), cb);
  }

 private:
  std::unique_ptr<T> h_;
};

}  // namespace t2m::sim

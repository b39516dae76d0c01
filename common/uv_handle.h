// RAII for libuv handles (CONTRIBUTING.md rule 3). The handle lives on the heap; dropping the wrapper calls
// uv_close() and the memory is freed only in the close callback, as libuv requires. Handles never move.
#pragma once

#include <uv.h>

#include <memory>
#include <utility>

namespace t2m {

template <class T>
class UvHandle {
 public:
  UvHandle() : h_(std::make_unique<T>()) {}
  ~UvHandle() { close(); }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&&) = delete;
  UvHandle& operator=(UvHandle&&) = delete;

  // Runs an init function such as uv_tcp_init; only a successful init obliges a uv_close().
  template <class Fn>
  int init(Fn&& fn) {
    int rc = std::forward<Fn>(fn)(h_.get());
    initialised_ = (rc == 0);
    return rc;
  }

  T* get() const { return h_.get(); }
  T* operator->() const { return h_.get(); }
  uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(h_.get()); }
  bool initialised() const { return initialised_ && h_ != nullptr; }

  void close() {
    if (!h_) return;
    if (!initialised_) {
      h_.reset();
      return;
    }
    T* raw = h_.release();
    raw->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(raw),
             [](uv_handle_t* p) { std::unique_ptr<T> owner(reinterpret_cast<T*>(p)); });
  }

 private:
  std::unique_ptr<T> h_;
  bool initialised_ = false;
};

// Closes every handle still open on the loop, runs it until they are gone, and closes the loop.
// Returns uv_loop_close()'s result: 0 when nothing leaked.
int uv_close_all_and_drain(uv_loop_t* loop);

}  // namespace t2m

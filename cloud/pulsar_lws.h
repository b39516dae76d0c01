// libwebsockets on OUR libuv loop (LWS_SERVER_OPTION_LIBUV with a foreign loop), shared by the Pulsar
// client and the test fake. lws 4.1 finishes destroying a context on the loop after lws_context_destroy()
// returns, so the owner must keep the loop running afterwards (the gateway's shutdown drain does).
// Callbacks that lws may still deliver after that (WSI_DESTROY, PROTOCOL_DESTROY) must not touch the
// owner: see the rule in LwsContext's comment.
#pragma once

#include <uv.h>

#include <libwebsockets.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace t2m::cloud {

struct LwsContextOptions {
  const lws_protocols* protocols = nullptr;  // array ending with a null entry
  void* user = nullptr;                      // lws_context_user()
  // Server: listen on `iface`:`port` (port 0 picks a free one); client only when listen is false.
  bool listen = false;
  std::string iface = "127.0.0.1";
  int port = 0;
  // TLS (OpenSSL global init, client SSL_CTX with the system CA store). Only for wss clients: lws 4.1
  // leaks the CA store when two TLS-initialised contexts coexist, and loopback tests need none.
  bool tls = false;
  // Extra CA file for TLS clients (the system store is used as well).
  std::string ca_file;
  const lws_retry_bo_t* retry_and_idle = nullptr;
};

// Owns an lws_context joined to `loop`. Destroying it closes every connection synchronously (their
// CLOSED callbacks run before the destructor returns); lws's own handles then close on the next loop
// iterations, and with a foreign loop lws 4.1 frees the context only when lws_context_destroy() is called
// a second time after that. A small timer ("reaper") does that second call a few iterations later, so the
// loop must keep running briefly after the destructor: see lws_drain(). During that time only owner-free
// callbacks may run, so protocol callbacks dereference their owner only for connection reasons, never for
// WSI_DESTROY / PROTOCOL_* / EVENT_WAIT_CANCELLED. Never destroy one from inside its own lws callback.
class LwsContext {
 public:
  struct Reaper;
  static Result<std::unique_ptr<LwsContext>> create(uv_loop_t* loop, const LwsContextOptions& options);
  LwsContext(uv_loop_t* loop, lws_context* ctx, std::unique_ptr<Reaper> reaper);
  ~LwsContext();
  LwsContext(const LwsContext&) = delete;
  LwsContext& operator=(const LwsContext&) = delete;

  lws_context* get() const { return ctx_; }
  // The bound port of a listening context (after port 0), else -1.
  int listen_port() const;

 private:
  uv_loop_t* loop_;
  lws_context* ctx_ = nullptr;
  std::unique_ptr<Reaper> reaper_;
};

// Number of destroyed contexts whose final clean-up has not run yet.
size_t lws_contexts_finishing();
// Runs `loop` (non-blocking iterations, at most `max_iterations`) until every destroyed context is freed.
// Call it at shutdown after stopping the push consumer and before uv_close_all_and_drain(), whose
// close-walk would otherwise close lws's reaper and leak the context. Returns true when none is left.
bool lws_drain(uv_loop_t* loop, int max_iterations = 1000);

// Routes lws's own log lines (errors and warnings only) into our logger; idempotent.
void lws_route_logs();

}  // namespace t2m::cloud

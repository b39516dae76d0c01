#include "cloud/pulsar_lws.h"

#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>

#include "common/log.h"

namespace t2m::cloud {

namespace {
constexpr const char* PULSAR_LWS_TAG = "cloud.lws";
// lws closes its handles in the destroy call; their close callbacks run at the end of that loop
// iteration. An idle callback runs once per iteration, so a few ticks guarantee that the closing phases
// have passed. (Not a 0 ms timer: libuv may fire a re-armed one again within the same iteration.)
constexpr int REAPER_TICKS = 3;
constexpr int REAPER_MAX_TICKS = 50;
// Loop-thread only (like everything lws does here).
size_t g_finishing = 0;

void lws_log_emit(int level, const char* line) {
  std::string_view s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  if (level & LLL_ERR) {
    T2M_LOGE(PULSAR_LWS_TAG, "%.*s", static_cast<int>(s.size()), s.data());
  } else {
    T2M_LOGD(PULSAR_LWS_TAG, "%.*s", static_cast<int>(s.size()), s.data());
  }
}
}  // namespace

void lws_route_logs() {
  static std::once_flag once;
  // lws warnings are mostly connection noise our own code reports better: debug level.
  std::call_once(once, [] { lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit); });
}

struct LwsContext::Reaper {
  lws_context* slot = nullptr;  // lws writes nullptr here when the context is finally freed (pcontext)
  uv_idle_t idle{};
  int ticks = 0;

  static void on_tick(uv_idle_t* t) {
    auto* r = static_cast<Reaper*>(t->data);
    ++r->ticks;
    if (r->ticks >= REAPER_TICKS && r->slot) lws_context_destroy(r->slot);  // the second, final call
    if (r->slot && r->ticks < REAPER_MAX_TICKS) return;
    if (r->slot) T2M_LOGE(PULSAR_LWS_TAG, "libwebsockets context did not finish closing; leaking it");
    --g_finishing;
    uv_idle_stop(t);
    uv_close(reinterpret_cast<uv_handle_t*>(t),
             [](uv_handle_t* h) { std::unique_ptr<Reaper> done(static_cast<Reaper*>(h->data)); });
  }
};

size_t lws_contexts_finishing() {
  return g_finishing;
}

bool lws_drain(uv_loop_t* loop, int max_iterations) {
  for (int i = 0; i < max_iterations && g_finishing > 0; ++i) uv_run(loop, UV_RUN_NOWAIT);
  return g_finishing == 0;
}

LwsContext::LwsContext(uv_loop_t* loop, lws_context* ctx, std::unique_ptr<Reaper> reaper)
    : loop_(loop), ctx_(ctx), reaper_(std::move(reaper)) {}

Result<std::unique_ptr<LwsContext>> LwsContext::create(uv_loop_t* loop, const LwsContextOptions& options) {
  lws_route_logs();
  lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  void* foreign_loops[1] = {loop};
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
  if (options.tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.protocols = options.protocols;
  info.user = options.user;
  info.retry_and_idle_policy = options.retry_and_idle;
  info.gid = -1;
  info.uid = -1;
  if (options.listen) {
    info.port = options.port;
    info.iface = options.iface.c_str();
  } else {
    info.port = CONTEXT_PORT_NO_LISTEN;
  }
  if (!options.ca_file.empty()) info.client_ssl_ca_filepath = options.ca_file.c_str();
  auto reaper = std::make_unique<Reaper>();
  info.pcontext = &reaper->slot;
  lws_context* ctx = lws_create_context(&info);
  if (!ctx) return fail("lws.context", "libwebsockets could not create a context on the libuv loop");
  reaper->slot = ctx;
  return std::make_unique<LwsContext>(loop, ctx, std::move(reaper));
}

LwsContext::~LwsContext() {
  if (!ctx_) return;
  lws_context_destroy(ctx_);      // first call: closes connections and lws's handles
  Reaper* r = reaper_.release();  // now owned by its idle handle, freed in the close callback
  if (uv_idle_init(loop_, &r->idle) != 0) {
    T2M_LOGE(PULSAR_LWS_TAG, "cannot arm the libwebsockets reaper; leaking the context");
    return;
  }
  r->idle.data = r;
  ++g_finishing;
  uv_idle_start(&r->idle, &Reaper::on_tick);
}

int LwsContext::listen_port() const {
  lws_vhost* vh = lws_get_vhost_by_name(ctx_, "default");
  return vh ? lws_get_vhost_listen_port(vh) : -1;
}

}  // namespace t2m::cloud

#include "common/uv_handle.h"

namespace t2m {

int uv_close_all_and_drain(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        // Handles owned by UvHandle are already closing; a stray one is closed here and its memory,
        // whoever owns it, is not touched by the callback.
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop);
}

}  // namespace t2m

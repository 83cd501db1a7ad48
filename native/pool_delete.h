// Deleting on the libuv pool what a read-back leaves behind: 100,000s of libnftnl objects
// take tens of ms of free() calls, which on the main thread would hold the event loop.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>

namespace nftnapi {

// Deletes obj on the pool; here, at once, when the work cannot be queued. Call it on the
// main thread (a finalizer too: it makes no JS value).
template <typename T>
void DeleteOnPool(napi_env env, std::unique_ptr<T> obj) {
  uv_loop_t* loop = nullptr;
  if (!obj || napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    return;
  }
  auto* req = new uv_work_t;
  req->data = obj.get();
  int queued = uv_queue_work(
      loop, req, [](uv_work_t* r) { delete static_cast<T*>(r->data); },
      [](uv_work_t* r, int) { delete r; });
  if (queued != 0) {
    delete req;
    return;
  }
  obj.release();
}

}  // namespace nftnapi

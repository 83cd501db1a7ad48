// The RouteSocket class JavaScript sees: one rtnetlink socket in one network namespace,
// for the IPv4 policy routing of dedicated outbound addresses.
//
// rtnetlink has no transactions: apply() sends one request at a time and stops at the
// first one the kernel refuses, reporting its index, so that TypeScript can undo the
// ones before it. Requests run on the libuv pool, one at a time per socket.
#pragma once

#include <libmnl/libmnl.h>
#include <napi.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"

namespace nftnapi {

// One NETLINK_ROUTE socket and its lock; shared with running workers.
struct RouteLink {
  mnl_socket* nl = nullptr;
  std::mutex lock;
  uint32_t seq = 0;
  ~RouteLink();
};

// new RouteSocket(netnsPath?), apply(ops), dump(), close().
class RouteSocket : public Napi::ObjectWrap<RouteSocket> {
 public:
  // The constructor function to export.
  static Napi::Function Define(Napi::Env env);

  explicit RouteSocket(const Napi::CallbackInfo& info);

 private:
  Napi::Value Apply(const Napi::CallbackInfo& info);
  Napi::Value Dump(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // The socket, or a thrown error when closed.
  std::shared_ptr<RouteLink> Link(Napi::Env env, const char* method);

  std::shared_ptr<RouteLink> link_;
};

}  // namespace nftnapi

// The NftSocket class JavaScript sees: one netlink connection to nf_tables and
// ctnetlink in one network namespace.
#pragma once

#include <napi.h>

#include <memory>

#include "socket.h"

namespace nftnapi {

// new NftSocket(netnsPath?), commit(ops), listTable(family, name), ctList(),
// ctDelete(tuples), close(), portId(). Encoding happens in the call; I/O on the libuv pool.
class NftSocket : public Napi::ObjectWrap<NftSocket> {
 public:
  // The constructor function to export.
  static Napi::Function Define(Napi::Env env);

  explicit NftSocket(const Napi::CallbackInfo& info);

 private:
  Napi::Value Commit(const Napi::CallbackInfo& info);
  Napi::Value ListTable(const Napi::CallbackInfo& info);
  Napi::Value CtList(const Napi::CallbackInfo& info);
  Napi::Value CtDelete(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value PortId(const Napi::CallbackInfo& info);

  // The sockets, or a thrown error when closed.
  std::shared_ptr<Netlink> Sockets(Napi::Env env, const char* method);

  // Shared with running workers, so closing never pulls a socket from under one.
  std::shared_ptr<Netlink> nl_;
};

}  // namespace nftnapi

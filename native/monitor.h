// Watching nf_tables: a netlink socket in the NFNLGRP_NFTABLES multicast group, read on
// Node's own event loop (a uv_poll on its fd), so no thread and no lock is involved.
#pragma once

#include <libmnl/libmnl.h>
#include <napi.h>
#include <uv.h>

#include <vector>

namespace nftnapi {

// new NftMonitor(netnsPath | undefined, onEvents), close(). onEvents receives, on the
// main thread, an array of the notifications read in one go: { type, family, table,
// portid } for an object (type as nft monitor names it, e.g. 'deltable'), { type:
// 'newgen', genId, pid, comm, portid } closing each transaction, { type: 'overrun' }
// when the kernel dropped notifications (ENOBUFS), { type: 'error', errno, message }.
class NftMonitor : public Napi::ObjectWrap<NftMonitor> {
 public:
  // The constructor function to export.
  static Napi::Function Define(Napi::Env env);

  explicit NftMonitor(const Napi::CallbackInfo& info);
  ~NftMonitor() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);

  // uv_poll callback: drains the socket and hands the events to JavaScript.
  static void OnReadable(uv_poll_t* handle, int status, int events);

  // Reads every queued datagram into events; false when the socket is broken.
  bool Drain(Napi::Env env, Napi::Array events);

  // Stops polling and closes the socket; safe to call twice.
  void Stop();

  mnl_socket* nl_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference onEvents_;
  std::vector<char> buf_;
};

}  // namespace nftnapi

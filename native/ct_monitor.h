// Watching conntrack: a netlink socket in the NFNLGRP_CONNTRACK_NEW and _DESTROY groups of
// one network namespace, read on Node's event loop (a uv_poll on its fd), like NftMonitor.
#pragma once

#include <libmnl/libmnl.h>
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <vector>

namespace nftnapi {

// new CtMonitor(netnsPath | undefined, rcvbuf, onEvents), drain(), close(). onEvents
// receives, on the main thread, (records, overrun, errno): the IPv4 entries created and
// destroyed, packed 24 bytes each (ct_tuple.h: PackTuple, kind 1 new, 2 destroy) in the
// order the kernel sent them; overrun true when the kernel dropped events (ENOBUFS) or
// one did not fit the buffer; errno non-zero when the socket failed and was closed.
// drain() reads what is queued now and calls onEvents before it returns. Reads from the
// loop wait kCoalesceMs after the socket turns readable, so a busy host wakes the loop
// about a hundred times a second, not once per connection.
class CtMonitor : public Napi::ObjectWrap<CtMonitor> {
 public:
  // The constructor function to export.
  static Napi::Function Define(Napi::Env env);

  explicit CtMonitor(const Napi::CallbackInfo& info);
  ~CtMonitor() override;

 private:
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // uv_poll callback: waits a moment (the timer) so that events come in batches.
  static void OnReadable(uv_poll_t* handle, int status, int events);

  // uv_timer callback: reads a batch, hands it to JavaScript, and polls again.
  static void OnTimer(uv_timer_t* handle);

  // Reads up to a batch of queued events and calls onEvents (sync: plain Call, else
  // MakeCallback); stops the monitor when the socket is broken.
  void Deliver(Napi::Env env, int status, bool sync);

  // Reads up to limit queued datagrams into records_; returns 0, or the errno that broke
  // the socket.
  int Read(uint32_t limit);

  // Stops polling and closes the socket; safe to call twice.
  void Stop();

  mnl_socket* nl_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  Napi::FunctionReference onEvents_;
  std::vector<char> buf_;
  std::vector<uint8_t> records_;
  bool overrun_ = false;
};

}  // namespace nftnapi

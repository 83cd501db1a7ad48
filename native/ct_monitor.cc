// CtMonitor: conntrack events, decoded by the same tuple reader as a dump (ct_tuple.h)
// and handed to JavaScript as one packed buffer a batch, so an event costs no object.
//
// The kernel queues an event on this socket from the packet path itself (ctnetlink's
// nf_conntrack_event_cb runs when an entry is confirmed or destroyed), so what happened
// before a call is in the socket's queue by the time the call returns; drain() reads it.
#include "ct_monitor.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "ct_tuple.h"
#include "errors.h"
#include "group_socket.h"

namespace nftnapi {

namespace {

// Datagrams read per recvmmsg, and the room of each: an event is one message of a few
// hundred bytes (ctnetlink_nlmsg_size), so a slot fits any that the daemon's entries make.
constexpr unsigned kSlots = 64;
constexpr size_t kSlotSize = 8 * 1024;

// Datagrams handed over per poll callback, so a flood of events never holds the loop
// long; drain() reads on until the queue is empty, since its caller judges by the result.
constexpr unsigned kBatch = 4096;

// How long the loop lets events queue before it reads them. Nothing waits for them in
// the meantime: a lookup drains the socket first (drain()). The receive buffer the daemon
// asks for held 26,214 events, 1.3 s of a host opening 10,000 connections a second.
constexpr uint64_t kCoalesceMs = 10;

// Record kinds (PackTuple).
constexpr uint8_t kNew = 1;
constexpr uint8_t kDestroy = 2;

// The kind of a ctnetlink event message, 0 for anything else.
uint8_t KindOf(const struct nlmsghdr* nlh) {
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
      nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg))) {
    return 0;
  }
  switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case IPCTNL_MSG_CT_NEW: return kNew;
    case IPCTNL_MSG_CT_DELETE: return kDestroy;
    default: return 0;
  }
}

}  // namespace

Napi::Function CtMonitor::Define(Napi::Env env) {
  return DefineClass(env, "CtMonitor",
                     {InstanceMethod<&CtMonitor::Drain>("drain"),
                      InstanceMethod<&CtMonitor::Close>("close")});
}

CtMonitor::CtMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CtMonitor>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsUndefined() && !info[0].IsString()) {
    Napi::TypeError::New(env, "netns: expected a string").ThrowAsJavaScriptException();
    return;
  }
  if (!info[1].IsNumber() || info[1].As<Napi::Number>().Int64Value() < 4096 ||
      info[1].As<Napi::Number>().Int64Value() > (1 << 30)) {
    Napi::TypeError::New(env, "rcvbuf: expected bytes, 4 KiB to 1 GiB")
        .ThrowAsJavaScriptException();
    return;
  }
  if (!info[2].IsFunction()) {
    Napi::TypeError::New(env, "onEvents: expected a function").ThrowAsJavaScriptException();
    return;
  }
  std::string netns = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  int rcvbuf = static_cast<int>(info[1].As<Napi::Number>().Int64Value());

  SysError error;
  std::vector<int> groups = {NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY};
  nl_ = OpenGroupSocket(netns, groups, rcvbuf, "conntrack monitor", &error);
  if (nl_ == nullptr) {
    ThrowError(env, error);
    return;
  }
  buf_.resize(kSlots * kSlotSize);
  onEvents_ = Napi::Persistent(info[2].As<Napi::Function>());

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  poll_->data = this;
  if (loop == nullptr || uv_poll_init(loop, poll_, mnl_socket_get_fd(nl_)) != 0) {
    delete poll_;
    poll_ = nullptr;
    Stop();
    ThrowError(env, Sys("uv_poll_init(conntrack monitor)", EIO));
    return;
  }
  timer_ = new uv_timer_t;
  timer_->data = this;
  if (uv_timer_init(loop, timer_) != 0) {
    delete timer_;
    timer_ = nullptr;
    Stop();
    ThrowError(env, Sys("uv_timer_init(conntrack monitor)", EIO));
    return;
  }
  if (uv_poll_start(poll_, UV_READABLE, &CtMonitor::OnReadable) != 0) {
    Stop();
    ThrowError(env, Sys("uv_poll_start(conntrack monitor)", EIO));
  }
}

CtMonitor::~CtMonitor() { Stop(); }

Napi::Value CtMonitor::Drain(const Napi::CallbackInfo& info) {
  if (nl_ != nullptr) Deliver(info.Env(), 0, true);
  return info.Env().Undefined();
}

Napi::Value CtMonitor::Close(const Napi::CallbackInfo& info) {
  Stop();
  return info.Env().Undefined();
}

void CtMonitor::Stop() {
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    timer_ = nullptr;
  }
  CloseGroupSocket(&poll_, &nl_);
}

void CtMonitor::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<CtMonitor*>(handle->data);
  if (status < 0 || uv_poll_stop(handle) != 0 ||
      uv_timer_start(self->timer_, &CtMonitor::OnTimer, kCoalesceMs, 0) != 0) {
    Napi::HandleScope scope(self->Env());
    self->Deliver(self->Env(), status < 0 ? status : UV_EIO, false);
  }
}

void CtMonitor::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<CtMonitor*>(handle->data);
  Napi::HandleScope scope(self->Env());
  self->Deliver(self->Env(), 0, false);
  if (self->poll_ != nullptr &&
      uv_poll_start(self->poll_, UV_READABLE, &CtMonitor::OnReadable) != 0) {
    self->Deliver(self->Env(), UV_EIO, false);
  }
}

void CtMonitor::Deliver(Napi::Env env, int status, bool sync) {
  records_.clear();
  overrun_ = false;
  int err = status < 0 ? EIO : Read(sync ? UINT32_MAX : kBatch);
  if (err != 0) Stop();
  if (records_.empty() && !overrun_ && err == 0) return;

  Napi::Value args[] = {Napi::Buffer<uint8_t>::Copy(env, records_.data(), records_.size()),
                        Napi::Boolean::New(env, overrun_), Napi::Number::New(env, err)};
  if (sync) {
    // drain()'s caller sees an exception the callback throws.
    onEvents_.Call(Value(), {args[0], args[1], args[2]});
    return;
  }
  // MakeCallback runs the microtasks the callback queued; an exception it throws has no
  // JavaScript caller here, so it goes to process 'uncaughtException'.
  onEvents_.MakeCallback(Value(), {args[0], args[1], args[2]});
  if (env.IsExceptionPending()) {
    napi_fatal_exception(env, env.GetAndClearPendingException().Value());
  }
}

int CtMonitor::Read(uint32_t limit) {
  struct mmsghdr msgs[kSlots];
  struct iovec iovs[kSlots];
  int fd = mnl_socket_get_fd(nl_);
  for (uint32_t read = 0; read < limit;) {
    memset(msgs, 0, sizeof(msgs));
    for (unsigned i = 0; i < kSlots; i++) {
      iovs[i] = {buf_.data() + i * kSlotSize, kSlotSize};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs, kSlots, MSG_DONTWAIT, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n < 0 && errno == ENOBUFS) {
      overrun_ = true;
      continue;
    }
    if (n <= 0) return n < 0 ? errno : EPIPE;

    for (int i = 0; i < n; i++) {
      // A truncated datagram lost the rest of its event: as good as dropped.
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) overrun_ = true;
      int left = static_cast<int>(msgs[i].msg_len);
      auto* nlh = reinterpret_cast<const struct nlmsghdr*>(iovs[i].iov_base);
      for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
        uint8_t kind = KindOf(nlh);
        Tuple t;
        if (kind == 0 || !ParseTuple(nlh, &t)) continue;
        size_t at = records_.size();
        records_.resize(at + kPackedTuple);
        PackTuple(kind, t, records_.data() + at);
      }
    }
    read += static_cast<uint32_t>(n);
  }
  return 0;
}

}  // namespace nftnapi

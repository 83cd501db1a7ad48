// NftMonitor: nf_tables change notifications, decoded just enough to say which table
// changed, how, and through which netlink socket (nlmsg_pid is the committer's portid).
#include "monitor.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"
#include "group_socket.h"

namespace nftnapi {

namespace {

// One datagram of notifications is at most a page or two; 64 KiB leaves room.
constexpr size_t kRecvSize = 64 * 1024;

// A table replaced with thousands of objects notifies each of them; a large buffer
// keeps that from overrunning, and an overrun is reported anyway (the caller audits).
constexpr int kRcvBuf = 16 * 1024 * 1024;

// The names `nft monitor` prints, indexed by NFT_MSG_* (linux/netfilter/nf_tables.h).
const char* const kMsgNames[] = {
    "newtable", "gettable", "deltable", "newchain",   "getchain",   "delchain",
    "newrule",  "getrule",  "delrule",  "newset",     "getset",     "delset",
    "newsetelem", "getsetelem", "delsetelem", "newgen", "getgen",   "trace",
    "newobj",   "getobj",   "delobj",   "getobj_reset", "newflowtable", "getflowtable",
    "delflowtable",
};
constexpr unsigned kMsgCount = sizeof(kMsgNames) / sizeof(kMsgNames[0]);

std::string MsgName(unsigned msg) {
  return msg < kMsgCount ? kMsgNames[msg] : "msg" + std::to_string(msg);
}

std::string FamilyName(uint8_t family) {
  switch (family) {
    case NFPROTO_INET: return "inet";
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_IPV6: return "ip6";
    case NFPROTO_ARP: return "arp";
    case NFPROTO_BRIDGE: return "bridge";
    case NFPROTO_NETDEV: return "netdev";
    default: return std::to_string(family);
  }
}

// mnl_attr_for_each, written out: its macro assigns a void* that C++ will not convert.
const struct nlattr* FirstAttr(const struct nlmsghdr* nlh) {
  return static_cast<const struct nlattr*>(
      mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg)));
}

int AttrRoom(const struct nlmsghdr* nlh, const struct nlattr* attr) {
  auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  return static_cast<int>(tail - reinterpret_cast<const char*>(attr));
}

// The NFTA_GEN_* attributes of a NEWGEN message.
void DecodeGen(Napi::Object event, const struct nlmsghdr* nlh) {
  for (const struct nlattr* attr = FirstAttr(nlh); mnl_attr_ok(attr, AttrRoom(nlh, attr));
       attr = mnl_attr_next(attr)) {
    uint16_t type = mnl_attr_get_type(attr);
    if ((type == NFTA_GEN_ID || type == NFTA_GEN_PROC_PID) &&
        mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
      uint32_t value = ntohl(mnl_attr_get_u32(attr));
      event.Set(type == NFTA_GEN_ID ? "genId" : "pid", value);
    } else if (type == NFTA_GEN_PROC_NAME &&
               mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
      event.Set("comm", mnl_attr_get_str(attr));
    }
  }
}

// One notification as a JS object, or an empty value when it is not nf_tables'.
Napi::Value Decode(Napi::Env env, const struct nlmsghdr* nlh) {
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
      nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg))) {
    return Napi::Value();
  }
  unsigned msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
  auto* gen = static_cast<const struct nfgenmsg*>(mnl_nlmsg_get_payload(nlh));

  Napi::Object event = Napi::Object::New(env);
  event.Set("type", MsgName(msg));
  event.Set("portid", nlh->nlmsg_pid);
  if (msg == NFT_MSG_NEWGEN) {
    DecodeGen(event, nlh);
    return event;
  }

  // Every object message names its table in attribute 1 (NFTA_TABLE_NAME,
  // NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, ...).
  event.Set("family", FamilyName(gen->nfgen_family));
  for (const struct nlattr* attr = FirstAttr(nlh); mnl_attr_ok(attr, AttrRoom(nlh, attr));
       attr = mnl_attr_next(attr)) {
    if (mnl_attr_get_type(attr) == 1 && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
      event.Set("table", mnl_attr_get_str(attr));
      break;
    }
  }
  return event;
}

Napi::Object Notice(Napi::Env env, const char* type, int err) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", type);
  if (err != 0) {
    event.Set("errno", err);
    event.Set("message", strerror(err));
  }
  return event;
}

}  // namespace

Napi::Function NftMonitor::Define(Napi::Env env) {
  return DefineClass(env, "NftMonitor", {InstanceMethod<&NftMonitor::Close>("close")});
}

NftMonitor::NftMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NftMonitor>(info) {
  Napi::Env env = info.Env();
  std::string netns;
  if (!info[0].IsUndefined() && !info[0].IsString()) {
    Napi::TypeError::New(env, "netns: expected a string").ThrowAsJavaScriptException();
    return;
  }
  if (!info[1].IsFunction()) {
    Napi::TypeError::New(env, "onEvents: expected a function").ThrowAsJavaScriptException();
    return;
  }
  if (info[0].IsString()) netns = info[0].As<Napi::String>().Utf8Value();

  SysError error;
  nl_ = OpenGroupSocket(netns, {NFNLGRP_NFTABLES}, kRcvBuf, "nf_tables monitor", &error);
  if (nl_ == nullptr) {
    ThrowError(env, error);
    return;
  }
  buf_.resize(kRecvSize);
  onEvents_ = Napi::Persistent(info[1].As<Napi::Function>());

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  poll_->data = this;
  if (loop == nullptr || uv_poll_init(loop, poll_, mnl_socket_get_fd(nl_)) != 0 ||
      uv_poll_start(poll_, UV_READABLE, &NftMonitor::OnReadable) != 0) {
    delete poll_;
    poll_ = nullptr;
    Stop();
    ThrowError(env, Sys("uv_poll_start(nf_tables monitor)", EIO));
  }
}

NftMonitor::~NftMonitor() { Stop(); }

Napi::Value NftMonitor::Close(const Napi::CallbackInfo& info) {
  Stop();
  return info.Env().Undefined();
}

void NftMonitor::Stop() {
  CloseGroupSocket(&poll_, &nl_);
}

void NftMonitor::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<NftMonitor*>(handle->data);
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  Napi::Array events = Napi::Array::New(env);

  bool alive = status >= 0 && self->Drain(env, events);
  if (status < 0) {
    events.Set(events.Length(), Notice(env, "error", EIO));
  }
  if (!alive) {
    self->Stop();
  }
  if (events.Length() > 0) {
    // MakeCallback runs the microtasks the callback queued; an exception it throws
    // has no JavaScript caller here, so it goes to process 'uncaughtException'.
    self->onEvents_.MakeCallback(self->Value(), {events});
    if (env.IsExceptionPending()) {
      napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    }
  }
}

bool NftMonitor::Drain(Napi::Env env, Napi::Array events) {
  int fd = mnl_socket_get_fd(nl_);
  for (;;) {
    ssize_t n = recv(fd, buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == ENOBUFS) {
      events.Set(events.Length(), Notice(env, "overrun", 0));
      continue;
    }
    if (n <= 0) {
      events.Set(events.Length(), Notice(env, "error", n < 0 ? errno : EPIPE));
      return false;
    }

    int left = static_cast<int>(n);
    auto* nlh = reinterpret_cast<const struct nlmsghdr*>(buf_.data());
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      Napi::Value event = Decode(env, nlh);
      if (!event.IsEmpty()) events.Set(events.Length(), event);
    }
  }
}

}  // namespace nftnapi

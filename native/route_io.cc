// One request at a time, each acked before the next is sent; dumps read to NLMSG_DONE.
#include "route_io.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

namespace nftnapi {

namespace {

// Dump datagrams are at most 32 KiB (netlink_recvmsg); acks are far smaller.
constexpr size_t kRecvSize = 64 * 1024;
// A dump that raced a change (NLM_F_DUMP_INTR) is read again, this many times at most.
constexpr int kDumpTries = 3;

// What the kernel answered to one request: errno (0: done) and its extended ack text.
struct Ack {
  int err = 0;
  std::string detail;
};

// The NLMSGERR_ATTR_MSG text of an error ack, when the kernel sent one.
std::string AckDetail(const struct nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
    return "";
  }
  // With NETLINK_CAP_ACK the failing request's payload is left out (NLM_F_CAPPED).
  auto* err = static_cast<const struct nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t offset = sizeof(struct nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
    offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
  }
  std::string detail;
  auto* attr = static_cast<const struct nlattr*>(mnl_nlmsg_get_payload_offset(nlh, offset));
  int left = static_cast<int>(nlh->nlmsg_len) - static_cast<int>(MNL_NLMSG_HDRLEN + offset);
  for (; mnl_attr_ok(attr, left); attr = mnl_attr_next(attr)) {
    left -= static_cast<int>(MNL_ALIGN(attr->nla_len));
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
        mnl_attr_validate(attr, MNL_TYPE_STRING) == 0) {
      detail = mnl_attr_get_str(attr);
    }
  }
  return detail;
}

// Sends one request and reads until its end: every reply goes to onReply, and the
// NLMSG_ERROR or NLMSG_DONE that ends it fills ack. False (with error) on a socket fault.
bool Exchange(RouteLink* link, struct nlmsghdr* request, const char* op,
              const std::function<void(const struct nlmsghdr*)>& onReply, Ack* ack,
              bool* interrupted, SysError* error) {
  request->nlmsg_seq = ++link->seq;
  uint32_t portid = mnl_socket_get_portid(link->nl);
  if (mnl_socket_sendto(link->nl, request, request->nlmsg_len) < 0) {
    *error = Sys(std::string("sendto(") + op + ")", errno);
    return false;
  }

  std::vector<char> buf(kRecvSize);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(link->nl, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      *error = Sys(std::string("recvfrom(") + op + ")", errno);
      return false;
    }

    int left = static_cast<int>(n);
    auto* nlh = reinterpret_cast<const struct nlmsghdr*>(buf.data());
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_seq != request->nlmsg_seq || nlh->nlmsg_pid != portid) {
        continue;  // a late answer to an earlier request
      }
      if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
        *interrupted = true;
      }
      if (nlh->nlmsg_type != NLMSG_ERROR && nlh->nlmsg_type != NLMSG_DONE) {
        onReply(nlh);
        continue;
      }
      // Both start with an int error (linux/netlink.h, struct nlmsgerr).
      if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(int))) {
        *error = Sys(std::string("recvfrom(") + op + ")", EBADMSG);
        return false;
      }
      ack->err = -*static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
      if (ack->err != 0 && nlh->nlmsg_type == NLMSG_ERROR) {
        ack->detail = AckDetail(nlh);
      }
      return true;
    }
  }
}

// Sends each request in turn, stopping at the first the kernel refuses.
class ApplyWorker : public Napi::AsyncWorker {
 public:
  ApplyWorker(Napi::Env env, std::shared_ptr<RouteLink> link, std::vector<RouteRequest> reqs)
      : Napi::AsyncWorker(env, "nftables-napi:routeApply"),
        deferred_(Napi::Promise::Deferred::New(env)),
        link_(std::move(link)),
        requests_(std::move(reqs)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    std::lock_guard<std::mutex> lock(link_->lock);
    for (size_t i = 0; i < requests_.size(); i++) {
      auto* nlh = reinterpret_cast<struct nlmsghdr*>(requests_[i].msg.data());
      bool interrupted = false;
      if (!Exchange(link_.get(), nlh, requests_[i].name, [](const struct nlmsghdr*) {}, &ack_,
                    &interrupted, &error_)) {
        return;
      }
      if (ack_.err != 0) {
        refused_ = static_cast<int64_t>(i);
        return;
      }
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_.failed()) {
      deferred_.Reject(MakeError(env, error_).Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("ok", refused_ < 0);
    if (refused_ >= 0) {
      result.Set("index", static_cast<double>(refused_));
      result.Set("errno", ack_.err);
      result.Set("message", strerror(ack_.err));
      if (!ack_.detail.empty()) {
        result.Set("detail", ack_.detail);
      }
    }
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<RouteLink> link_;
  std::vector<RouteRequest> requests_;
  Ack ack_;
  int64_t refused_ = -1;
  SysError error_;
};

// Four bytes in network order, as a Buffer.
Napi::Value Addr(Napi::Env env, uint32_t addr) {
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(&addr), 4);
}

// Dumps rules, then routes; a dump that raced a change is read again.
class DumpWorker : public Napi::AsyncWorker {
 public:
  DumpWorker(Napi::Env env, std::shared_ptr<RouteLink> link)
      : Napi::AsyncWorker(env, "nftables-napi:routeDump"),
        deferred_(Napi::Promise::Deferred::New(env)),
        link_(std::move(link)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    std::lock_guard<std::mutex> lock(link_->lock);
    DumpAll(RTM_GETRULE, "RTM_GETRULE", [&](const struct nlmsghdr* nlh) {
      RuleState rule;
      if (ParseRule(nlh, &rule)) rules_.push_back(rule);
    }, [&] { rules_.clear(); });
    if (!error_.failed()) {
      DumpAll(RTM_GETROUTE, "RTM_GETROUTE", [&](const struct nlmsghdr* nlh) {
        RouteState route;
        if (ParseRoute(nlh, &route)) routes_.push_back(route);
      }, [&] { routes_.clear(); });
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_.failed()) {
      deferred_.Reject(MakeError(env, error_).Value());
      return;
    }
    Napi::Array rules = Napi::Array::New(env, rules_.size());
    for (size_t i = 0; i < rules_.size(); i++) {
      const RuleState& r = rules_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("priority", r.priority);
      o.Set("src", Addr(env, r.src));
      o.Set("srcLen", r.srcLen);
      if (r.hasFwmark) {
        o.Set("fwmark", r.fwmark);
        o.Set("fwmask", r.fwmask);
      }
      o.Set("table", r.table);
      o.Set("protocol", r.protocol);
      o.Set("action", r.action);
      rules.Set(i, o);
    }
    Napi::Array routes = Napi::Array::New(env, routes_.size());
    for (size_t i = 0; i < routes_.size(); i++) {
      const RouteState& r = routes_[i];
      const char* type = RouteTypeName(r.type);
      Napi::Object o = Napi::Object::New(env);
      o.Set("table", r.table);
      o.Set("dst", Addr(env, r.dst));
      o.Set("dstLen", r.dstLen);
      o.Set("type", type != nullptr ? type : "other");
      o.Set("protocol", r.protocol);
      if (r.hasGateway) {
        o.Set("gateway", Addr(env, r.gateway));
      }
      routes.Set(i, o);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("rules", rules);
    out.Set("routes", routes);
    deferred_.Resolve(out);
  }

 private:
  void DumpAll(uint16_t type, const char* op,
               const std::function<void(const struct nlmsghdr*)>& onReply,
               const std::function<void()>& reset) {
    for (int attempt = 0; attempt < kDumpTries; attempt++) {
      char buf[MNL_SOCKET_BUFFER_SIZE] = {};
      struct nlmsghdr* req = PutDumpRequest(buf, type, 0);
      bool interrupted = false;
      Ack ack;
      reset();
      if (!Exchange(link_.get(), req, op, onReply, &ack, &interrupted, &error_)) {
        return;
      }
      if (ack.err != 0) {
        error_ = Sys(op, ack.err);
        return;
      }
      if (!interrupted) {
        return;
      }
    }
    error_ = Sys(op, EINTR, "the dump kept racing changes; try again");
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<RouteLink> link_;
  std::vector<RuleState> rules_;
  std::vector<RouteState> routes_;
  SysError error_;
};

}  // namespace

Napi::Value StartRouteApply(Napi::Env env, std::shared_ptr<RouteLink> link,
                            std::vector<RouteRequest> requests) {
  auto* worker = new ApplyWorker(env, std::move(link), std::move(requests));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value StartRouteDump(Napi::Env env, std::shared_ptr<RouteLink> link) {
  auto* worker = new DumpWorker(env, std::move(link));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace nftnapi

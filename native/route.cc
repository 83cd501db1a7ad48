// RouteSocket: opening the rtnetlink socket in a namespace, and the JS methods, which
// check their input on the main thread and hand the I/O to route_io's workers.
#include "route.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "route_io.h"
#include "route_msg.h"

namespace nftnapi {

namespace {

// The most requests one apply() takes; the daemon sends a handful per change.
constexpr uint32_t kMaxOps = 1u << 16;

// Opens and binds the socket in the calling thread's namespace, with the ack options
// the nftables sockets use: capped acks, and the kernel's extended error message.
mnl_socket* OpenRoute(SysError* error) {
  mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl == nullptr) {
    *error = Sys("mnl_socket_open(NETLINK_ROUTE)", errno);
    return nullptr;
  }
  int one = 1;
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
      mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one)) < 0 ||
      mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one)) < 0) {
    *error = Sys("mnl_socket_bind(NETLINK_ROUTE)", errno);
    mnl_socket_close(nl);
    return nullptr;
  }
  return nl;
}

// Opens the socket inside the namespace at netnsPath (or here, when it is empty); the
// socket stays in that namespace for its life, the thread goes back at once.
mnl_socket* OpenIn(const std::string& netnsPath, SysError* error) {
  if (netnsPath.empty()) {
    return OpenRoute(error);
  }

  int original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) {
    *error = Sys("open(/proc/thread-self/ns/net)", errno);
    return nullptr;
  }
  int target = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0 || setns(target, CLONE_NEWNET) != 0) {
    *error = Sys((target < 0 ? "open(" : "setns(") + netnsPath + ")", errno);
    if (target >= 0) {
      close(target);
    }
    close(original);
    return nullptr;
  }
  close(target);

  mnl_socket* nl = OpenRoute(error);
  // Staying in the wrong namespace would make every later call program it: abort.
  if (setns(original, CLONE_NEWNET) != 0) {
    fprintf(stderr, "nftables-napi: cannot return to the original netns: %s\n",
            strerror(errno));
    abort();
  }
  close(original);
  return nl;
}

}  // namespace

RouteLink::~RouteLink() {
  if (nl != nullptr) {
    mnl_socket_close(nl);
  }
}

Napi::Function RouteSocket::Define(Napi::Env env) {
  return DefineClass(env, "RouteSocket",
                     {
                         InstanceMethod<&RouteSocket::Apply>("apply"),
                         InstanceMethod<&RouteSocket::Dump>("dump"),
                         InstanceMethod<&RouteSocket::Close>("close"),
                     });
}

RouteSocket::RouteSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RouteSocket>(info) {
  Napi::Env env = info.Env();
  Problem problem;
  std::string netns;
  if (!info[0].IsUndefined() && !Input(info[0], "netns", &problem).String(&netns, 4096)) {
    ThrowProblem(env, problem);
    return;
  }

  SysError error;
  auto link = std::make_shared<RouteLink>();
  link->nl = OpenIn(netns, &error);
  link->seq = static_cast<uint32_t>(time(nullptr));
  if (link->nl == nullptr) {
    ThrowError(env, error);
    return;
  }
  link_ = std::move(link);
}

std::shared_ptr<RouteLink> RouteSocket::Link(Napi::Env env, const char* method) {
  if (!link_) {
    ThrowError(env, Sys(std::string("RouteSocket.") + method, EBADF, "the socket is closed"));
  }
  return link_;
}

Napi::Value RouteSocket::Apply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RouteLink> link = Link(env, "apply");
  if (!link) {
    return env.Undefined();
  }

  Problem problem;
  Input ops(info[0], "ops", &problem);
  uint32_t count = 0;
  std::vector<RouteRequest> requests;
  if (ops.Array(&count, kMaxOps)) {
    requests.resize(count);
    for (uint32_t i = 0; i < count && ReadRouteOp(ops.At(i), &requests[i]); i++) {
    }
  }
  if (problem.found) {
    ThrowProblem(env, problem);
    return env.Undefined();
  }
  return StartRouteApply(env, std::move(link), std::move(requests));
}

Napi::Value RouteSocket::Dump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RouteLink> link = Link(env, "dump");
  return link ? StartRouteDump(env, std::move(link)) : env.Undefined();
}

Napi::Value RouteSocket::Close(const Napi::CallbackInfo& info) {
  // The socket closes when the last running worker lets go of it.
  link_.reset();
  return info.Env().Undefined();
}

}  // namespace nftnapi

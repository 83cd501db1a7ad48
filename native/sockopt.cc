// OriginalDst: getsockopt(SOL_IP, SO_ORIGINAL_DST) reads the destination of the conntrack
// entry's original tuple. For a DNATed connection that is where the client meant to go;
// for one that was never translated it is the socket's own local address.
#include "sockopt.h"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace nftnapi {

Napi::Value OriginalDst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(env, "fd: expected a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t fd = info[0].As<Napi::Number>().Int64Value();
  if (fd < 0 || fd > INT32_MAX) {
    Napi::TypeError::New(env, "fd: expected a file descriptor").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  struct sockaddr_in addr = {};
  socklen_t len = sizeof(addr);
  if (getsockopt(static_cast<int>(fd), SOL_IP, SO_ORIGINAL_DST, &addr, &len) != 0) {
    ThrowError(env, Sys("getsockopt(SO_ORIGINAL_DST)", errno));
    return env.Undefined();
  }
  if (len < sizeof(addr) || addr.sin_family != AF_INET) {
    ThrowError(env, Sys("getsockopt(SO_ORIGINAL_DST)", EAFNOSUPPORT));
    return env.Undefined();
  }

  // sin_addr is already in network order: its 4 bytes are the address as written.
  Napi::Uint8Array address = Napi::Uint8Array::New(env, 4);
  memcpy(address.Data(), &addr.sin_addr.s_addr, 4);
  Napi::Object out = Napi::Object::New(env);
  out.Set("address", address);
  out.Set("port", Napi::Number::New(env, ntohs(addr.sin_port)));
  return out;
}

}  // namespace nftnapi

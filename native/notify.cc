// SdNotify: the notification protocol of sd_notify(3), READY=1 and friends as one
// newline-separated datagram to the socket systemd names in NOTIFY_SOCKET.
#include "notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "errors.h"

namespace nftnapi {

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Napi::TypeError::New(env, "state: expected a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string state = info[0].As<Napi::String>().Utf8Value();

  // "/path" is a file system socket, "@name" an abstract one (sd_notify(3)).
  const char* path = getenv("NOTIFY_SOCKET");
  size_t len = path != nullptr ? strlen(path) : 0;
  struct sockaddr_un addr = {};
  if (len < 2 || len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@')) {
    return Napi::Boolean::New(env, false);
  }
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t addrLen = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowError(env, Sys("socket(NOTIFY_SOCKET)", errno));
    return env.Undefined();
  }
  ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                        reinterpret_cast<struct sockaddr*>(&addr), addrLen);
  int err = errno;
  close(fd);
  if (sent < 0) {
    ThrowError(env, Sys("sendto(NOTIFY_SOCKET)", err));
    return env.Undefined();
  }
  return Napi::Boolean::New(env, true);
}

}  // namespace nftnapi

// Multicast netlink sockets opened in a network namespace: setns on this thread, open,
// bind, join, then back to the thread's own namespace (socket.cc does the same).
#include "group_socket.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nftnapi {

namespace {

// Joins every group and sizes the receive buffer; false with error set on failure.
bool Join(mnl_socket* nl, const std::vector<int>& groups, int rcvbuf, const char* what,
          SysError* error) {
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    *error = Sys(std::string("bind(") + what + ")", errno);
    return false;
  }
  for (int group : groups) {
    if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
      *error = Sys(std::string("NETLINK_ADD_MEMBERSHIP(") + what + ")", errno);
      return false;
    }
  }
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN, which the daemon has; else the sysctl cap applies.
  int fd = mnl_socket_get_fd(nl);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) {
    *error = Sys(std::string("setsockopt(SO_RCVBUF, ") + what + ")", errno);
    return false;
  }
  return true;
}

}  // namespace

mnl_socket* OpenGroupSocket(const std::string& netnsPath, const std::vector<int>& groups,
                            int rcvbuf, const char* what, SysError* error) {
  int original = -1;
  if (!netnsPath.empty()) {
    original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (original < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
      *error = Sys("setns(" + netnsPath + ")", errno);
      if (target >= 0) close(target);
      if (original >= 0) close(original);
      return nullptr;
    }
    close(target);
  }

  mnl_socket* nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (nl == nullptr) {
    *error = Sys(std::string("open(") + what + ")", errno);
  } else if (!Join(nl, groups, rcvbuf, what, error)) {
    mnl_socket_close(nl);
    nl = nullptr;
  }

  // If the thread cannot go back, the process must not go on programming the wrong
  // namespace, so it aborts (as socket.cc does).
  if (original >= 0) {
    if (setns(original, CLONE_NEWNET) != 0) {
      fprintf(stderr, "nftables-napi: cannot return to the original netns: %s\n",
              strerror(errno));
      abort();
    }
    close(original);
  }
  return nl;
}

void CloseGroupSocket(uv_poll_t** poll, mnl_socket** nl) {
  if (*poll != nullptr) {
    uv_poll_stop(*poll);
    uv_close(reinterpret_cast<uv_handle_t*>(*poll),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    *poll = nullptr;
  }
  if (*nl != nullptr) {
    mnl_socket_close(*nl);
    *nl = nullptr;
  }
}

}  // namespace nftnapi

// Opening the netlink sockets (in a network namespace), sizing buffers, and queries.
#include "socket.h"

#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace nftnapi {

namespace {

// Replies to dumps are at most 32 KiB per datagram (netlink_recvmsg caps
// max_recvmsg_len); a larger buffer costs nothing and survives future kernels.
constexpr size_t kRecvSize = 256 * 1024;

// Opens one NETLINK_NETFILTER socket with the ack options both sockets need.
mnl_socket* OpenOne(const char* what, SysError* error) {
  mnl_socket* nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (nl == nullptr) {
    *error = Sys(std::string("mnl_socket_open(") + what + ")", errno);
    return nullptr;
  }
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    *error = Sys(std::string("mnl_socket_bind(") + what + ")", errno);
    mnl_socket_close(nl);
    return nullptr;
  }

  // NETLINK_CAP_ACK: an error ack carries only the failing header, not the whole
  // message, so acks of large rules stay small. NETLINK_EXT_ACK: the kernel may add
  // a message and the offending attribute (linux/netlink.h, enum nlmsgerr_attrs).
  int one = 1;
  if (mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one)) < 0 ||
      mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one)) < 0) {
    *error = Sys(std::string("setsockopt(") + what + ", NETLINK_CAP_ACK)", errno);
    mnl_socket_close(nl);
    return nullptr;
  }
  return nl;
}

// Sets a socket buffer with the FORCE option (CAP_NET_ADMIN ignores the sysctl
// maximum), falling back to the plain option when the process lacks the capability.
bool SetBuffer(int fd, int force, int plain, size_t bytes) {
  int value = bytes > INT32_MAX / 2 ? INT32_MAX / 2 : static_cast<int>(bytes);
  if (setsockopt(fd, SOL_SOCKET, force, &value, sizeof(value)) == 0) {
    return true;
  }
  return setsockopt(fd, SOL_SOCKET, plain, &value, sizeof(value)) == 0;
}

// Returns the calling thread to the namespace it came from. Failing here would leave
// the main thread programming the wrong namespace, so the process must not go on.
void ReturnTo(int original) {
  if (setns(original, CLONE_NEWNET) != 0) {
    fprintf(stderr, "nftables-napi: cannot return to the original netns: %s\n",
            strerror(errno));
    abort();
  }
  close(original);
}

}  // namespace

std::shared_ptr<Netlink> Netlink::Open(const std::string& netnsPath, SysError* error) {
  std::shared_ptr<Netlink> nl(new Netlink());
  nl->recvBuf_.resize(kRecvSize);
  nl->commitSeq_ = static_cast<uint32_t>(time(nullptr));

  int original = -1;
  if (!netnsPath.empty()) {
    original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original < 0) {
      *error = Sys("open(/proc/thread-self/ns/net)", errno);
      return nullptr;
    }
    int target = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      *error = Sys("open(" + netnsPath + ")", errno);
      close(original);
      return nullptr;
    }
    int rc = setns(target, CLONE_NEWNET);
    int err = errno;
    close(target);
    if (rc != 0) {
      *error = Sys("setns(" + netnsPath + ")", err);
      close(original);
      return nullptr;
    }
  }

  // A socket belongs to the namespace it was created in, for its whole life.
  nl->commit_ = OpenOne("commit", error);
  nl->query_ = nl->commit_ != nullptr ? OpenOne("query", error) : nullptr;
  if (original >= 0) {
    ReturnTo(original);
  }
  return nl->query_ != nullptr ? nl : nullptr;
}

Netlink::~Netlink() {
  if (commit_ != nullptr) {
    mnl_socket_close(commit_);
  }
  if (query_ != nullptr) {
    mnl_socket_close(query_);
  }
}

bool Netlink::SizeForBatch(size_t bytes, size_t messages, SysError* error) {
  int fd = mnl_socket_get_fd(commit_);

  // netlink_sendmsg refuses a datagram longer than sk_sndbuf - 32 with EMSGSIZE.
  size_t snd = bytes + 64 * 1024;
  if (snd > sndbuf_) {
    if (!SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, snd)) {
      *error = Sys("setsockopt(SO_SNDBUFFORCE)", errno);
      return false;
    }
    sndbuf_ = snd;
  }

  // Every message asks for an ack, and every ack is an skb of about 768 bytes of
  // truesize; when they overflow sk_rcvbuf the kernel drops them (ENOBUFS).
  size_t rcv = messages * 1024 + 1024 * 1024;
  if (rcv > rcvbuf_) {
    if (!SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcv)) {
      *error = Sys("setsockopt(SO_RCVBUFFORCE)", errno);
      return false;
    }
    rcvbuf_ = rcv;
  }
  return true;
}

bool Netlink::Query(const char* op, struct nlmsghdr* request,
                    const std::function<bool(const struct nlmsghdr*)>& onReply,
                    bool* interrupted, SysError* error) {
  uint32_t seq = request->nlmsg_seq;
  uint32_t portid = mnl_socket_get_portid(query_);
  if (mnl_socket_sendto(query_, request, request->nlmsg_len) < 0) {
    *error = Sys(std::string("sendto(") + op + ")", errno);
    return false;
  }

  // Read to the end even after a reply fails to decode, so the next request on this
  // socket does not find the rest of this one's dump.
  bool ok = true;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(query_, recvBuf_.data(), recvBuf_.size());
    if (n < 0) {
      *error = Sys(std::string("recvfrom(") + op + ")", errno);
      return false;
    }

    int left = static_cast<int>(n);
    auto* nlh = reinterpret_cast<const struct nlmsghdr*>(recvBuf_.data());
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid) {
        continue;  // a late reply to an earlier request
      }
      if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
        *interrupted = true;
      }

      if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) {
        // Both carry an int error first (linux/netlink.h, struct nlmsgerr).
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(int))) {
          *error = Sys(std::string("recvfrom(") + op + ")", EBADMSG);
          return false;
        }
        int err = *static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
        if (err != 0 && ok) {
          *error = Sys(op, -err);
          return false;
        }
        return ok;
      }
      if (ok && !onReply(nlh)) {
        ok = false;
      }
    }
  }
}

bool Netlink::QueryAcks(const char* op, const std::vector<char>& buf, uint32_t messages,
                        std::vector<int>* errnos, SysError* error) {
  auto* first = reinterpret_cast<const struct nlmsghdr*>(buf.data());
  uint32_t seq = first->nlmsg_seq;
  if (mnl_socket_sendto(query_, buf.data(), buf.size()) < 0) {
    *error = Sys(std::string("sendto(") + op + ")", errno);
    return false;
  }

  // netlink_rcv_skb handles every message inside sendmsg, so all acks are queued by
  // now; reading without waiting cannot miss one and cannot hang.
  errnos->assign(messages, 1);
  uint32_t acked = 0;
  int fd = mnl_socket_get_fd(query_);
  while (acked < messages) {
    ssize_t n = recv(fd, recvBuf_.data(), recvBuf_.size(), MSG_DONTWAIT);
    if (n < 0) {
      int err = errno == EAGAIN ? EPROTO : errno;
      *error = Sys(std::string("recv(") + op + " acks)", err);
      return false;
    }

    int left = static_cast<int>(n);
    auto* nlh = reinterpret_cast<const struct nlmsghdr*>(recvBuf_.data());
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      uint32_t i = nlh->nlmsg_seq - seq;
      if (nlh->nlmsg_type != NLMSG_ERROR || i >= messages ||
          nlh->nlmsg_len < mnl_nlmsg_size(sizeof(int))) {
        continue;
      }
      (*errnos)[i] = -*static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
      acked++;
    }
  }
  return true;
}

}  // namespace nftnapi

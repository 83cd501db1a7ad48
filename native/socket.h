// The netlink sockets behind one NftSocket.
//
// Commits go through one long-lived socket: a table created with NFT_TABLE_F_OWNER is
// bound to the socket that created it and only that socket may change it. Dumps and
// conntrack use a second socket so a long dump never sits between a commit and its acks.
// Each socket is used under its own mutex because workers run on the libuv pool.
#pragma once

#include <libmnl/libmnl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"

namespace nftnapi {

// Both netlink sockets of one NftSocket, opened in one network namespace.
class Netlink {
 public:
  // Opens both sockets, inside the namespace at netnsPath unless it is empty.
  static std::shared_ptr<Netlink> Open(const std::string& netnsPath, SysError* error);
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  mnl_socket* commit() const { return commit_; }
  std::mutex& commitLock() { return commitLock_; }
  std::mutex& queryLock() { return queryLock_; }

  // Sequence numbers for batches; only the main thread encodes, so no atomics needed.
  uint32_t commitSeq() const { return commitSeq_; }
  void advanceCommitSeq(uint32_t n) { commitSeq_ += n; }

  // Grows the commit socket's buffers so a batch of `bytes` fits in one sendmsg and the
  // acks of `messages` messages can all queue before they are read.
  bool SizeForBatch(size_t bytes, size_t messages, SysError* error);

  // Sends request on the query socket (caller holds queryLock) and passes every reply
  // to onReply until the dump ends or the kernel acks. A kernel error comes back in
  // error with op as its name. interrupted is set when the kernel flagged
  // NLM_F_DUMP_INTR: the dump raced a commit and must be repeated.
  bool Query(const char* op, struct nlmsghdr* request,
             const std::function<bool(const struct nlmsghdr*)>& onReply,
             bool* interrupted, SysError* error);

  // Sends the requests packed in buf (caller holds queryLock) and collects one ack
  // per message in errnos, in order (0 for success).
  bool QueryAcks(const char* op, const std::vector<char>& buf, uint32_t messages,
                 std::vector<int>* errnos, SysError* error);

  // A fresh sequence number for the query socket (caller holds queryLock).
  uint32_t nextQuerySeq() { return ++querySeq_; }

 private:
  Netlink() = default;

  mnl_socket* commit_ = nullptr;
  mnl_socket* query_ = nullptr;
  std::mutex commitLock_;
  std::mutex queryLock_;
  uint32_t commitSeq_ = 0;
  uint32_t querySeq_ = 0;
  size_t sndbuf_ = 0;
  size_t rcvbuf_ = 0;
  std::vector<char> recvBuf_;
};

}  // namespace nftnapi

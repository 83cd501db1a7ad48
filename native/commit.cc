// Sending a batch and reading its acks. nfnetlink_rcv_batch runs inside sendmsg, so
// when sendmsg returns every ack is already queued on the socket: draining without
// waiting until EAGAIN reads all of them, and nothing is left for the next commit.
#include "commit.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace nftnapi {

namespace {

// Acks are 36 bytes each with NETLINK_CAP_ACK; one read takes thousands of them.
constexpr size_t kAckBuffer = 256 * 1024;

// What the kernel said about a batch.
struct Outcome {
  bool refused = false;
  int32_t index = 0;
  int err = 0;
};

// Notes one error ack, keeping the lowest op index: later errors are often only
// consequences of the first (the kernel goes on through the batch after an error).
void NoteError(int32_t op, int err, Outcome* out) {
  bool better = !out->refused || (op >= 0 && (out->index < 0 || op < out->index));
  if (better) {
    out->refused = true;
    out->index = op;
    out->err = err;
  }
}

// Reads every queued ack; returns false (with error) when acks may have been lost.
bool Drain(int fd, const Batch& batch, Outcome* out, SysError* error) {
  std::vector<char> buf(kAckBuffer);
  uint32_t acked = 0;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    }
    if (n < 0) {
      *error = Sys("recv(batch acks)", errno,
                   errno == ENOBUFS ? "acks overflowed the receive buffer; the batch may "
                                      "or may not have been applied: read the table back"
                                    : "");
      return false;
    }

    int left = static_cast<int>(n);
    auto* nlh = reinterpret_cast<const struct nlmsghdr*>(buf.data());
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      int32_t op = batch.OpOf(nlh->nlmsg_seq);
      if (nlh->nlmsg_type != NLMSG_ERROR || op < kWholeBatch ||
          nlh->nlmsg_len < mnl_nlmsg_size(sizeof(int))) {
        continue;  // not an ack of this batch
      }
      int err = -*static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
      if (err == 0) {
        acked++;
      } else {
        NoteError(op, err, out);
      }
    }
  }

  if (!out->refused && acked < batch.messages()) {
    *error = Sys("recv(batch acks)", EPROTO,
                 std::to_string(batch.messages() - acked) + " acks missing; read the table back");
    return false;
  }
  return true;
}

// Sends the batch and drains its acks, under the commit socket's lock.
void Transmit(Netlink* nl, const Batch& batch, Outcome* out, SysError* error) {
  std::lock_guard<std::mutex> lock(nl->commitLock());
  if (!nl->SizeForBatch(batch.size(), batch.messages(), error)) {
    return;
  }

  if (mnl_socket_sendto(nl->commit(), batch.data(), batch.size()) < 0) {
    int err = errno;
    std::string size = std::to_string(batch.size()) + " bytes";
    std::string hint =
        err == EMSGSIZE ? "a batch of " + size + " exceeds the send buffer; split it"
        : err == ENOBUFS || err == ENOMEM
            ? "the kernel could not allocate " + size + " for the batch; split it"
            : "";
    *error = Sys("sendmsg(batch)", err, hint);
    return;
  }
  Drain(mnl_socket_get_fd(nl->commit()), batch, out, error);
}

// Runs Transmit on the libuv pool and settles the promise on the main thread.
class CommitWorker : public Napi::AsyncWorker {
 public:
  CommitWorker(Napi::Env env, std::shared_ptr<Netlink> nl, std::unique_ptr<Batch> batch)
      : Napi::AsyncWorker(env, "nftables-napi:commit"),
        deferred_(Napi::Promise::Deferred::New(env)),
        nl_(std::move(nl)),
        batch_(std::move(batch)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { Transmit(nl_.get(), *batch_, &outcome_, &error_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_.failed()) {
      deferred_.Reject(MakeError(env, error_).Value());
      return;
    }

    Napi::Object result = Napi::Object::New(env);
    result.Set("ok", !outcome_.refused);
    if (outcome_.refused) {
      result.Set("index", outcome_.index);
      result.Set("errno", outcome_.err);
      result.Set("message", strerror(outcome_.err));
    }
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Netlink> nl_;
  std::unique_ptr<Batch> batch_;
  Outcome outcome_;
  SysError error_;
};

}  // namespace

Napi::Value StartCommit(Napi::Env env, std::shared_ptr<Netlink> nl,
                        std::unique_ptr<Batch> batch) {
  auto* worker = new CommitWorker(env, std::move(nl), std::move(batch));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace nftnapi

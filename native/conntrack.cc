// ctnetlink requests: IPCTNL_MSG_CT_GET with NLM_F_DUMP, and IPCTNL_MSG_CT_DELETE with
// CTA_TUPLE_ORIG. A delete without a tuple would flush the whole table
// (ctnetlink_del_conntrack), so every delete here is built with one, always.
#include "conntrack.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "ct_tuple.h"

namespace nftnapi {

namespace {

// Deletes sent per sendmsg; their acks fit the receive buffer many times over.
constexpr uint32_t kDeleteChunk = 256;
// One delete: headers, and the tuple nest of about 60 bytes.
constexpr size_t kDeleteBound = 128;

// Starts a ctnetlink message for AF_INET.
struct nlmsghdr* Header(char* buf, uint8_t type, uint16_t flags, uint32_t seq) {
  struct nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  nlh->nlmsg_seq = seq;
  void* extra = mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
  auto* nfg = static_cast<struct nfgenmsg*>(extra);
  nfg->nfgen_family = AF_INET;
  nfg->version = NFNETLINK_V0;
  return nlh;
}

// Appends one delete request for t to buf.
void PutDelete(std::vector<char>* buf, const Tuple& t, uint32_t seq) {
  size_t at = buf->size();
  buf->resize(at + kDeleteBound);
  struct nlmsghdr* nlh = Header(buf->data() + at, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, seq);

  struct nlattr* orig = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
  struct nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
  mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, t.src);
  mnl_attr_put_u32(nlh, CTA_IP_V4_DST, t.dst);
  mnl_attr_nest_end(nlh, ip);
  struct nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t.proto);
  if (t.proto == IPPROTO_ICMP) {
    mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, t.icmpId);
    mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, t.icmpType);
    mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, t.icmpCode);
  } else {
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, t.sport);
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, t.dport);
  }
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, orig);
  buf->resize(at + NLMSG_ALIGN(nlh->nlmsg_len));
}

// Reads one CtTuple-shaped object ({ proto, src, dst, sport, dport }, raw addresses).
bool ReadTuple(const Input& in, Tuple* t) {
  uint32_t proto = 0;
  uint32_t sport = 0;
  uint32_t dport = 0;
  std::vector<uint8_t> src;
  std::vector<uint8_t> dst;
  if (!in.Object() || !in.Get("proto").U32(&proto, 255) ||
      !in.Get("src").Bytes(&src, 4, 4) || !in.Get("dst").Bytes(&dst, 4, 4) ||
      !in.Get("sport").U32(&sport, 65535) || !in.Get("dport").U32(&dport, 65535)) {
    return false;
  }
  if (proto == IPPROTO_ICMP) {
    Input icmp = in.Get("icmp");
    uint32_t id = 0;
    uint32_t type = 0;
    uint32_t code = 0;
    if (!icmp.Object() || !icmp.Get("id").U32(&id, 65535) ||
        !icmp.Get("type").U32(&type, 255) || !icmp.Get("code").U32(&code, 255)) {
      return false;
    }
    t->icmpId = htons(static_cast<uint16_t>(id));
    t->icmpType = static_cast<uint8_t>(type);
    t->icmpCode = static_cast<uint8_t>(code);
  } else if (!HasPorts(proto)) {
    return in.Get("proto").Fail(
        "only TCP, UDP, UDP-Lite, SCTP, DCCP and ICMP entries can be deleted");
  }

  t->proto = static_cast<uint8_t>(proto);
  memcpy(&t->src, src.data(), 4);
  memcpy(&t->dst, dst.data(), 4);
  t->sport = htons(static_cast<uint16_t>(sport));
  t->dport = htons(static_cast<uint16_t>(dport));
  return true;
}

// Dumps the IPv4 conntrack table on the pool; builds the tuples on the main thread.
class CtListWorker : public Napi::AsyncWorker {
 public:
  CtListWorker(Napi::Env env, std::shared_ptr<Netlink> nl)
      : Napi::AsyncWorker(env, "nftables-napi:ctList"),
        deferred_(Napi::Promise::Deferred::New(env)),
        nl_(std::move(nl)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    std::lock_guard<std::mutex> lock(nl_->queryLock());
    char buf[MNL_SOCKET_BUFFER_SIZE] = {};
    struct nlmsghdr* req = Header(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, nl_->nextQuerySeq());

    // A conntrack dump may be interrupted too; its entries are a snapshot anyway.
    bool interrupted = false;
    nl_->Query(
        "IPCTNL_MSG_CT_GET", req,
        [&](const struct nlmsghdr* nlh) {
          Tuple t;
          if (ParseTuple(nlh, &t)) {
            tuples_.push_back(t);
          }
          return true;
        },
        &interrupted, &error_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_.failed()) {
      deferred_.Reject(MakeError(env, error_).Value());
      return;
    }

    Napi::Array out = Napi::Array::New(env, tuples_.size());
    for (size_t i = 0; i < tuples_.size(); i++) {
      out.Set(i, TupleObject(env, tuples_[i]));
    }
    deferred_.Resolve(out);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Netlink> nl_;
  std::vector<Tuple> tuples_;
  SysError error_;
};

// Sends the deletes on the pool, in chunks; ENOENT (already gone) is not an error.
class CtDeleteWorker : public Napi::AsyncWorker {
 public:
  CtDeleteWorker(Napi::Env env, std::shared_ptr<Netlink> nl, std::vector<Tuple> tuples)
      : Napi::AsyncWorker(env, "nftables-napi:ctDelete"),
        deferred_(Napi::Promise::Deferred::New(env)),
        nl_(std::move(nl)),
        tuples_(std::move(tuples)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    std::lock_guard<std::mutex> lock(nl_->queryLock());
    for (size_t first = 0; first < tuples_.size(); first += kDeleteChunk) {
      size_t end = std::min(tuples_.size(), first + kDeleteChunk);
      std::vector<char> buf;
      for (size_t i = first; i < end; i++) {
        PutDelete(&buf, tuples_[i], nl_->nextQuerySeq());
      }

      std::vector<int> errnos;
      uint32_t count = static_cast<uint32_t>(end - first);
      if (!nl_->QueryAcks("IPCTNL_MSG_CT_DELETE", buf, count, &errnos, &error_)) {
        return;
      }
      for (size_t i = 0; i < errnos.size(); i++) {
        if (errnos[i] == 0) {
          deleted_++;
        } else if (errnos[i] != ENOENT) {
          error_ = Sys("IPCTNL_MSG_CT_DELETE tuples[" + std::to_string(first + i) + "]",
                       errnos[i]);
          return;
        }
      }
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_.failed()) {
      deferred_.Reject(MakeError(env, error_).Value());
    } else {
      deferred_.Resolve(Napi::Number::New(env, static_cast<double>(deleted_)));
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Netlink> nl_;
  std::vector<Tuple> tuples_;
  uint64_t deleted_ = 0;
  SysError error_;
};

}  // namespace

Napi::Value StartCtList(Napi::Env env, std::shared_ptr<Netlink> nl) {
  auto* worker = new CtListWorker(env, std::move(nl));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value StartCtDelete(Napi::Env env, std::shared_ptr<Netlink> nl, const Input& tuples) {
  uint32_t count = 0;
  if (!tuples.Array(&count, 1u << 20)) {
    return Napi::Value();
  }
  std::vector<Tuple> read(count);
  for (uint32_t i = 0; i < count; i++) {
    if (!ReadTuple(tuples.At(i), &read[i])) {
      return Napi::Value();
    }
  }

  auto* worker = new CtDeleteWorker(env, std::move(nl), std::move(read));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace nftnapi

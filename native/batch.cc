// Framing a transaction and dispatching each op to the encoder of its kind.
#include "batch.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>

#include <cstring>

#include "chain.h"
#include "element.h"
#include "rule.h"
#include "set.h"
#include "table.h"

namespace nftnapi {

const Named kFamilies[] = {
    {"inet", NFPROTO_INET},
    {"ip", NFPROTO_IPV4},
    {"ip6", NFPROTO_IPV6},
    {"netdev", NFPROTO_NETDEV},
};
const size_t kFamilyCount = Count(kFamilies);

namespace {

// BATCH_BEGIN and BATCH_END are a bare nlmsghdr plus struct nfgenmsg.
constexpr size_t kFrameBound = 64;

// The most ops one transaction may carry; far above any real workload, it keeps
// sequence numbers and buffer sizes well inside 32 bits.
constexpr uint32_t kMaxOps = 1u << 20;

const Named kVerbs[] = {
    {"add", static_cast<uint32_t>(Verb::kAdd)},
    {"delete", static_cast<uint32_t>(Verb::kDelete)},
    {"flush", static_cast<uint32_t>(Verb::kFlush)},
    {"create", static_cast<uint32_t>(Verb::kCreate)},
};

enum Kind : uint32_t { kTable, kChain, kSet, kElements, kRule };

const Named kKinds[] = {
    {"table", kTable}, {"chain", kChain}, {"set", kSet}, {"elements", kElements},
    {"rule", kRule},
};

// Reads one op's head and hands it to the encoder of its kind.
bool EncodeOp(const Input& op, int32_t index, Batch* batch, SysError* error) {
  uint32_t verb = 0;
  uint32_t kind = 0;
  uint32_t family = 0;
  if (!op.Object() || !op.Get("op").Choice(kVerbs, Count(kVerbs), &verb) ||
      !op.Get("kind").Choice(kKinds, Count(kKinds), &kind) ||
      !op.Get("family").Choice(kFamilies, kFamilyCount, &family)) {
    return false;
  }

  // create is add that refuses to adopt an object someone else made: NLM_F_EXCL.
  bool exclusive = static_cast<Verb>(verb) == Verb::kCreate;
  if (exclusive) verb = static_cast<uint32_t>(Verb::kAdd);
  if (exclusive && kind == kRule) return op.Get("op").Fail("a rule cannot be created, only added");
  batch->SetExclusive(exclusive);
  OpContext ctx{op, index, static_cast<Verb>(verb), static_cast<uint16_t>(family), batch,
                error};
  if (ctx.verb == Verb::kFlush && kind != kChain) {
    return op.Get("op").Fail("only a chain can be flushed");
  }
  switch (kind) {
    case kTable:
      return EncodeTableOp(ctx);
    case kChain:
      return EncodeChainOp(ctx);
    case kSet:
      return EncodeSetOp(ctx);
    case kElements:
      return EncodeElementsOp(ctx);
    default:
      return EncodeRuleOp(ctx);
  }
}

}  // namespace

Batch::Batch(uint32_t firstSeq) : firstSeq_(firstSeq) {
  nftnl_batch_begin(Reserve(kFrameBound), firstSeq_);
  used_ += NLMSG_ALIGN(reinterpret_cast<struct nlmsghdr*>(buf_.data())->nlmsg_len);
}

char* Batch::Reserve(size_t bound) {
  // Grow geometrically: a batch of thousands of chains must not reallocate per message.
  if (used_ + bound > buf_.size()) {
    buf_.resize(std::max(buf_.size() * 2, used_ + bound));
  }
  bound_ = bound;
  return buf_.data() + used_;
}

struct nlmsghdr* Batch::Put(uint16_t type, uint16_t family, uint16_t flags, size_t bound) {
  uint32_t seq = firstSeq_ + 1 + static_cast<uint32_t>(ops_.size());
  if (exclusive_ && (flags & NLM_F_CREATE)) flags |= NLM_F_EXCL;
  return nftnl_nlmsg_build_hdr(Reserve(bound), type, family, flags | NLM_F_ACK, seq);
}

bool Batch::Finish(struct nlmsghdr* nlh, int32_t op, SysError* error) {
  // Bounds are computed from validated input lengths, so this never fires unless an
  // encoder's bound is wrong; that is a bug, reported rather than written past.
  if (nlh->nlmsg_len > bound_) {
    *error = Sys("encode op " + std::to_string(op), EOVERFLOW, "message outgrew its bound");
    return false;
  }
  used_ += NLMSG_ALIGN(nlh->nlmsg_len);
  ops_.push_back(op);
  return true;
}

void Batch::End() {
  uint32_t seq = firstSeq_ + 1 + static_cast<uint32_t>(ops_.size());
  struct nlmsghdr* nlh = nftnl_batch_end(Reserve(kFrameBound), seq);
  used_ += NLMSG_ALIGN(nlh->nlmsg_len);
}

int32_t Batch::OpOf(uint32_t seq) const {
  uint32_t offset = seq - firstSeq_;
  if (offset == 0) {
    return kWholeBatch;
  }
  if (offset > ops_.size()) {
    return -2;
  }
  return ops_[offset - 1];
}

bool EncodeOps(const Input& ops, Batch* batch, SysError* error) {
  uint32_t count = 0;
  if (!ops.Array(&count, kMaxOps)) {
    return false;
  }

  for (uint32_t i = 0; i < count; i++) {
    if (!EncodeOp(ops.At(i), static_cast<int32_t>(i), batch, error)) {
      return false;
    }
  }
  batch->End();
  return true;
}

}  // namespace nftnapi

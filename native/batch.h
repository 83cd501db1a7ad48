// One transaction being encoded: every message between NFNL_MSG_BATCH_BEGIN and
// NFNL_MSG_BATCH_END, and for every message the index of the op it came from.
//
// nfnetlink_rcv_batch (net/netfilter/nfnetlink.c) applies all of a batch or none of it
// and reports errors per message by sequence number, so the sequence number is how a
// kernel error finds its way back to the op that caused it. One op may become several
// messages (elements are split, see element.cc); they all map to the same op.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <vector>

#include "errors.h"
#include "input.h"

namespace nftnapi {

// The op index reported for an error against the batch itself (its BATCH_BEGIN): the
// batch was malformed, or the commit phase failed after every op was accepted.
constexpr int32_t kWholeBatch = -1;

// The encoded netlink bytes of one transaction.
class Batch {
 public:
  explicit Batch(uint32_t firstSeq);

  // Starts a message of NFT_MSG_* type with room for `bound` bytes; every message
  // asks for an ack so success is confirmed, not inferred from silence.
  struct nlmsghdr* Put(uint16_t type, uint16_t family, uint16_t flags, size_t bound);
  // Ends the message Put returned, on behalf of op; fails if it outgrew its bound.
  bool Finish(struct nlmsghdr* nlh, int32_t op, SysError* error);
  // Closes the batch with NFNL_MSG_BATCH_END.
  void End();

  const char* data() const { return buf_.data(); }
  size_t size() const { return used_; }
  uint32_t firstSeq() const { return firstSeq_; }
  // Whether the next messages ask for NLM_F_EXCL (the op being encoded is a create).
  void SetExclusive(bool exclusive) { exclusive_ = exclusive; }
  // Sequence numbers used, BATCH_BEGIN and BATCH_END included.
  uint32_t seqCount() const { return static_cast<uint32_t>(ops_.size()) + 2; }
  // Messages that expect an ack: all but BATCH_BEGIN and BATCH_END.
  uint32_t messages() const { return static_cast<uint32_t>(ops_.size()); }
  // The op a sequence number belongs to, kWholeBatch for BATCH_BEGIN, or -2.
  int32_t OpOf(uint32_t seq) const;

 private:
  char* Reserve(size_t bound);

  std::vector<char> buf_;
  size_t used_ = 0;
  size_t bound_ = 0;
  uint32_t firstSeq_;
  bool exclusive_ = false;
  std::vector<int32_t> ops_;
};

// The `op` field of an Op.
// kCreate is kAdd with NLM_F_EXCL: an object that already exists is an error (EEXIST).
enum class Verb { kAdd, kDelete, kFlush, kCreate };

// What each op encoder gets: the op, where it sits, and where to put messages.
struct OpContext {
  const Input& op;
  int32_t index;
  Verb verb;
  uint16_t family;
  Batch* batch;
  SysError* error;
};

// Encodes the JS ops array into batch. Returns false after recording an input problem
// (in ops.problem()) or a failing call (in error).
bool EncodeOps(const Input& ops, Batch* batch, SysError* error);

// NFPROTO_* for a Family of src/nft/types.ts.
extern const Named kFamilies[];
extern const size_t kFamilyCount;

}  // namespace nftnapi

// Element ops. All of an op's elements go into NFTA_SET_ELEM_LIST_ELEMENTS, a nested
// attribute whose length is a u16 (struct nlattr, linux/netlink.h): past 64 KiB it
// would wrap. So an op becomes as many messages as it takes to keep each nest under
// kNestLimit, every message mapped to the same op index.
#include "element.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>

#include "owned.h"
#include "set.h"
#include "verdict.h"

namespace nftnapi {

namespace {

// Well under the u16 nest length, with room for the element that crosses it.
constexpr size_t kNestLimit = 60 * 1024;
// One element: key, key end and value of 64 bytes each, or a verdict and a chain name.
constexpr size_t kElementMax = 1024;
// Header, two names, the nest, and one element past the limit before rollback.
constexpr size_t kMessageBound = 1024 + kNestLimit + kElementMax;
// Far above any real set, and it keeps the nest index inside an int.
constexpr uint32_t kMaxElements = 1u << 22;
// A week in ms: longer than any DNS answer the daemon keeps (RFC 8767 caps TTLs at 7 days).
constexpr uint32_t kTimeoutMax = 7u * 24 * 3600 * 1000;

// Sets a byte attribute of elem from the Uint8Array `in`.
bool SetBytes(const Input& in, struct nftnl_set_elem* elem, uint16_t attr) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!in.Bytes(&data, &len, 1, kDataMax)) {
    return false;
  }
  if (nftnl_set_elem_set(elem, attr, data, static_cast<uint32_t>(len)) < 0) {
    return in.Fail("nftnl_set_elem_set refused it");
  }
  return true;
}

// Reads one Element into an nftnl_set_elem. A delete needs only the key (and closing
// key), so the value of a map element is read for adds only. Each optional member is
// read once: a batch carries hundreds of thousands of elements.
bool ReadElement(const Input& in, bool adding, struct nftnl_set_elem* elem) {
  if (!in.Object() || !SetBytes(in.Get("key"), elem, NFTNL_SET_ELEM_KEY)) {
    return false;
  }
  Input keyEnd = in.Get("keyEnd");
  if (keyEnd.Present() && !SetBytes(keyEnd, elem, NFTNL_SET_ELEM_KEY_END)) {
    return false;
  }
  if (!adding) {
    return true;
  }

  // NFTA_SET_ELEM_TIMEOUT, in ms; adding an element again with a timeout restarts its
  // clock (the kernel updates the expiration of an existing element).
  Input timeout = in.Get("timeout");
  if (timeout.Present()) {
    uint32_t ms = 0;
    if (!timeout.U32(&ms, kTimeoutMax)) {
      return false;
    }
    if (ms == 0) {
      return timeout.Fail("a timeout is at least 1 ms");
    }
    nftnl_set_elem_set_u64(elem, NFTNL_SET_ELEM_TIMEOUT, ms);
  }

  Input verdictIn = in.Get("verdict");
  if (verdictIn.Present()) {
    VerdictIn verdict;
    if (!ReadVerdict(verdictIn, &verdict)) {
      return false;
    }
    nftnl_set_elem_set_u32(elem, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(verdict.code));
    if (verdict.hasChain &&
        nftnl_set_elem_set_str(elem, NFTNL_SET_ELEM_CHAIN, verdict.chain.c_str()) < 0) {
      return in.Fail("out of memory");
    }
    return true;
  }
  Input data = in.Get("data");
  return !data.Present() || SetBytes(data, elem, NFTNL_SET_ELEM_DATA);
}

// One NEWSETELEM/DELSETELEM message being filled.
struct Message {
  struct nlmsghdr* nlh = nullptr;
  struct nlattr* nest = nullptr;
  int count = 0;
};

// Starts a message naming the set and opens its elements nest.
Message Start(const OpContext& ctx, const std::string& table, const std::string& set) {
  uint16_t type = ctx.verb == Verb::kAdd ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM;
  uint16_t flags = ctx.verb == Verb::kAdd ? NLM_F_CREATE : 0;
  Message m;
  m.nlh = ctx.batch->Put(type, ctx.family, flags, kMessageBound);
  mnl_attr_put_strz(m.nlh, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
  mnl_attr_put_strz(m.nlh, NFTA_SET_ELEM_LIST_SET, set.c_str());
  m.nest = mnl_attr_nest_start(m.nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
  return m;
}

// Closes the nest and the message.
bool End(const OpContext& ctx, Message* m) {
  mnl_attr_nest_end(m->nlh, m->nest);
  return ctx.batch->Finish(m->nlh, ctx.index, ctx.error);
}

// Appends one element; when the nest outgrows kNestLimit, the element is taken back
// out, the message closed, and the element put first in a new message.
bool Append(const OpContext& ctx, const std::string& table, const std::string& set,
            struct nftnl_set_elem* elem, Message* m) {
  uint32_t before = m->nlh->nlmsg_len;
  nftnl_set_elem_nlmsg_build(m->nlh, elem, ++m->count);
  size_t nestLen = reinterpret_cast<char*>(mnl_nlmsg_get_payload_tail(m->nlh)) -
                   reinterpret_cast<char*>(m->nest);
  if (nestLen <= kNestLimit) {
    return true;
  }

  m->nlh->nlmsg_len = before;
  if (!End(ctx, m)) {
    return false;
  }
  *m = Start(ctx, table, set);
  nftnl_set_elem_nlmsg_build(m->nlh, elem, ++m->count);
  return true;
}

}  // namespace

bool EncodeElementsOp(const OpContext& ctx) {
  std::string table;
  std::string set;
  uint32_t count = 0;
  Input elements = ctx.op.Get("elements");
  if (!ctx.op.Get("table").Name(&table) || !ctx.op.Get("set").Name(&set) ||
      !elements.Array(&count, kMaxElements)) {
    return false;
  }
  if (count == 0) {
    return true;  // the kernel refuses an empty NFTA_SET_ELEM_LIST_ELEMENTS
  }

  Message m = Start(ctx, table, set);
  for (uint32_t i = 0; i < count; i++) {
    Owned<struct nftnl_set_elem> elem(nftnl_set_elem_alloc());
    if (!elem) {
      *ctx.error = Sys("nftnl_set_elem_alloc", ENOMEM);
      return false;
    }
    if (!ReadElement(elements.At(i), ctx.verb == Verb::kAdd, elem.get()) ||
        !Append(ctx, table, set, elem.get(), &m)) {
      return false;
    }
  }
  return End(ctx, &m);
}

}  // namespace nftnapi

// Table ops. A table is only a name, a family and NFT_TABLE_F_* flags.
#include "table.h"

#include <linux/netfilter/nf_tables.h>

#include "owned.h"

// linux/netfilter/nf_tables.h gained NFT_TABLE_F_PERSIST in 6.9 (a table that outlives
// its owner socket); Debian 12's copy of the header predates it.
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

namespace nftnapi {

namespace {

// NEWTABLE and DELTABLE carry a name and flags: a name of at most 255 bytes fits.
constexpr size_t kTableBound = 1024;

// Reads the optional TableFlags object into NFT_TABLE_F_* bits.
bool ReadFlags(const Input& op, uint32_t* flags) {
  *flags = 0;
  if (!op.Has("flags")) {
    return true;
  }

  Input in = op.Get("flags");
  if (!in.Object()) {
    return false;
  }
  bool owner = false;
  bool persist = false;
  if ((in.Has("owner") && !in.Get("owner").Bool(&owner)) ||
      (in.Has("persist") && !in.Get("persist").Bool(&persist))) {
    return false;
  }
  *flags = (owner ? NFT_TABLE_F_OWNER : 0) | (persist ? NFT_TABLE_F_PERSIST : 0);
  return true;
}

}  // namespace

bool EncodeTableOp(const OpContext& ctx) {
  std::string name;
  uint32_t flags = 0;
  if (!ctx.op.Get("name").Name(&name) ||
      (ctx.verb == Verb::kAdd && !ReadFlags(ctx.op, &flags))) {
    return false;
  }

  Owned<struct nftnl_table> table(nftnl_table_alloc());
  if (!table || nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, name.c_str()) < 0) {
    *ctx.error = Sys("nftnl_table_alloc", ENOMEM);
    return false;
  }
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FAMILY, ctx.family);

  // NLM_F_CREATE without NLM_F_EXCL: adding an existing table is not an error, as
  // with `nft add table`; given flags replace the existing table's. Without flags no
  // NFTA_TABLE_FLAGS is sent and an existing table is left as it is (nf_tables_updtable),
  // which the kernel allows on an orphaned persist table and refuses (EPERM) on one
  // another socket owns: a cheap "may I replace it" at the head of a batch.
  uint16_t type = NFT_MSG_DELTABLE;
  uint16_t nlflags = 0;
  if (ctx.verb == Verb::kAdd) {
    if (ctx.op.Has("flags")) {
      nftnl_table_set_u32(table.get(), NFTNL_TABLE_FLAGS, flags);
    }
    type = NFT_MSG_NEWTABLE;
    nlflags = NLM_F_CREATE;
  }

  struct nlmsghdr* nlh = ctx.batch->Put(type, ctx.family, nlflags, kTableBound);
  nftnl_table_nlmsg_build_payload(nlh, table.get());
  return ctx.batch->Finish(nlh, ctx.index, ctx.error);
}

Napi::Object DecodeTableFlags(Napi::Env env, const struct nftnl_table* table) {
  Napi::Object flags = Napi::Object::New(env);
  uint32_t bits = nftnl_table_is_set(table, NFTNL_TABLE_FLAGS)
                      ? nftnl_table_get_u32(table, NFTNL_TABLE_FLAGS)
                      : 0;

  // Only flags that are on appear, so a table added without flags reads back as {}.
  if (bits & NFT_TABLE_F_OWNER) {
    flags.Set("owner", true);
  }
  if (bits & NFT_TABLE_F_PERSIST) {
    flags.Set("persist", true);
  }
  // Never set by the daemon, so either one read back is a difference the audit repairs:
  // a dormant table's base chains are unregistered, and nothing it holds is enforced.
  if (bits & NFT_TABLE_F_DORMANT) {
    flags.Set("dormant", true);
  }
  uint32_t other = bits & ~(NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST | NFT_TABLE_F_DORMANT);
  if (other != 0) {
    flags.Set("other", other);
  }
  return flags;
}

}  // namespace nftnapi

// meta: loads packet metadata into a register (NFTA_META_DREG), or sets it from one
// (NFTA_META_SREG: `meta mark set`).
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"

namespace nftnapi {

namespace {

// enum nft_meta_keys (nf_tables.h), the keys MetaKey names.
const Named kKeys[] = {
    {"iifname", NFT_META_IIFNAME}, {"oifname", NFT_META_OIFNAME},
    {"iif", NFT_META_IIF},         {"oif", NFT_META_OIF},
    {"nfproto", NFT_META_NFPROTO}, {"l4proto", NFT_META_L4PROTO},
    {"mark", NFT_META_MARK},
};

bool Encode(const Input& in, struct nftnl_expr* expr) {
  uint32_t key = 0;
  if (!in.Get("key").Choice(kKeys, Count(kKeys), &key)) {
    return false;
  }
  nftnl_expr_set_u32(expr, NFTNL_EXPR_META_KEY, key);
  Input sreg = in.Get("sreg");
  if (sreg.Present()) {
    // The kernel refuses setting a key it cannot set (nft_meta_set_init): EOPNOTSUPP.
    return SetReg(sreg, expr, NFTNL_EXPR_META_SREG, false);
  }
  return SetReg(in.Get("dreg"), expr, NFTNL_EXPR_META_DREG, false);
}

bool Decode(Napi::Env, const struct nftnl_expr* expr, Napi::Object out) {
  const char* key = NameOf(kKeys, Count(kKeys), nftnl_expr_get_u32(expr, NFTNL_EXPR_META_KEY));
  if (key == nullptr) {
    return false;
  }
  Put(out, "key", key);
  if (nftnl_expr_is_set(expr, NFTNL_EXPR_META_SREG)) {
    Put(out, "sreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_META_SREG));
    return true;
  }
  if (!nftnl_expr_is_set(expr, NFTNL_EXPR_META_DREG)) {
    return false;
  }
  Put(out, "dreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_META_DREG));
  return true;
}

}  // namespace

const ExprCodec kMetaCodec = {"meta", Encode, Decode};

}  // namespace nftnapi

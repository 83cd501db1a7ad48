// ct: loads conntrack state of the packet's connection (NFTA_CT_KEY, NFTA_CT_DREG).
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"

namespace nftnapi {

namespace {

// enum nft_ct_keys (nf_tables.h), the keys CtKey names.
const Named kKeys[] = {
    {"state", NFT_CT_STATE},
    {"direction", NFT_CT_DIRECTION},
    {"status", NFT_CT_STATUS},
    {"mark", NFT_CT_MARK},
};

bool Encode(const Input& in, struct nftnl_expr* expr) {
  uint32_t key = 0;
  if (!in.Get("key").Choice(kKeys, Count(kKeys), &key)) {
    return false;
  }
  nftnl_expr_set_u32(expr, NFTNL_EXPR_CT_KEY, key);
  return SetReg(in.Get("dreg"), expr, NFTNL_EXPR_CT_DREG, false);
}

bool Decode(Napi::Env, const struct nftnl_expr* expr, Napi::Object out) {
  // A direction (NFTA_CT_DIRECTION) or a source register (ct set) is outside CtKey's use.
  const char* key = NameOf(kKeys, Count(kKeys), nftnl_expr_get_u32(expr, NFTNL_EXPR_CT_KEY));
  if (key == nullptr || nftnl_expr_is_set(expr, NFTNL_EXPR_CT_DIR) ||
      !nftnl_expr_is_set(expr, NFTNL_EXPR_CT_DREG)) {
    return false;
  }
  Put(out, "key", key);
  Put(out, "dreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_CT_DREG));
  return true;
}

}  // namespace

const ExprCodec kCtCodec = {"ct", Encode, Decode};

}  // namespace nftnapi

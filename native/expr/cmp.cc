// cmp: compares a register with constant data (NFTA_CMP_SREG, _OP, _DATA).
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"

namespace nftnapi {

namespace {

// enum nft_cmp_ops (nf_tables.h).
const Named kOps[] = {
    {"eq", NFT_CMP_EQ}, {"neq", NFT_CMP_NEQ}, {"lt", NFT_CMP_LT},
    {"lte", NFT_CMP_LTE}, {"gt", NFT_CMP_GT}, {"gte", NFT_CMP_GTE},
};

bool Encode(const Input& in, struct nftnl_expr* expr) {
  uint32_t op = 0;
  if (!SetReg(in.Get("sreg"), expr, NFTNL_EXPR_CMP_SREG, false) ||
      !in.Get("op").Choice(kOps, Count(kOps), &op)) {
    return false;
  }
  nftnl_expr_set_u32(expr, NFTNL_EXPR_CMP_OP, op);
  return SetBytes(in.Get("data"), expr, NFTNL_EXPR_CMP_DATA, 1, kRegSize);
}

bool Decode(Napi::Env env, const struct nftnl_expr* expr, Napi::Object out) {
  const char* op = NameOf(kOps, Count(kOps), nftnl_expr_get_u32(expr, NFTNL_EXPR_CMP_OP));
  if (op == nullptr) {
    return false;
  }
  Put(out, "sreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_CMP_SREG));
  Put(out, "op", op);
  Put(out, "data", GetBytes(env, expr, NFTNL_EXPR_CMP_DATA));
  return true;
}

}  // namespace

const ExprCodec kCmpCodec = {"cmp", Encode, Decode};

}  // namespace nftnapi

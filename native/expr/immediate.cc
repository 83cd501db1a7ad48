// immediate: loads a constant into a register, or a verdict into NFT_REG_VERDICT
// (NFTA_IMMEDIATE_DREG and NFTA_IMMEDIATE_DATA, which nests NFTA_DATA_VALUE or
// NFTA_DATA_VERDICT).
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"
#include "verdict.h"

namespace nftnapi {

namespace {

bool Encode(const Input& in, struct nftnl_expr* expr) {
  uint32_t dreg = 0;
  if (!in.Get("dreg").Reg(&dreg, true)) {
    return false;
  }
  nftnl_expr_set_u32(expr, NFTNL_EXPR_IMM_DREG, dreg);
  if (dreg != NFT_REG_VERDICT) {
    return SetBytes(in.Get("data"), expr, NFTNL_EXPR_IMM_DATA, 1, kRegSize);
  }

  VerdictIn verdict;
  if (!ReadVerdict(in.Get("verdict"), &verdict)) {
    return false;
  }
  nftnl_expr_set_u32(expr, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(verdict.code));
  if (verdict.hasChain &&
      nftnl_expr_set_str(expr, NFTNL_EXPR_IMM_CHAIN, verdict.chain.c_str()) < 0) {
    return in.Get("verdict").Fail("out of memory");
  }
  return true;
}

bool Decode(Napi::Env env, const struct nftnl_expr* expr, Napi::Object out) {
  uint32_t dreg = nftnl_expr_get_u32(expr, NFTNL_EXPR_IMM_DREG);
  Put(out, "dreg", dreg);
  if (!nftnl_expr_is_set(expr, NFTNL_EXPR_IMM_VERDICT)) {
    Put(out, "data", GetBytes(env, expr, NFTNL_EXPR_IMM_DATA));
    return true;
  }

  int32_t code = static_cast<int32_t>(nftnl_expr_get_u32(expr, NFTNL_EXPR_IMM_VERDICT));
  const char* chain = nftnl_expr_is_set(expr, NFTNL_EXPR_IMM_CHAIN)
                          ? nftnl_expr_get_str(expr, NFTNL_EXPR_IMM_CHAIN)
                          : nullptr;
  Napi::Value verdict = DecodeVerdict(env, code, chain);
  if (verdict.IsEmpty()) {
    return false;
  }
  Put(out, "verdict", verdict);
  return true;
}

}  // namespace

const ExprCodec kImmediateCodec = {"immediate", Encode, Decode};

}  // namespace nftnapi

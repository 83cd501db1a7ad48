// bitwise: dreg = (sreg & mask) ^ xor over len bytes (NFTA_BITWISE_*, the boolean op).
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"

namespace nftnapi {

namespace {

bool Encode(const Input& in, struct nftnl_expr* expr) {
  uint32_t len = 0;
  if (!SetReg(in.Get("sreg"), expr, NFTNL_EXPR_BITWISE_SREG, false) ||
      !SetReg(in.Get("dreg"), expr, NFTNL_EXPR_BITWISE_DREG, false) ||
      !in.Get("len").U32(&len, kRegSize)) {
    return false;
  }
  if (len == 0) {
    return in.Get("len").Fail("at least 1 byte");
  }

  // nft_bitwise_init_bool refuses a mask or xor whose length is not len.
  nftnl_expr_set_u32(expr, NFTNL_EXPR_BITWISE_LEN, len);
  return SetBytes(in.Get("mask"), expr, NFTNL_EXPR_BITWISE_MASK, len, len) &&
         SetBytes(in.Get("xor"), expr, NFTNL_EXPR_BITWISE_XOR, len, len);
}

bool Decode(Napi::Env env, const struct nftnl_expr* expr, Napi::Object out) {
  // Shifts (NFT_BITWISE_LSHIFT, _RSHIFT) are not part of the Expr union.
  if (nftnl_expr_is_set(expr, NFTNL_EXPR_BITWISE_OP) &&
      nftnl_expr_get_u32(expr, NFTNL_EXPR_BITWISE_OP) != NFT_BITWISE_BOOL) {
    return false;
  }

  Put(out, "sreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_BITWISE_SREG));
  Put(out, "dreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_BITWISE_DREG));
  Put(out, "len", nftnl_expr_get_u32(expr, NFTNL_EXPR_BITWISE_LEN));
  Put(out, "mask", GetBytes(env, expr, NFTNL_EXPR_BITWISE_MASK));
  Put(out, "xor", GetBytes(env, expr, NFTNL_EXPR_BITWISE_XOR));
  return true;
}

}  // namespace

const ExprCodec kBitwiseCodec = {"bitwise", Encode, Decode};

}  // namespace nftnapi

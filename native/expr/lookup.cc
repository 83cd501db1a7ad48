// lookup: looks a register up in a named set; with a destination register it reads a
// map's value, and with NFT_REG_VERDICT it jumps through a verdict map (NFTA_LOOKUP_*).
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"

namespace nftnapi {

namespace {

bool Encode(const Input& in, struct nftnl_expr* expr) {
  std::string set;
  if (!SetReg(in.Get("sreg"), expr, NFTNL_EXPR_LOOKUP_SREG, false) ||
      !in.Get("set").Name(&set)) {
    return false;
  }
  if (nftnl_expr_set_str(expr, NFTNL_EXPR_LOOKUP_SET, set.c_str()) < 0) {
    return in.Get("set").Fail("out of memory");
  }
  Input dreg = in.Get("dreg");
  if (dreg.Present() && !SetReg(dreg, expr, NFTNL_EXPR_LOOKUP_DREG, true)) {
    return false;
  }

  bool invert = false;
  Input invertIn = in.Get("invert");
  if (invertIn.Present() && !invertIn.Bool(&invert)) {
    return false;
  }
  if (invert) {
    nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
  }
  return true;
}

bool Decode(Napi::Env, const struct nftnl_expr* expr, Napi::Object out) {
  const char* set = nftnl_expr_get_str(expr, NFTNL_EXPR_LOOKUP_SET);
  if (set == nullptr) {
    return false;  // an anonymous set bound by id: the daemon names all its sets
  }

  Put(out, "sreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_LOOKUP_SREG));
  Put(out, "set", set);
  if (nftnl_expr_is_set(expr, NFTNL_EXPR_LOOKUP_DREG)) {
    Put(out, "dreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_LOOKUP_DREG));
  }
  if (nftnl_expr_is_set(expr, NFTNL_EXPR_LOOKUP_FLAGS) &&
      (nftnl_expr_get_u32(expr, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV)) {
    Put(out, "invert", true);
  }
  return true;
}

}  // namespace

const ExprCodec kLookupCodec = {"lookup", Encode, Decode};

}  // namespace nftnapi

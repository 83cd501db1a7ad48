// masq: source NAT to the address of the outgoing interface (NFTA_MASQ_*); the daemon
// uses it bare, with no flags and no port range.
#include "expr/expr.h"

namespace nftnapi {

namespace {

bool Encode(const Input&, struct nftnl_expr*) { return true; }

bool Decode(Napi::Env, const struct nftnl_expr* expr, Napi::Object) {
  // nft_masq_dump sends flags only when non-zero, and port registers only when set.
  bool flags = nftnl_expr_is_set(expr, NFTNL_EXPR_MASQ_FLAGS) &&
               nftnl_expr_get_u32(expr, NFTNL_EXPR_MASQ_FLAGS) != 0;
  return !flags && !nftnl_expr_is_set(expr, NFTNL_EXPR_MASQ_REG_PROTO_MIN);
}

}  // namespace

const ExprCodec kMasqCodec = {"masq", Encode, Decode};

}  // namespace nftnapi

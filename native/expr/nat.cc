// nat: IPv4 source or destination NAT to the address (and port) held in registers
// (NFTA_NAT_TYPE, _FAMILY, _REG_ADDR_MIN, _REG_PROTO_MIN in nf_tables.h).
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"

namespace nftnapi {

namespace {

// enum nft_nat_types (nf_tables.h).
const Named kTypes[] = {{"snat", NFT_NAT_SNAT}, {"dnat", NFT_NAT_DNAT}};

// The only family Expr's nat takes.
const Named kFamilies[] = {{"ip", NFPROTO_IPV4}};

// nft_nat_init sets these itself from the registers given; any other flag
// (random, persistent) is something the daemon never asks for.
constexpr uint32_t kImpliedFlags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;

bool Encode(const Input& in, struct nftnl_expr* expr) {
  uint32_t type = 0;
  uint32_t family = 0;
  if (!in.Get("nat").Choice(kTypes, Count(kTypes), &type) ||
      !in.Get("family").Choice(kFamilies, Count(kFamilies), &family) ||
      !SetReg(in.Get("addrReg"), expr, NFTNL_EXPR_NAT_REG_ADDR_MIN, false)) {
    return false;
  }
  nftnl_expr_set_u32(expr, NFTNL_EXPR_NAT_TYPE, type);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_NAT_FAMILY, family);
  return !in.Has("protoReg") ||
         SetReg(in.Get("protoReg"), expr, NFTNL_EXPR_NAT_REG_PROTO_MIN, false);
}

bool Decode(Napi::Env, const struct nftnl_expr* expr, Napi::Object out) {
  const char* type = NameOf(kTypes, Count(kTypes), nftnl_expr_get_u32(expr, NFTNL_EXPR_NAT_TYPE));
  uint32_t flags = nftnl_expr_is_set(expr, NFTNL_EXPR_NAT_FLAGS)
                       ? nftnl_expr_get_u32(expr, NFTNL_EXPR_NAT_FLAGS)
                       : 0;
  if (type == nullptr || nftnl_expr_get_u32(expr, NFTNL_EXPR_NAT_FAMILY) != NFPROTO_IPV4 ||
      !nftnl_expr_is_set(expr, NFTNL_EXPR_NAT_REG_ADDR_MIN) || (flags & ~kImpliedFlags)) {
    return false;
  }

  Put(out, "nat", type);
  Put(out, "family", "ip");
  Put(out, "addrReg", nftnl_expr_get_u32(expr, NFTNL_EXPR_NAT_REG_ADDR_MIN));
  if (nftnl_expr_is_set(expr, NFTNL_EXPR_NAT_REG_PROTO_MIN)) {
    Put(out, "protoReg", nftnl_expr_get_u32(expr, NFTNL_EXPR_NAT_REG_PROTO_MIN));
  }
  return true;
}

}  // namespace

const ExprCodec kNatCodec = {"nat", Encode, Decode};

}  // namespace nftnapi

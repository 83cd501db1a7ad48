// reject: refuses a packet with a TCP reset or an ICMP(v6) unreachable chosen by
// family (NFTA_REJECT_TYPE, NFTA_REJECT_ICMP_CODE).
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"

namespace nftnapi {

namespace {

// enum nft_reject_inet_code (nf_tables.h), the codes IcmpxCode names.
const Named kCodes[] = {
    {"no-route", NFT_REJECT_ICMPX_NO_ROUTE},
    {"port-unreachable", NFT_REJECT_ICMPX_PORT_UNREACH},
    {"host-unreachable", NFT_REJECT_ICMPX_HOST_UNREACH},
    {"admin-prohibited", NFT_REJECT_ICMPX_ADMIN_PROHIBITED},
};

// The two reject types the daemon uses (enum nft_reject_types).
const Named kKinds[] = {
    {"tcp-reset", NFT_REJECT_TCP_RST},
    {"icmpx", NFT_REJECT_ICMPX_UNREACH},
};

bool Encode(const Input& in, struct nftnl_expr* expr) {
  uint32_t kind = 0;
  if (!in.Get("kind").Choice(kKinds, Count(kKinds), &kind)) {
    return false;
  }
  nftnl_expr_set_u32(expr, NFTNL_EXPR_REJECT_TYPE, kind);
  if (kind != NFT_REJECT_ICMPX_UNREACH) {
    return true;
  }

  // NFTA_REJECT_ICMP_CODE is a u8 attribute; libnftnl keeps it as one.
  uint32_t code = 0;
  if (!in.Get("code").Choice(kCodes, Count(kCodes), &code)) {
    return false;
  }
  nftnl_expr_set_u8(expr, NFTNL_EXPR_REJECT_CODE, static_cast<uint8_t>(code));
  return true;
}

bool Decode(Napi::Env, const struct nftnl_expr* expr, Napi::Object out) {
  uint32_t kind = nftnl_expr_get_u32(expr, NFTNL_EXPR_REJECT_TYPE);
  const char* kindName = NameOf(kKinds, Count(kKinds), kind);
  if (kindName == nullptr) {
    return false;
  }
  Put(out, "kind", kindName);
  if (kind != NFT_REJECT_ICMPX_UNREACH) {
    return true;
  }

  uint8_t value = nftnl_expr_get_u8(expr, NFTNL_EXPR_REJECT_CODE);
  const char* code = NameOf(kCodes, Count(kCodes), value);
  if (code == nullptr) {
    return false;
  }
  Put(out, "code", code);
  return true;
}

}  // namespace

const ExprCodec kRejectCodec = {"reject", Encode, Decode};

}  // namespace nftnapi

// payload: loads bytes of a packet header into a register (NFTA_PAYLOAD_*).
#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"

namespace nftnapi {

namespace {

// enum nft_payload_bases (nf_tables.h).
const Named kBases[] = {
    {"link", NFT_PAYLOAD_LL_HEADER},
    {"network", NFT_PAYLOAD_NETWORK_HEADER},
    {"transport", NFT_PAYLOAD_TRANSPORT_HEADER},
};

// struct nft_payload keeps offset and len as u8; a load fills at most the 64 bytes of
// the register file (NFT_REG32_COUNT * NFT_REG32_SIZE).
constexpr uint32_t kMaxOffset = 255;
constexpr uint32_t kMaxLen = 64;

bool Encode(const Input& in, struct nftnl_expr* expr) {
  uint32_t base = 0;
  uint32_t offset = 0;
  uint32_t len = 0;
  if (!in.Get("base").Choice(kBases, Count(kBases), &base) ||
      !in.Get("offset").U32(&offset, kMaxOffset) || !in.Get("len").U32(&len, kMaxLen)) {
    return false;
  }
  if (len == 0) {
    return in.Get("len").Fail("a load is at least 1 byte");
  }

  nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_LEN, len);
  return SetReg(in.Get("dreg"), expr, NFTNL_EXPR_PAYLOAD_DREG, false);
}

bool Decode(Napi::Env, const struct nftnl_expr* expr, Napi::Object out) {
  // Without a destination register it is a payload write (NFTA_PAYLOAD_SREG).
  uint32_t base = nftnl_expr_get_u32(expr, NFTNL_EXPR_PAYLOAD_BASE);
  const char* baseName = NameOf(kBases, Count(kBases), base);
  if (baseName == nullptr || !nftnl_expr_is_set(expr, NFTNL_EXPR_PAYLOAD_DREG)) {
    return false;
  }

  Put(out, "base", baseName);
  Put(out, "offset", nftnl_expr_get_u32(expr, NFTNL_EXPR_PAYLOAD_OFFSET));
  Put(out, "len", nftnl_expr_get_u32(expr, NFTNL_EXPR_PAYLOAD_LEN));
  Put(out, "dreg", nftnl_expr_get_u32(expr, NFTNL_EXPR_PAYLOAD_DREG));
  return true;
}

}  // namespace

const ExprCodec kPayloadCodec = {"payload", Encode, Decode};

}  // namespace nftnapi

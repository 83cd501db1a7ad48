// The table of expression codecs, and the helpers they share.
#include <cstring>

#include "expr/expr.h"

namespace nftnapi {

namespace {

const ExprCodec* const kCodecs[] = {
    &kMetaCodec,      &kPayloadCodec, &kCmpCodec,     &kBitwiseCodec,
    &kLookupCodec,    &kImmediateCodec, &kCtCodec,    &kCounterCodec,
    &kMasqCodec,      &kNatCodec,     &kRejectCodec,
};

}  // namespace

const ExprCodec* FindCodec(const char* name) {
  for (const ExprCodec* codec : kCodecs) {
    if (strcmp(codec->name, name) == 0) {
      return codec;
    }
  }
  return nullptr;
}

bool SetReg(const Input& in, struct nftnl_expr* expr, uint16_t attr, bool verdict) {
  uint32_t reg = 0;
  if (!in.Reg(&reg, verdict)) {
    return false;
  }
  nftnl_expr_set_u32(expr, attr, reg);
  return true;
}

bool SetBytes(const Input& in, struct nftnl_expr* expr, uint16_t attr, size_t min,
              size_t max) {
  const uint8_t* bytes = nullptr;
  size_t len = 0;
  if (!in.Bytes(&bytes, &len, min, max)) {
    return false;
  }
  if (nftnl_expr_set(expr, attr, bytes, static_cast<uint32_t>(len)) < 0) {
    return in.Fail("nftnl_expr_set refused it");
  }
  return true;
}

Napi::Uint8Array GetBytes(Napi::Env env, const struct nftnl_expr* expr, uint16_t attr) {
  uint32_t len = 0;
  auto* bytes = static_cast<const uint8_t*>(nftnl_expr_get(expr, attr, &len));
  Napi::Uint8Array out = Napi::Uint8Array::New(env, bytes != nullptr ? len : 0);
  if (bytes != nullptr) {
    memcpy(out.Data(), bytes, len);
  }
  return out;
}

}  // namespace nftnapi

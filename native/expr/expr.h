// Expressions: one codec per libnftnl expression name, each in its own file.
//
// A codec encodes the JS object of one Expr variant (src/nft/types.ts) into an
// nftnl_expr, and decodes an nftnl_expr read from the kernel back into the same
// object. Decoding returns false when the kernel's expression uses something the Expr
// union cannot say (a meta key it does not name, a ct direction); readback then reports it as unknown.
#pragma once

// libnftnl's headers use FILE without including stdio.h.
#include <cstdio>

#include <libnftnl/expr.h>
#include <napi.h>

#include <cstdint>

#include "input.h"
#include "keys.h"

namespace nftnapi {

// How one expression type is encoded and decoded.
struct ExprCodec {
  // The libnftnl (and kernel) expression name, which is also Expr's `type`.
  const char* name;
  bool (*encode)(const Input& in, struct nftnl_expr* expr);
  bool (*decode)(Napi::Env env, const struct nftnl_expr* expr, Napi::Object out);
};

// The codec for an expression name, or nullptr.
const ExprCodec* FindCodec(const char* name);

// Reads a register field and sets it with the typed setter.
bool SetReg(const Input& in, struct nftnl_expr* expr, uint16_t attr, bool verdict);

// Reads a Uint8Array of min to max bytes and sets it as attr. The length check is what
// keeps libnftnl's copy into its 16-byte (or 64-byte) register image in bounds.
bool SetBytes(const Input& in, struct nftnl_expr* expr, uint16_t attr, size_t min,
              size_t max);

// The bytes of attr as a Uint8Array.
Napi::Uint8Array GetBytes(Napi::Env env, const struct nftnl_expr* expr, uint16_t attr);

// NFT_REG_SIZE (nf_tables.h): cmp, bitwise and immediate data fit one 16-byte register.
constexpr size_t kRegSize = 16;

extern const ExprCodec kMetaCodec;
extern const ExprCodec kPayloadCodec;
extern const ExprCodec kCmpCodec;
extern const ExprCodec kBitwiseCodec;
extern const ExprCodec kLookupCodec;
extern const ExprCodec kImmediateCodec;
extern const ExprCodec kCtCodec;
extern const ExprCodec kCounterCodec;
extern const ExprCodec kMasqCodec;
extern const ExprCodec kNatCodec;
extern const ExprCodec kRejectCodec;

}  // namespace nftnapi

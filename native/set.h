// Sets and maps: add and delete ops, and reading a set's spec back.
#pragma once

#include <libnftnl/set.h>
#include <napi.h>

#include "batch.h"

namespace nftnapi {

// Encodes { kind: 'set' } ops as NFT_MSG_NEWSET / NFT_MSG_DELSET.
bool EncodeSetOp(const OpContext& ctx);

// The SetSpec of src/nft/types.ts for a set read from the kernel.
Napi::Object DecodeSetSpec(Napi::Env env, const struct nftnl_set* set);

// NFT_DATA_VALUE_MAXLEN (nf_tables.h): the longest key or map value, in bytes.
constexpr size_t kDataMax = 64;

}  // namespace nftnapi

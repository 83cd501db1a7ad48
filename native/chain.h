// Chains: add (base or regular), flush and delete ops, and reading one back.
#pragma once

#include <libnftnl/chain.h>
#include <napi.h>

#include "batch.h"

namespace nftnapi {

// Encodes { kind: 'chain' } ops: NFT_MSG_NEWCHAIN, DELRULE (flush) or DELCHAIN.
bool EncodeChainOp(const OpContext& ctx);

// The ChainState of src/nft/types.ts without its rules, which readback adds.
Napi::Object DecodeChain(Napi::Env env, const struct nftnl_chain* chain);

}  // namespace nftnapi

// Set elements: add and delete ops, and reading one back.
#pragma once

#include <libnftnl/set.h>
#include <napi.h>

#include "batch.h"

namespace nftnapi {

// Encodes { kind: 'elements' } ops as one or more NEWSETELEM / DELSETELEM messages.
bool EncodeElementsOp(const OpContext& ctx);

// The Element of src/nft/types.ts for an element read from the kernel, flagged
// `unknown` when it holds a verdict the Verdict union cannot say (NFT_BREAK, NF_QUEUE).
Napi::Object DecodeElement(Napi::Env env, struct nftnl_set_elem* elem);

}  // namespace nftnapi

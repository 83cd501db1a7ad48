// Set elements: add and delete ops, and reading one back.
#pragma once

#include <libnftnl/set.h>
#include <napi.h>

#include "batch.h"

namespace nftnapi {

// Encodes { kind: 'elements' } ops as one or more NEWSETELEM / DELSETELEM messages.
bool EncodeElementsOp(const OpContext& ctx);

// How many bytes DecodeElement copies out of elem (key, key end, data).
size_t ElementBytes(struct nftnl_set_elem* elem);

// The Element of src/nft/types.ts for an element read from the kernel, flagged
// `unknown` when it holds a verdict the Verdict union cannot say (NFT_BREAK, NF_QUEUE).
// Its bytes are views into `arena` from *used on, which it advances: one ArrayBuffer for
// a whole set costs far less to make and to collect than one for every element.
Napi::Object DecodeElement(Napi::Env env, struct nftnl_set_elem* elem, Napi::ArrayBuffer arena,
                           size_t* used);

}  // namespace nftnapi

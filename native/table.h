// Tables: add and delete ops, and reading one back.
#pragma once

#include <libnftnl/table.h>
#include <napi.h>

#include "batch.h"

namespace nftnapi {

// Encodes { op: 'add' | 'delete', kind: 'table' } as NFT_MSG_NEWTABLE / DELTABLE.
bool EncodeTableOp(const OpContext& ctx);

// The TableFlags object of src/nft/types.ts for a table read from the kernel.
Napi::Object DecodeTableFlags(Napi::Env env, const struct nftnl_table* table);

}  // namespace nftnapi

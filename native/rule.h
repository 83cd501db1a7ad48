// Rules: the append op, and reading a rule's expressions back.
#pragma once

#include <libnftnl/rule.h>
#include <napi.h>

#include "batch.h"

namespace nftnapi {

// Encodes { op: 'add', kind: 'rule' } as NFT_MSG_NEWRULE appended to its chain.
bool EncodeRuleOp(const OpContext& ctx);

// { handle, exprs } for a rule read from the kernel. An expression without a codec,
// or one its codec cannot express as an Expr, reads as { type, unknown: true }.
Napi::Object DecodeRule(Napi::Env env, const struct nftnl_rule* rule);

}  // namespace nftnapi

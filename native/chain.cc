// Chain ops. A base chain is a regular chain plus a hook, a priority, a type and a
// policy (NFTA_CHAIN_HOOK, NFTA_CHAIN_TYPE, NFTA_CHAIN_POLICY in nf_tables.h).
#include "chain.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "keys.h"
#include "owned.h"

namespace nftnapi {

namespace {

// Two names of at most 255 bytes, a hook nest and a few u32 attributes.
constexpr size_t kChainBound = 2048;

// enum nf_inet_hooks (linux/netfilter.h).
const Named kHooks[] = {
    {"prerouting", NF_INET_PRE_ROUTING}, {"input", NF_INET_LOCAL_IN},
    {"forward", NF_INET_FORWARD},        {"output", NF_INET_LOCAL_OUT},
    {"postrouting", NF_INET_POST_ROUTING},
};

// The verdicts a base chain's policy may take (NFTA_CHAIN_POLICY).
const Named kPolicies[] = {{"accept", NF_ACCEPT}, {"drop", NF_DROP}};

// The chain types nf_tables registers (nft_chain_filter.c, nft_chain_nat.c,
// nft_chain_route.c); the kernel takes the type by name.
const char* const kTypes[] = {"filter", "nat", "route"};

// Reads BaseChain into the chain's hook attributes.
bool ReadBase(const Input& in, struct nftnl_chain* chain) {
  const Named types[] = {{kTypes[0], 0}, {kTypes[1], 1}, {kTypes[2], 2}};
  uint32_t type = 0;
  uint32_t hook = 0;
  int32_t priority = 0;
  uint32_t policy = 0;
  if (!in.Object() || !in.Get("type").Choice(types, Count(types), &type) ||
      !in.Get("hook").Choice(kHooks, Count(kHooks), &hook) ||
      !in.Get("priority").I32(&priority) ||
      !in.Get("policy").Choice(kPolicies, Count(kPolicies), &policy)) {
    return false;
  }

  nftnl_chain_set_u32(chain, NFTNL_CHAIN_HOOKNUM, hook);
  nftnl_chain_set_s32(chain, NFTNL_CHAIN_PRIO, priority);
  nftnl_chain_set_u32(chain, NFTNL_CHAIN_POLICY, policy);
  return nftnl_chain_set_str(chain, NFTNL_CHAIN_TYPE, kTypes[type]) == 0 ||
         in.Fail("out of memory");
}

// Flushing a chain is deleting its rules: NFT_MSG_DELRULE with no handle.
bool EncodeFlush(const OpContext& ctx, const std::string& table, const std::string& name) {
  Owned<struct nftnl_rule> rule(nftnl_rule_alloc());
  if (!rule || nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table.c_str()) < 0 ||
      nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, name.c_str()) < 0) {
    *ctx.error = Sys("nftnl_rule_alloc", ENOMEM);
    return false;
  }

  struct nlmsghdr* nlh = ctx.batch->Put(NFT_MSG_DELRULE, ctx.family, 0, kChainBound);
  nftnl_rule_nlmsg_build_payload(nlh, rule.get());
  return ctx.batch->Finish(nlh, ctx.index, ctx.error);
}

}  // namespace

bool EncodeChainOp(const OpContext& ctx) {
  std::string table;
  std::string name;
  if (!ctx.op.Get("table").Name(&table) || !ctx.op.Get("name").Name(&name)) {
    return false;
  }
  if (ctx.verb == Verb::kFlush) {
    return EncodeFlush(ctx, table, name);
  }

  Owned<struct nftnl_chain> chain(nftnl_chain_alloc());
  if (!chain || nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, table.c_str()) < 0 ||
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, name.c_str()) < 0) {
    *ctx.error = Sys("nftnl_chain_alloc", ENOMEM);
    return false;
  }
  nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_FAMILY, ctx.family);

  uint16_t type = NFT_MSG_DELCHAIN;
  uint16_t nlflags = 0;
  if (ctx.verb == Verb::kAdd) {
    if (ctx.op.Has("base") && !ReadBase(ctx.op.Get("base"), chain.get())) {
      return false;
    }
    type = NFT_MSG_NEWCHAIN;
    nlflags = NLM_F_CREATE;
  }

  struct nlmsghdr* nlh = ctx.batch->Put(type, ctx.family, nlflags, kChainBound);
  nftnl_chain_nlmsg_build_payload(nlh, chain.get());
  return ctx.batch->Finish(nlh, ctx.index, ctx.error);
}

Napi::Object DecodeChain(Napi::Env env, const struct nftnl_chain* chain) {
  Napi::Object out = Napi::Object::New(env);
  Put(out, "name", nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME));
  if (!nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM)) {
    return out;
  }

  // A hook the daemon never uses (ingress, egress) reads back as a number.
  Napi::Object base = Napi::Object::New(env);
  uint32_t hook = nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM);
  const char* hookName = NameOf(kHooks, Count(kHooks), hook);
  const char* type = nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE);
  uint32_t policy = nftnl_chain_is_set(chain, NFTNL_CHAIN_POLICY)
                        ? nftnl_chain_get_u32(chain, NFTNL_CHAIN_POLICY)
                        : NF_ACCEPT;
  const char* policyName = NameOf(kPolicies, Count(kPolicies), policy);

  Put(base, "type", type != nullptr ? type : "");
  Put(base, "hook", hookName != nullptr ? Napi::Value(Napi::String::New(env, hookName))
                                       : Napi::Value(Napi::Number::New(env, hook)));
  Put(base, "priority", nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO));
  Put(base, "policy", policyName != nullptr ? policyName : "accept");
  Put(out, "base", base);
  return out;
}

}  // namespace nftnapi

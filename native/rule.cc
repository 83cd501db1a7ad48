// Rule ops: a rule is a list of expressions, each encoded by its codec (expr/).
#include "rule.h"

#include <linux/netfilter/nf_tables.h>

#include "expr/expr.h"
#include "keys.h"
#include "owned.h"

namespace nftnapi {

namespace {

// Expressions one rule may hold; real rules have a dozen at most.
constexpr uint32_t kMaxExprs = 128;
// The bound of one encoded expression: name, a few u32 attributes, and either two
// 16-byte values or a set or chain name of at most 255 bytes.
constexpr size_t kExprBound = 512;
// Table and chain names and the expressions nest.
constexpr size_t kRuleBase = 1024;

// Reads one Expr and appends its nftnl_expr to rule (which then owns it).
bool AppendExpr(const Input& in, struct nftnl_rule* rule, SysError* error) {
  std::string type;
  if (!in.Object() || !in.Get("type").String(&type, 32)) {
    return false;
  }
  const ExprCodec* codec = FindCodec(type.c_str());
  if (codec == nullptr) {
    return in.Get("type").Fail("unknown expression '" + type + "'");
  }

  Owned<struct nftnl_expr> expr(nftnl_expr_alloc(codec->name));
  if (!expr) {
    *error = Sys(std::string("nftnl_expr_alloc(") + codec->name + ")", ENOMEM);
    return false;
  }
  if (!codec->encode(in, expr.get())) {
    return false;
  }
  nftnl_rule_add_expr(rule, expr.release());
  return true;
}

}  // namespace

bool EncodeRuleOp(const OpContext& ctx) {
  std::string table;
  std::string chain;
  uint32_t count = 0;
  Input exprs = ctx.op.Get("exprs");
  if (ctx.verb != Verb::kAdd) {
    return ctx.op.Get("op").Fail("rules are only added; flush the chain to remove them");
  }
  if (!ctx.op.Get("table").Name(&table) || !ctx.op.Get("chain").Name(&chain) ||
      !exprs.Array(&count, kMaxExprs)) {
    return false;
  }

  Owned<struct nftnl_rule> rule(nftnl_rule_alloc());
  if (!rule || nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table.c_str()) < 0 ||
      nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, chain.c_str()) < 0) {
    *ctx.error = Sys("nftnl_rule_alloc", ENOMEM);
    return false;
  }
  nftnl_rule_set_u32(rule.get(), NFTNL_RULE_FAMILY, ctx.family);
  for (uint32_t i = 0; i < count; i++) {
    if (!AppendExpr(exprs.At(i), rule.get(), ctx.error)) {
      return false;
    }
  }

  // NLM_F_APPEND: after the chain's last rule (nf_tables_newrule).
  size_t bound = kRuleBase + kExprBound * count;
  struct nlmsghdr* nlh =
      ctx.batch->Put(NFT_MSG_NEWRULE, ctx.family, NLM_F_CREATE | NLM_F_APPEND, bound);
  nftnl_rule_nlmsg_build_payload(nlh, rule.get());
  return ctx.batch->Finish(nlh, ctx.index, ctx.error);
}

Napi::Object DecodeRule(Napi::Env env, const struct nftnl_rule* rule) {
  Napi::Array exprs = Napi::Array::New(env);
  struct nftnl_expr_iter* iter = nftnl_expr_iter_create(rule);
  uint32_t i = 0;
  for (struct nftnl_expr* e = iter ? nftnl_expr_iter_next(iter) : nullptr; e != nullptr;
       e = nftnl_expr_iter_next(iter)) {
    const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    const ExprCodec* codec = FindCodec(name);

    Napi::Object out = Napi::Object::New(env);
    Put(out, "type", name);
    if (codec == nullptr || !codec->decode(env, e, out)) {
      out = Napi::Object::New(env);
      Put(out, "type", name);
      Put(out, "unknown", true);
    }
    exprs.Set(i++, out);
  }
  if (iter != nullptr) {
    nftnl_expr_iter_destroy(iter);
  }

  Napi::Object out = Napi::Object::New(env);
  Put(out, "handle", static_cast<double>(nftnl_rule_get_u64(rule, NFTNL_RULE_HANDLE)));
  Put(out, "exprs", exprs);
  return out;
}

}  // namespace nftnapi

// unique_ptr for libnftnl objects, so every early return frees what it allocated.
#pragma once

// libnftnl's headers use FILE without including stdio.h.
#include <cstdio>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include <memory>

namespace nftnapi {

// Frees any libnftnl object with its own free function.
struct NftnlFree {
  void operator()(struct nftnl_table* p) const { nftnl_table_free(p); }
  void operator()(struct nftnl_chain* p) const { nftnl_chain_free(p); }
  void operator()(struct nftnl_rule* p) const { nftnl_rule_free(p); }
  void operator()(struct nftnl_set* p) const { nftnl_set_free(p); }
  void operator()(struct nftnl_set_elem* p) const { nftnl_set_elem_free(p); }
  void operator()(struct nftnl_expr* p) const { nftnl_expr_free(p); }
};

// An owned libnftnl object.
template <typename T>
using Owned = std::unique_ptr<T, NftnlFree>;

}  // namespace nftnapi

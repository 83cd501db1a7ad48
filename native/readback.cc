// Dumps run on the libuv pool and parse into libnftnl objects there, where each set's
// elements are also packed into bytes (packed_elements.h); chains and sets become JS
// values on the main thread, and rules only as the caller asks for them. Every dump
// message carries the ruleset generation in nfgenmsg.res_id (nfnl_fill_hdr in
// nf_tables_api.c); if it changes between the dumps, a commit slipped in and the whole
// read is repeated, so the state is one generation.
#include "readback.h"

#include <libnftnl/common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <unordered_map>
#include <vector>

#include "chain.h"
#include "input.h"
#include "keys.h"
#include "owned.h"
#include "packed_elements.h"
#include "pool_delete.h"
#include "rule.h"
#include "set.h"
#include "table.h"

namespace nftnapi {

namespace {

// Reads racing commits this many times before giving up with EAGAIN.
constexpr int kAttempts = 5;

// One table's objects as the kernel holds them.
struct Dump {
  Owned<struct nftnl_table> table;
  std::vector<Owned<struct nftnl_set>> sets;
  std::vector<Owned<struct nftnl_chain>> chains;
  std::vector<Owned<struct nftnl_rule>> rules;
  bool raced = false;
  bool seenGen = false;
  uint16_t gen = 0;
};

// Notes the generation of one reply; a change means the dumps raced a commit.
void NoteGeneration(const struct nlmsghdr* nlh, Dump* dump) {
  auto* nfg = static_cast<const struct nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  if (dump->seenGen && nfg->res_id != dump->gen) {
    dump->raced = true;
  }
  dump->seenGen = true;
  dump->gen = nfg->res_id;
}

// Builds a GET request for one table's objects into buf.
struct nlmsghdr* Request(std::vector<char>* buf, Netlink* nl, uint16_t type,
                         uint16_t family, bool dump) {
  buf->assign(MNL_SOCKET_BUFFER_SIZE, 0);
  uint16_t flags = dump ? NLM_F_DUMP : NLM_F_ACK;
  return nftnl_nlmsg_build_hdr(buf->data(), type, family, flags, nl->nextQuerySeq());
}

// Runs one request and parses every reply with parse; a parse failure is EBADMSG.
template <typename Parse>
bool Run(Netlink* nl, const char* op, struct nlmsghdr* req, Dump* dump, Parse parse,
         SysError* error) {
  bool ok = nl->Query(
      op, req,
      [&](const struct nlmsghdr* nlh) {
        NoteGeneration(nlh, dump);
        if (!parse(nlh)) {
          *error = Sys(std::string(op) + " reply", EBADMSG, "libnftnl could not parse it");
          return false;
        }
        return true;
      },
      &dump->raced, error);
  return ok && !error->failed();
}

// Parses a reply into a new object of T and keeps it when it belongs to the table.
template <typename T, typename Alloc, typename ParseFn, typename TableOf>
bool Keep(const struct nlmsghdr* nlh, std::vector<Owned<T>>* into, Alloc alloc,
          ParseFn parseFn, TableOf tableOf, const std::string& table) {
  Owned<T> obj(alloc());
  if (!obj || parseFn(nlh, obj.get()) < 0) {
    return false;
  }
  const char* name = tableOf(obj.get());
  if (name != nullptr && table == name) {
    into->push_back(std::move(obj));
  }
  return true;
}

// All dumps of one read; false with error set, or with error.err ENOENT when absent.
bool DumpTable(Netlink* nl, uint16_t family, const std::string& table, Dump* dump,
               SysError* error) {
  std::vector<char> buf;
  struct nlmsghdr* req = Request(&buf, nl, NFT_MSG_GETTABLE, family, false);
  mnl_attr_put_strz(req, NFTA_TABLE_NAME, table.c_str());
  dump->table.reset(nftnl_table_alloc());
  if (!dump->table || !Run(nl, "NFT_MSG_GETTABLE", req, dump,
                           [&](const struct nlmsghdr* nlh) {
                             return nftnl_table_nlmsg_parse(nlh, dump->table.get()) == 0;
                           },
                           error)) {
    return false;
  }

  req = Request(&buf, nl, NFT_MSG_GETSET, family, true);
  mnl_attr_put_strz(req, NFTA_SET_TABLE, table.c_str());
  if (!Run(nl, "NFT_MSG_GETSET", req, dump,
           [&](const struct nlmsghdr* nlh) {
             return Keep(nlh, &dump->sets, nftnl_set_alloc, nftnl_set_nlmsg_parse,
                         [](struct nftnl_set* s) { return nftnl_set_get_str(s, NFTNL_SET_TABLE); },
                         table);
           },
           error)) {
    return false;
  }

  for (auto& set : dump->sets) {
    req = Request(&buf, nl, NFT_MSG_GETSETELEM, family, true);
    mnl_attr_put_strz(req, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
    mnl_attr_put_strz(req, NFTA_SET_ELEM_LIST_SET, nftnl_set_get_str(set.get(), NFTNL_SET_NAME));
    if (!Run(nl, "NFT_MSG_GETSETELEM", req, dump,
             [&](const struct nlmsghdr* nlh) {
               return nftnl_set_elems_nlmsg_parse(nlh, set.get()) == 0;
             },
             error)) {
      return false;
    }
  }

  // The kernel dumps chains of every table in the family; Keep filters by table.
  req = Request(&buf, nl, NFT_MSG_GETCHAIN, family, true);
  if (!Run(nl, "NFT_MSG_GETCHAIN", req, dump,
           [&](const struct nlmsghdr* nlh) {
             return Keep(nlh, &dump->chains, nftnl_chain_alloc, nftnl_chain_nlmsg_parse,
                         [](struct nftnl_chain* c) {
                           return nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
                         },
                         table);
           },
           error)) {
    return false;
  }

  req = Request(&buf, nl, NFT_MSG_GETRULE, family, true);
  mnl_attr_put_strz(req, NFTA_RULE_TABLE, table.c_str());
  return Run(nl, "NFT_MSG_GETRULE", req, dump,
             [&](const struct nlmsghdr* nlh) {
               return Keep(nlh, &dump->rules, nftnl_rule_alloc, nftnl_rule_nlmsg_parse,
                           [](struct nftnl_rule* r) {
                             return nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
                           },
                           table);
             },
             error);
}

// One table's rules, grouped by chain in the dump's chain order, kernel order within each.
using RuleList = std::vector<Owned<struct nftnl_rule>>;

// A RuleList that is freed on the pool when the JS function reading it is collected.
class HeldRules {
 public:
  HeldRules(napi_env env, std::unique_ptr<RuleList> list) : env_(env), list_(std::move(list)) {}
  ~HeldRules() { DeleteOnPool(env_, std::move(list_)); }
  HeldRules(const HeldRules&) = delete;
  HeldRules& operator=(const HeldRules&) = delete;
  const RuleList& list() const { return *list_; }

 private:
  napi_env env_;
  std::unique_ptr<RuleList> list_;
};

// rules(from, to): the Rules from..to-1 of `held` as JS objects. The read-back's caller
// asks for a slice at a time, so that no call holds the event loop for all of them.
Napi::Function RuleReader(Napi::Env env, std::shared_ptr<const HeldRules> held) {
  auto read = [held](const Napi::CallbackInfo& info) -> Napi::Value {
    const RuleList* rules = &held->list();
    Napi::Env env = info.Env();
    Problem problem;
    uint32_t from = 0;
    uint32_t to = 0;
    auto count = static_cast<uint32_t>(rules->size());
    Input toIn(info[1], "to", &problem);
    if (!Input(info[0], "from", &problem).U32(&from, count) || !toIn.U32(&to, count) ||
        (to < from && !toIn.Fail("comes before from"))) {
      ThrowProblem(env, problem);
      return env.Undefined();
    }

    KeyScope keys;
    Napi::Array out = Napi::Array::New(env, to - from);
    for (uint32_t i = from; i < to; i++) {
      out.Set(i - from, DecodeRule(env, (*rules)[i].get()));
    }
    return out;
  };
  return Napi::Function::New(env, read, "rules");
}

}  // namespace

namespace {

// Runs the dumps on the libuv pool and builds the TableState on the main thread.
class ListWorker : public Napi::AsyncWorker {
 public:
  ListWorker(Napi::Env env, std::shared_ptr<Netlink> nl, uint16_t family,
             std::string familyName, std::string table)
      : Napi::AsyncWorker(env, "nftables-napi:listTable"),
        deferred_(Napi::Promise::Deferred::New(env)),
        nl_(std::move(nl)),
        family_(family),
        familyName_(std::move(familyName)),
        table_(std::move(table)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    if (Read()) {
      Prepare();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_.failed() && error_.err == ENOENT && error_.op == "NFT_MSG_GETTABLE") {
      deferred_.Resolve(env.Null());
    } else if (error_.failed()) {
      deferred_.Reject(MakeError(env, error_).Value());
    } else {
      deferred_.Resolve(Build(env));
    }
  }

 private:
  // Dumps until one read saw a single generation; false with error_ set.
  bool Read() {
    std::lock_guard<std::mutex> lock(nl_->queryLock());
    for (int attempt = 0; attempt < kAttempts; attempt++) {
      dump_ = Dump();
      error_ = SysError();
      bool ok = DumpTable(nl_.get(), family_, table_, &dump_, &error_);

      // A table found by NFT_MSG_GETTABLE and gone by a later dump was deleted by a
      // commit in between: read again, and the next attempt reports it absent.
      bool vanished = !ok && error_.err == ENOENT && error_.op != "NFT_MSG_GETTABLE";
      if (!vanished && (!ok || !dump_.raced)) {
        return ok;
      }
    }
    error_ = Sys("listTable", EAGAIN, "the table kept changing while it was read");
    return false;
  }

  // Still on the pool: packs each set's elements and groups the rules by chain, so that
  // the main thread makes one ArrayBuffer per set and decodes rules only when asked.
  void Prepare() {
    elements_.resize(dump_.sets.size());
    elementCounts_.resize(dump_.sets.size());
    for (size_t i = 0; i < dump_.sets.size(); i++) {
      if (!PackElements(dump_.sets[i].get(), &elements_[i], &elementCounts_[i], &error_)) {
        return;
      }
    }

    std::unordered_map<std::string, size_t> chainIndex;
    for (size_t i = 0; i < dump_.chains.size(); i++) {
      const char* name = nftnl_chain_get_str(dump_.chains[i].get(), NFTNL_CHAIN_NAME);
      chainIndex.emplace(name != nullptr ? name : "", i);
    }
    std::vector<RuleList> byChain(dump_.chains.size());
    for (auto& rule : dump_.rules) {
      const char* chain = nftnl_rule_get_str(rule.get(), NFTNL_RULE_CHAIN);
      auto it = chainIndex.find(chain != nullptr ? chain : "");
      if (it != chainIndex.end()) {
        byChain[it->second].push_back(std::move(rule));
      }
    }
    auto rules = std::make_unique<RuleList>();
    for (RuleList& list : byChain) {
      ruleCounts_.push_back(static_cast<uint32_t>(list.size()));
      for (auto& rule : list) {
        rules->push_back(std::move(rule));
      }
    }
    rules_ = std::move(rules);
  }

  // The table read back: chains in kernel order with how many rules each holds, the
  // rules behind rules(from, to), and each set with its elements packed.
  Napi::Object Build(Napi::Env env) {
    KeyScope keys;
    Napi::Object out = Napi::Object::New(env);
    out.Set("family", familyName_);
    out.Set("name", table_);
    out.Set("flags", DecodeTableFlags(env, dump_.table.get()));

    Napi::Array chains = Napi::Array::New(env, dump_.chains.size());
    for (size_t i = 0; i < dump_.chains.size(); i++) {
      Napi::Object chain = DecodeChain(env, dump_.chains[i].get());
      Put(chain, "ruleCount", ruleCounts_[i]);
      chains.Set(i, chain);
    }
    out.Set("chains", chains);
    out.Set("rules", RuleReader(env, std::make_shared<HeldRules>(env, std::move(rules_))));

    Napi::Array sets = Napi::Array::New(env, dump_.sets.size());
    for (size_t i = 0; i < dump_.sets.size(); i++) {
      Napi::Object set = Napi::Object::New(env);
      Put(set, "spec", DecodeSetSpec(env, dump_.sets[i].get()));
      Put(set, "count", elementCounts_[i]);
      Put(set, "elements", Packed(env, &elements_[i]));
      sets.Set(i, set);
    }
    out.Set("sets", sets);

    // What is left of the dump, elements above all, is freed off the main thread.
    DeleteOnPool(env, std::make_unique<Dump>(std::move(dump_)));
    return out;
  }

  // An ArrayBuffer over *bytes, whose storage it takes over (no copy, freed with it).
  static Napi::ArrayBuffer Packed(Napi::Env env, std::vector<uint8_t>* bytes) {
    if (bytes->empty()) {
      return Napi::ArrayBuffer::New(env, 0);
    }
    auto* owned = new std::vector<uint8_t>(std::move(*bytes));
    return Napi::ArrayBuffer::New(
        env, owned->data(), owned->size(),
        [](Napi::Env, void*, std::vector<uint8_t>* hint) { delete hint; }, owned);
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Netlink> nl_;
  uint16_t family_;
  std::string familyName_;
  std::string table_;
  Dump dump_;
  std::vector<std::vector<uint8_t>> elements_;
  std::vector<uint32_t> elementCounts_;
  std::unique_ptr<RuleList> rules_;
  std::vector<uint32_t> ruleCounts_;
  SysError error_;
};

}  // namespace

Napi::Value StartListTable(Napi::Env env, std::shared_ptr<Netlink> nl, uint16_t family,
                           std::string familyName, std::string table) {
  auto* worker =
      new ListWorker(env, std::move(nl), family, std::move(familyName), std::move(table));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace nftnapi

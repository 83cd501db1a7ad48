// NftSocket methods: check arguments, encode on the main thread, hand I/O to a worker.
#include "nft_socket.h"

#include "batch.h"
#include "commit.h"
#include "conntrack.h"
#include "readback.h"

namespace nftnapi {

Napi::Function NftSocket::Define(Napi::Env env) {
  return DefineClass(env, "NftSocket",
                     {
                         InstanceMethod<&NftSocket::Commit>("commit"),
                         InstanceMethod<&NftSocket::ListTable>("listTable"),
                         InstanceMethod<&NftSocket::CtList>("ctList"),
                         InstanceMethod<&NftSocket::CtDelete>("ctDelete"),
                         InstanceMethod<&NftSocket::Close>("close"),
                         InstanceMethod<&NftSocket::PortId>("portId"),
                     });
}

NftSocket::NftSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NftSocket>(info) {
  Napi::Env env = info.Env();
  Problem problem;
  std::string netns;
  Input arg(info[0], "netns", &problem);
  if (!info[0].IsUndefined() && !arg.String(&netns, 4096)) {
    ThrowProblem(env, problem);
    return;
  }

  SysError error;
  nl_ = Netlink::Open(netns, &error);
  if (!nl_) {
    ThrowError(env, error);
  }
}

std::shared_ptr<Netlink> NftSocket::Sockets(Napi::Env env, const char* method) {
  if (!nl_) {
    ThrowError(env, Sys(std::string("NftSocket.") + method, EBADF, "the socket is closed"));
  }
  return nl_;
}

Napi::Value NftSocket::Commit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Netlink> nl = Sockets(env, "commit");
  if (!nl) {
    return env.Undefined();
  }

  Problem problem;
  SysError error;
  auto batch = std::make_unique<Batch>(nl->commitSeq());
  if (!EncodeOps(Input(info[0], "ops", &problem), batch.get(), &error)) {
    problem.found ? ThrowProblem(env, problem) : ThrowError(env, error);
    return env.Undefined();
  }
  nl->advanceCommitSeq(batch->seqCount());
  return StartCommit(env, nl, std::move(batch));
}

Napi::Value NftSocket::ListTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Netlink> nl = Sockets(env, "listTable");
  if (!nl) {
    return env.Undefined();
  }

  Problem problem;
  uint32_t family = 0;
  std::string familyName;
  std::string name;
  Input familyIn(info[0], "family", &problem);
  if (!familyIn.Choice(kFamilies, kFamilyCount, &family) || !familyIn.String(&familyName, 16) ||
      !Input(info[1], "name", &problem).Name(&name)) {
    ThrowProblem(env, problem);
    return env.Undefined();
  }
  return StartListTable(env, nl, static_cast<uint16_t>(family), familyName, name);
}

Napi::Value NftSocket::CtList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Netlink> nl = Sockets(env, "ctList");
  return nl ? StartCtList(env, nl) : env.Undefined();
}

Napi::Value NftSocket::CtDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Netlink> nl = Sockets(env, "ctDelete");
  if (!nl) {
    return env.Undefined();
  }

  Problem problem;
  Napi::Value promise = StartCtDelete(env, nl, Input(info[0], "tuples", &problem));
  if (promise.IsEmpty()) {
    ThrowProblem(env, problem);
    return env.Undefined();
  }
  return promise;
}

Napi::Value NftSocket::Close(const Napi::CallbackInfo& info) {
  // The sockets close when the last running worker lets go of them; a table owned by
  // the commit socket (NFT_TABLE_F_OWNER) goes with it unless it is persistent.
  nl_.reset();
  return info.Env().Undefined();
}

Napi::Value NftSocket::PortId(const Napi::CallbackInfo& info) {
  // The commit socket's netlink port: nf_tables notifications of this socket's
  // commits carry it as nlmsg_pid, which tells the daemon's changes from others'.
  std::shared_ptr<Netlink> nl = Sockets(info.Env(), "portId");
  if (!nl) {
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), mnl_socket_get_portid(nl->commit()));
}

}  // namespace nftnapi

// nftables-napi: typed nf_tables transactions, readback and conntrack over netlink.
#include <napi.h>

#include "ct_monitor.h"
#include "monitor.h"
#include "nft_socket.h"
#include "notify.h"
#include "route.h"
#include "sockopt.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NftSocket", nftnapi::NftSocket::Define(env));
  exports.Set("NftMonitor", nftnapi::NftMonitor::Define(env));
  exports.Set("CtMonitor", nftnapi::CtMonitor::Define(env));
  exports.Set("sdNotify", Napi::Function::New(env, nftnapi::SdNotify, "sdNotify"));
  exports.Set("RouteSocket", nftnapi::RouteSocket::Define(env));
  exports.Set("originalDst", Napi::Function::New(env, nftnapi::OriginalDst, "originalDst"));
  return exports;
}

}  // namespace

NODE_API_MODULE(nftables_napi, Init)

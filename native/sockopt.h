// Socket options node cannot read itself: the original destination of a connection that
// netfilter redirected (SO_ORIGINAL_DST, linux/netfilter_ipv4.h), for the proxy relay.
#pragma once

#include <napi.h>

namespace nftnapi {

// originalDst(fd: number): { address: Uint8Array(4), port: number } for an accepted IPv4
// TCP socket; a failing getsockopt throws an errno-carrying Error (ENOENT: no conntrack
// entry, so the connection was never seen by netfilter).
Napi::Value OriginalDst(const Napi::CallbackInfo& info);

}  // namespace nftnapi

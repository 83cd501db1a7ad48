// Conntrack over ctnetlink: listing IPv4 entries and deleting them by original tuple.
//
// Messages are built by hand with libmnl (linux/netfilter/nfnetlink_conntrack.h); the
// tuples cross to JavaScript with addresses as 4 raw bytes in network order, which the
// TypeScript wrapper turns into dotted quads, so nothing here parses text.
#pragma once

#include <napi.h>

#include <memory>

#include "input.h"
#include "socket.h"

namespace nftnapi {

// Queues a dump of the IPv4 conntrack table; resolves to the tuples' array.
Napi::Value StartCtList(Napi::Env env, std::shared_ptr<Netlink> nl);

// Encodes one delete per tuple and queues them; resolves to how many were deleted.
// Returns an empty value after recording an input problem in tuples.problem().
Napi::Value StartCtDelete(Napi::Env env, std::shared_ptr<Netlink> nl, const Input& tuples);

}  // namespace nftnapi

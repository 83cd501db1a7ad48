// Sending rtnetlink requests and dumps on the libuv pool (see route.h).
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "route.h"
#include "route_msg.h"

namespace nftnapi {

// Sends the requests one at a time, stopping at the first refused; the promise resolves
// to { ok: true } or { ok: false, index, errno, message, detail? } (detail: the kernel's
// extended ack text, such as "Nexthop has invalid gateway").
Napi::Value StartRouteApply(Napi::Env env, std::shared_ptr<RouteLink> link,
                            std::vector<RouteRequest> requests);

// Dumps the IPv4 rules and routes; resolves to { rules, routes } (see src/route/types.ts).
Napi::Value StartRouteDump(Napi::Env env, std::shared_ptr<RouteLink> link);

}  // namespace nftnapi

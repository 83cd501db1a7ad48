// rtnetlink messages for IPv4 policy routing: FIB rules (linux/fib_rules.h) and routes
// (linux/rtnetlink.h), encoded from checked JS input and decoded from dumps.
//
// The addon decides nothing here: TypeScript picks tables, priorities and the protocol
// that marks the daemon's own rules and routes. Addresses cross as 4 raw bytes in
// network order, so nothing here parses text.
#pragma once

#include <libmnl/libmnl.h>

#include <cstdint>
#include <vector>

#include "input.h"

namespace nftnapi {

// One encoded request (without sequence number), and its name for error reports.
struct RouteRequest {
  std::vector<char> msg;
  const char* name = "";
};

// A FIB rule as read back: `from src/srcLen [fwmark m/mask] lookup table`, at priority.
struct RuleState {
  uint32_t priority = 0;
  uint32_t src = 0;
  uint8_t srcLen = 0;
  bool hasFwmark = false;
  uint32_t fwmark = 0;
  uint32_t fwmask = 0;
  uint32_t table = 0;
  uint8_t protocol = 0;
  uint8_t action = 0;
};

// A route as read back: dst/dstLen in table, of type (RTN_*), via gateway if any.
struct RouteState {
  uint32_t table = 0;
  uint32_t dst = 0;
  uint8_t dstLen = 0;
  uint8_t type = 0;
  uint8_t protocol = 0;
  bool hasGateway = false;
  uint32_t gateway = 0;
};

// Reads one op ({ op: 'add'|'delete', kind: 'rule'|'route', ... }) into a request.
// Returns false after recording the problem in in.problem().
bool ReadRouteOp(const Input& in, RouteRequest* out);

// Starts a dump request of IPv4 rules (RTM_GETRULE) or routes (RTM_GETROUTE).
struct nlmsghdr* PutDumpRequest(char* buf, uint16_t type, uint32_t seq);

// Decodes one RTM_NEWRULE reply; false when it is not an IPv4 rule.
bool ParseRule(const struct nlmsghdr* nlh, RuleState* out);

// Decodes one RTM_NEWROUTE reply; false when it is not an IPv4 route.
bool ParseRoute(const struct nlmsghdr* nlh, RouteState* out);

// The JS name of a route type, or nullptr for one the daemon never makes.
const char* RouteTypeName(uint8_t type);

}  // namespace nftnapi

// One conntrack entry's tuple as ctnetlink reports it, in a dump (IPCTNL_MSG_CT_NEW
// replies) and in events (IPCTNL_MSG_CT_NEW and _DELETE in the NFNLGRP_CONNTRACK_*
// groups): the same attributes (linux/netfilter/nfnetlink_conntrack.h) either way.
#pragma once

#include <libmnl/libmnl.h>
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace nftnapi {

// One original-direction tuple, addresses and ports in network order.
struct Tuple {
  uint8_t proto = 0;
  uint32_t src = 0;
  uint32_t dst = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;
  // An ICMP entry's echo id (network order), type and code, in place of ports.
  uint16_t icmpId = 0;
  uint8_t icmpType = 0;
  uint8_t icmpCode = 0;
  // The reply tuple's destination: where src was translated to, if it was (dumps and events).
  uint32_t replyDst = 0;
  // TCP_CONNTRACK_* of a TCP entry, 0 (NONE) when not reported (dumps and events).
  uint8_t tcpState = 0;
};

// True for protocols whose conntrack tuple is addresses and ports (nf_conntrack_proto_*.c);
// ICMP tuples hold type, code and id instead (CtTuple.icmp).
bool HasPorts(uint32_t proto);

// Reads CTA_TUPLE_ORIG, the reply's destination and the TCP state of one conntrack
// message into t; false for a non-IPv4 entry.
bool ParseTuple(const struct nlmsghdr* nlh, Tuple* t);

// t as the object ctList resolves to: { proto, src, dst, sport, dport, replyDst,
// tcpState?, icmp? }, addresses as 4 bytes in network order.
Napi::Object TupleObject(Napi::Env env, const Tuple& t);

// The size of one packed record (PackTuple).
constexpr size_t kPackedTuple = 24;

// Writes t as a fixed record for a batch of events, fields in network order: kind (1
// byte), proto, icmpType, icmpCode, src (4), dst (4), replyDst (4), sport (2), dport (2),
// icmpId (2), 2 bytes of zero. src/nft/ct-monitor.ts reads it.
void PackTuple(uint8_t kind, const Tuple& t, uint8_t* out);

}  // namespace nftnapi

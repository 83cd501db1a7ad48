// Encoding FIB rules and routes for rtnetlink, and decoding them from dumps.
#include "route_msg.h"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

namespace nftnapi {

namespace {

// A rule or route message is under 100 bytes; this leaves room for every attribute.
constexpr size_t kRequestBound = 256;

// The op verbs: `add` is NLM_F_CREATE | NLM_F_EXCL, so an object someone else made is
// reported (EEXIST) rather than adopted, like the nftables side's `create`.
const Named kVerbs[] = {{"add", 1}, {"delete", 0}};
const Named kKinds[] = {{"rule", 0}, {"route", 1}};

// The route types the daemon programs (enum rtn_type in linux/rtnetlink.h): a next
// hop, and `throw`, which sends the lookup on to the next rule.
const Named kTypes[] = {{"unicast", RTN_UNICAST}, {"throw", RTN_THROW}};

// rtm_table and frh.table are 8 bits; a larger table number goes in its attribute only.
uint8_t ShortTable(uint32_t table) {
  return table < 256 ? static_cast<uint8_t>(table) : static_cast<uint8_t>(RT_TABLE_UNSPEC);
}

// An IPv4 prefix: 4 bytes and a length of 0 to 32.
bool ReadPrefix(const Input& in, const char* addr, const char* len, uint32_t* out,
                uint8_t* outLen) {
  std::vector<uint8_t> bytes;
  uint32_t bits = 0;
  if (!in.Get(addr).Bytes(&bytes, 4, 4) || !in.Get(len).U32(&bits, 32)) {
    return false;
  }
  memcpy(out, bytes.data(), 4);
  *outLen = static_cast<uint8_t>(bits);
  return true;
}

struct nlmsghdr* Header(RouteRequest* out, uint16_t type, bool add) {
  out->msg.assign(kRequestBound, 0);
  struct nlmsghdr* nlh = mnl_nlmsg_put_header(out->msg.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  return nlh;
}

// `from src/srcLen [fwmark M/MASK] lookup table priority P proto N` (FR_ACT_TO_TBL).
bool ReadRule(const Input& in, bool add, RouteRequest* out) {
  uint32_t priority = 0;
  uint32_t table = 0;
  uint32_t protocol = 0;
  uint32_t src = 0;
  uint8_t srcLen = 0;
  uint32_t fwmark = 0;
  uint32_t fwmask = UINT32_MAX;
  if (!in.Get("priority").U32(&priority, UINT32_MAX) ||
      !in.Get("table").U32(&table, UINT32_MAX) || !in.Get("protocol").U32(&protocol, 255) ||
      !ReadPrefix(in, "src", "srcLen", &src, &srcLen)) {
    return false;
  }
  const bool hasMark = in.Has("fwmark");
  if ((hasMark && !in.Get("fwmark").U32(&fwmark, UINT32_MAX)) ||
      (in.Has("fwmask") && !in.Get("fwmask").U32(&fwmask, UINT32_MAX))) {
    return false;
  }
  if (table == 0) {
    return in.Get("table").Fail("table 0 (RT_TABLE_UNSPEC) names no table");
  }

  struct nlmsghdr* nlh = Header(out, add ? RTM_NEWRULE : RTM_DELRULE, add);
  auto* frh = static_cast<struct fib_rule_hdr*>(
      mnl_nlmsg_put_extra_header(nlh, sizeof(struct fib_rule_hdr)));
  frh->family = AF_INET;
  frh->src_len = srcLen;
  frh->table = ShortTable(table);
  frh->action = FR_ACT_TO_TBL;
  mnl_attr_put_u32(nlh, FRA_PRIORITY, priority);
  mnl_attr_put_u32(nlh, FRA_TABLE, table);
  mnl_attr_put_u8(nlh, FRA_PROTOCOL, static_cast<uint8_t>(protocol));
  if (srcLen > 0) {
    mnl_attr_put_u32(nlh, FRA_SRC, src);
  }
  if (hasMark) {
    // Host byte order, like the skb mark nftables' `meta mark set` writes.
    mnl_attr_put_u32(nlh, FRA_FWMARK, fwmark);
    mnl_attr_put_u32(nlh, FRA_FWMASK, fwmask);
  }
  out->name = add ? "RTM_NEWRULE" : "RTM_DELRULE";
  return true;
}

// `TYPE dst/dstLen [via gateway] table T proto N`.
bool ReadRoute(const Input& in, bool add, RouteRequest* out) {
  uint32_t table = 0;
  uint32_t protocol = 0;
  uint32_t type = 0;
  uint32_t dst = 0;
  uint8_t dstLen = 0;
  std::vector<uint8_t> gateway;
  if (!in.Get("table").U32(&table, UINT32_MAX) || !in.Get("protocol").U32(&protocol, 255) ||
      !in.Get("type").Choice(kTypes, Count(kTypes), &type) ||
      !ReadPrefix(in, "dst", "dstLen", &dst, &dstLen)) {
    return false;
  }
  if (in.Has("gateway") && !in.Get("gateway").Bytes(&gateway, 4, 4)) {
    return false;
  }
  if (table == 0) {
    return in.Get("table").Fail("table 0 (RT_TABLE_UNSPEC) names no table");
  }
  if (type == RTN_THROW && !gateway.empty()) {
    return in.Get("gateway").Fail("a throw route has no next hop");
  }

  struct nlmsghdr* nlh = Header(out, add ? RTM_NEWROUTE : RTM_DELROUTE, add);
  auto* rtm = static_cast<struct rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = dstLen;
  rtm->rtm_table = ShortTable(table);
  rtm->rtm_protocol = static_cast<uint8_t>(protocol);
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = static_cast<uint8_t>(type);
  mnl_attr_put_u32(nlh, RTA_TABLE, table);
  if (dstLen > 0) {
    mnl_attr_put_u32(nlh, RTA_DST, dst);
  }
  if (!gateway.empty()) {
    uint32_t via = 0;
    memcpy(&via, gateway.data(), 4);
    mnl_attr_put_u32(nlh, RTA_GATEWAY, via);
  }
  out->name = add ? "RTM_NEWROUTE" : "RTM_DELROUTE";
  return true;
}

// Calls fn(type, attr) for every attribute after the family header of size `header`.
template <typename Fn>
void EachAttr(const struct nlmsghdr* nlh, size_t header, Fn fn) {
  auto* attr = static_cast<const struct nlattr*>(mnl_nlmsg_get_payload_offset(nlh, header));
  int left = static_cast<int>(nlh->nlmsg_len) - MNL_NLMSG_HDRLEN -
             static_cast<int>(MNL_ALIGN(header));
  for (; mnl_attr_ok(attr, left); attr = mnl_attr_next(attr)) {
    left -= static_cast<int>(MNL_ALIGN(attr->nla_len));
    fn(mnl_attr_get_type(attr), attr);
  }
}

// A u32 attribute, or false when its length is wrong.
bool GetU32(const struct nlattr* attr, uint32_t* out) {
  if (mnl_attr_get_payload_len(attr) != 4) {
    return false;
  }
  *out = mnl_attr_get_u32(attr);
  return true;
}

}  // namespace

bool ReadRouteOp(const Input& in, RouteRequest* out) {
  uint32_t add = 0;
  uint32_t kind = 0;
  if (!in.Object() || !in.Get("op").Choice(kVerbs, Count(kVerbs), &add) ||
      !in.Get("kind").Choice(kKinds, Count(kKinds), &kind)) {
    return false;
  }
  return kind == 0 ? ReadRule(in, add == 1, out) : ReadRoute(in, add == 1, out);
}

struct nlmsghdr* PutDumpRequest(char* buf, uint16_t type, uint32_t seq) {
  struct nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  // struct rtmsg and struct fib_rule_hdr both start with the family byte.
  auto* rtm = static_cast<struct rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg)));
  rtm->rtm_family = AF_INET;
  return nlh;
}

bool ParseRule(const struct nlmsghdr* nlh, RuleState* out) {
  if (nlh->nlmsg_type != RTM_NEWRULE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(fib_rule_hdr))) {
    return false;
  }
  auto* frh = static_cast<const struct fib_rule_hdr*>(mnl_nlmsg_get_payload(nlh));
  if (frh->family != AF_INET) {
    return false;
  }

  out->srcLen = frh->src_len;
  out->table = frh->table;
  out->action = frh->action;
  EachAttr(nlh, sizeof(*frh), [&](uint16_t type, const struct nlattr* attr) {
    if (type == FRA_PRIORITY) {
      GetU32(attr, &out->priority);
    } else if (type == FRA_TABLE) {
      GetU32(attr, &out->table);
    } else if (type == FRA_SRC) {
      GetU32(attr, &out->src);
    } else if (type == FRA_FWMARK) {
      out->hasFwmark = GetU32(attr, &out->fwmark);
    } else if (type == FRA_FWMASK) {
      GetU32(attr, &out->fwmask);
    } else if (type == FRA_PROTOCOL && mnl_attr_get_payload_len(attr) == 1) {
      out->protocol = mnl_attr_get_u8(attr);
    }
  });
  return true;
}

bool ParseRoute(const struct nlmsghdr* nlh, RouteState* out) {
  if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg))) {
    return false;
  }
  auto* rtm = static_cast<const struct rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_family != AF_INET) {
    return false;
  }

  out->dstLen = rtm->rtm_dst_len;
  out->table = rtm->rtm_table;
  out->type = rtm->rtm_type;
  out->protocol = rtm->rtm_protocol;
  EachAttr(nlh, sizeof(*rtm), [&](uint16_t type, const struct nlattr* attr) {
    if (type == RTA_TABLE) {
      GetU32(attr, &out->table);
    } else if (type == RTA_DST) {
      GetU32(attr, &out->dst);
    } else if (type == RTA_GATEWAY) {
      out->hasGateway = GetU32(attr, &out->gateway);
    }
  });
  return true;
}

const char* RouteTypeName(uint8_t type) {
  return NameOf(kTypes, Count(kTypes), type);
}

}  // namespace nftnapi

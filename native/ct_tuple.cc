// Decoding ctnetlink entries: the nests of CTA_TUPLE_ORIG, CTA_TUPLE_REPLY and
// CTA_PROTOINFO, read with libmnl's attribute walk; nothing else of a message is kept.
#include "ct_tuple.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>

#include <cstring>

namespace nftnapi {

namespace {

// Calls fn(type, attr) for every attribute in a nest.
template <typename Fn>
void EachNested(const struct nlattr* nest, Fn fn) {
  auto* attr = static_cast<const struct nlattr*>(mnl_attr_get_payload(nest));
  int left = static_cast<int>(mnl_attr_get_payload_len(nest));
  for (; mnl_attr_ok(attr, left); attr = mnl_attr_next(attr)) {
    left -= static_cast<int>(MNL_ALIGN(attr->nla_len));
    fn(mnl_attr_get_type(attr), attr);
  }
}

// Reads the IPv4 destination of a CTA_TUPLE_REPLY nest.
void ParseReplyDst(const struct nlattr* reply, uint32_t* dst) {
  EachNested(reply, [&](uint16_t type, const struct nlattr* a) {
    if (type != CTA_TUPLE_IP) {
      return;
    }
    EachNested(a, [&](uint16_t ip, const struct nlattr* b) {
      if (ip == CTA_IP_V4_DST && mnl_attr_get_payload_len(b) == 4) {
        *dst = mnl_attr_get_u32(b);
      }
    });
  });
}

}  // namespace

bool ParseTuple(const struct nlmsghdr* nlh, Tuple* t) {
  bool v4 = false;
  auto* attr = static_cast<const struct nlattr*>(
      mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg)));
  int left = static_cast<int>(nlh->nlmsg_len) - MNL_NLMSG_HDRLEN -
             static_cast<int>(MNL_ALIGN(sizeof(struct nfgenmsg)));
  for (; mnl_attr_ok(attr, left); attr = mnl_attr_next(attr)) {
    left -= static_cast<int>(MNL_ALIGN(attr->nla_len));
    if (mnl_attr_get_type(attr) == CTA_TUPLE_REPLY) {
      ParseReplyDst(attr, &t->replyDst);
      continue;
    }
    // CTA_PROTOINFO > CTA_PROTOINFO_TCP > CTA_PROTOINFO_TCP_STATE: is the connection open.
    if (mnl_attr_get_type(attr) == CTA_PROTOINFO) {
      EachNested(attr, [&](uint16_t info, const struct nlattr* a) {
        if (info != CTA_PROTOINFO_TCP) {
          return;
        }
        EachNested(a, [&](uint16_t field, const struct nlattr* b) {
          if (field == CTA_PROTOINFO_TCP_STATE && mnl_attr_get_payload_len(b) >= 1) {
            t->tcpState = mnl_attr_get_u8(b);
          }
        });
      });
      continue;
    }
    if (mnl_attr_get_type(attr) != CTA_TUPLE_ORIG) {
      continue;
    }
    EachNested(attr, [&](uint16_t type, const struct nlattr* a) {
      if (type == CTA_TUPLE_IP) {
        EachNested(a, [&](uint16_t ip, const struct nlattr* b) {
          if ((ip == CTA_IP_V4_SRC || ip == CTA_IP_V4_DST) && mnl_attr_get_payload_len(b) == 4) {
            (ip == CTA_IP_V4_SRC ? t->src : t->dst) = mnl_attr_get_u32(b);
            v4 = true;
          }
        });
      } else if (type == CTA_TUPLE_PROTO) {
        EachNested(a, [&](uint16_t p, const struct nlattr* b) {
          if (p == CTA_PROTO_NUM && mnl_attr_get_payload_len(b) >= 1) {
            t->proto = mnl_attr_get_u8(b);
          } else if ((p == CTA_PROTO_SRC_PORT || p == CTA_PROTO_DST_PORT) &&
                     mnl_attr_get_payload_len(b) >= 2) {
            (p == CTA_PROTO_SRC_PORT ? t->sport : t->dport) = mnl_attr_get_u16(b);
          } else if (p == CTA_PROTO_ICMP_ID && mnl_attr_get_payload_len(b) >= 2) {
            t->icmpId = mnl_attr_get_u16(b);
          } else if ((p == CTA_PROTO_ICMP_TYPE || p == CTA_PROTO_ICMP_CODE) &&
                     mnl_attr_get_payload_len(b) >= 1) {
            (p == CTA_PROTO_ICMP_TYPE ? t->icmpType : t->icmpCode) = mnl_attr_get_u8(b);
          }
        });
      }
    });
  }
  return v4;
}

bool HasPorts(uint32_t proto) {
  return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
         proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

Napi::Object TupleObject(Napi::Env env, const Tuple& t) {
  auto bytes = [&](const uint32_t& addr) {
    return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(&addr), 4);
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("proto", t.proto);
  o.Set("src", bytes(t.src));
  o.Set("dst", bytes(t.dst));
  o.Set("sport", ntohs(t.sport));
  o.Set("dport", ntohs(t.dport));
  o.Set("replyDst", bytes(t.replyDst));
  if (t.tcpState != 0) {
    o.Set("tcpState", t.tcpState);
  }
  if (t.proto == IPPROTO_ICMP) {
    Napi::Object icmp = Napi::Object::New(env);
    icmp.Set("id", ntohs(t.icmpId));
    icmp.Set("type", t.icmpType);
    icmp.Set("code", t.icmpCode);
    o.Set("icmp", icmp);
  }
  return o;
}

void PackTuple(uint8_t kind, const Tuple& t, uint8_t* out) {
  out[0] = kind;
  out[1] = t.proto;
  out[2] = t.icmpType;
  out[3] = t.icmpCode;
  memcpy(out + 4, &t.src, 4);
  memcpy(out + 8, &t.dst, 4);
  memcpy(out + 12, &t.replyDst, 4);
  memcpy(out + 16, &t.sport, 2);
  memcpy(out + 18, &t.dport, 2);
  memcpy(out + 20, &t.icmpId, 2);
  out[22] = 0;
  out[23] = 0;
}

}  // namespace nftnapi

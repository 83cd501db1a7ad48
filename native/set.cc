// Set and map ops. The flags come from the spec's shape (enum nft_set_flags in
// linux/netfilter/nf_tables.h): a data type makes a map, `interval` a range set, and
// two fields or more make NFT_SET_CONCAT, which nf_tables_newset requires to match
// NFTA_SET_DESC_CONCAT. An interval over a concatenation gets the pipapo backend,
// whose elements carry both NFTA_SET_ELEM_KEY and NFTA_SET_ELEM_KEY_END.
#include "set.h"

#include <libnftnl/udata.h>
#include <linux/netfilter/nf_tables.h>

#include "keys.h"
#include "owned.h"

namespace nftnapi {

namespace {

// Two names, six u32 attributes and a concatenation description.
constexpr size_t kSetBound = 2048;

// libnftnl 1.2.4 counts NFTNL_SET_DESC_CONCAT fields up to the first zero length in a
// 16-byte array; 15 fields keep a zero inside it. A 64-byte key holds 16 at most.
constexpr uint32_t kMaxFields = 15;

// Reads SetSpec.fields into the concatenation description.
bool ReadFields(const Input& in, struct nftnl_set* set, bool* concat) {
  uint32_t count = 0;
  if (!in.Array(&count, kMaxFields)) {
    return false;
  }

  uint8_t lengths[16] = {};
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len = 0;
    if (!in.At(i).U32(&len, kDataMax)) {
      return false;
    }
    if (len == 0) {
      return in.At(i).Fail("a field is at least 1 byte");
    }
    lengths[i] = static_cast<uint8_t>(len);
  }

  *concat = count > 1;
  return count == 0 || nftnl_set_set_data(set, NFTNL_SET_DESC_CONCAT, lengths, count) == 0 ||
         in.Fail("nftnl_set_set_data(NFTNL_SET_DESC_CONCAT) failed");
}

// nft's byte orders (nftables include/datatype.h: BYTEORDER_HOST_ENDIAN, _BIG_ENDIAN).
const Named kByteorders[] = {{"host", 1}, {"big", 2}};

// Writes SetSpec.keyByteorder and dataByteorder as set userdata. The kernel ignores it;
// `nft list` reads it to print keys and map values (without it, an ifname key is taken as
// big endian and prints as "", and a mark value prints byte-swapped).
bool ReadByteorders(const Input& spec, struct nftnl_set* set) {
  const struct {
    const char* field;
    uint8_t type;
  } kinds[] = {{"keyByteorder", NFTNL_UDATA_SET_KEYBYTEORDER},
               {"dataByteorder", NFTNL_UDATA_SET_DATABYTEORDER}};
  struct nftnl_udata_buf* buf = nftnl_udata_buf_alloc(64);
  if (!buf) {
    return spec.Fail("out of memory");
  }
  bool any = false;
  for (const auto& kind : kinds) {
    uint32_t order = 0;
    if (!spec.Has(kind.field)) {
      continue;
    }
    if (!spec.Get(kind.field).Choice(kByteorders, 2, &order)) {
      nftnl_udata_buf_free(buf);
      return false;
    }
    if (!nftnl_udata_put_u32(buf, kind.type, order)) {
      nftnl_udata_buf_free(buf);
      return spec.Fail("nftnl_udata_put_u32 failed");
    }
    any = true;
  }
  bool ok = !any || nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(buf),
                                       nftnl_udata_buf_len(buf)) == 0;
  nftnl_udata_buf_free(buf);
  return ok || spec.Fail("nftnl_set_set_data(NFTNL_SET_USERDATA) failed");
}

// Reads a SetSpec into set and the NFT_SET_* flags it implies.
bool ReadSpec(const Input& spec, struct nftnl_set* set) {
  uint32_t keyType = 0;
  uint32_t keyLen = 0;
  bool interval = false;
  bool constant = false;
  bool timeout = false;
  bool concat = false;
  if (!spec.Object() || !spec.Get("keyType").U32(&keyType, UINT32_MAX) ||
      !spec.Get("keyLen").U32(&keyLen, kDataMax) ||
      (spec.Has("fields") && !ReadFields(spec.Get("fields"), set, &concat)) ||
      (spec.Has("interval") && !spec.Get("interval").Bool(&interval)) ||
      (spec.Has("constant") && !spec.Get("constant").Bool(&constant)) ||
      (spec.Has("timeout") && !spec.Get("timeout").Bool(&timeout)) ||
      !ReadByteorders(spec, set)) {
    return false;
  }
  if (keyLen == 0) {
    return spec.Get("keyLen").Fail("a key is at least 1 byte");
  }

  uint32_t flags = (interval ? NFT_SET_INTERVAL : 0) | (constant ? NFT_SET_CONSTANT : 0) |
                   (timeout ? NFT_SET_TIMEOUT : 0) | (concat ? NFT_SET_CONCAT : 0);
  nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, keyType);
  nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, keyLen);

  // A map: NFT_DATA_VERDICT needs no length (the kernel uses struct nft_verdict's).
  if (spec.Has("dataType")) {
    uint32_t dataType = 0;
    uint32_t dataLen = 0;
    if (!spec.Get("dataType").U32(&dataType, UINT32_MAX) ||
        (spec.Has("dataLen") && !spec.Get("dataLen").U32(&dataLen, kDataMax))) {
      return false;
    }
    flags |= NFT_SET_MAP;
    nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, dataType);
    if (dataType != NFT_DATA_VERDICT && spec.Has("dataLen")) {
      nftnl_set_set_u32(set, NFTNL_SET_DATA_LEN, dataLen);
    }
  }
  nftnl_set_set_u32(set, NFTNL_SET_FLAGS, flags);
  return true;
}

// The byte order of userdata attribute `type` (key or data) of the set, 0 when unset.
uint32_t Byteorder(const struct nftnl_set* set, uint8_t type) {
  if (!nftnl_set_is_set(set, NFTNL_SET_USERDATA)) {
    return 0;
  }
  uint32_t len = 0;
  const void* data = nftnl_set_get_data(set, NFTNL_SET_USERDATA, &len);
  struct Want {
    uint8_t type;
    uint32_t order;
  } want = {type, 0};
  nftnl_udata_parse(
      data, len,
      [](const struct nftnl_udata* attr, void* out) -> int {
        auto* w = static_cast<Want*>(out);
        if (nftnl_udata_type(attr) == w->type && nftnl_udata_len(attr) == sizeof(uint32_t)) {
          w->order = nftnl_udata_get_u32(attr);
        }
        return 0;
      },
      &want);
  return want.order;
}

}  // namespace

bool EncodeSetOp(const OpContext& ctx) {
  std::string table;
  std::string name;
  Input spec = ctx.op.Get("set");
  bool adding = ctx.verb == Verb::kAdd;
  if (!ctx.op.Get("table").Name(&table) ||
      !(adding ? spec.Get("name") : ctx.op.Get("name")).Name(&name)) {
    return false;
  }

  Owned<struct nftnl_set> set(nftnl_set_alloc());
  if (!set || nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str()) < 0 ||
      nftnl_set_set_str(set.get(), NFTNL_SET_NAME, name.c_str()) < 0) {
    *ctx.error = Sys("nftnl_set_alloc", ENOMEM);
    return false;
  }
  nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, ctx.family);
  if (adding && !ReadSpec(spec, set.get())) {
    return false;
  }

  // nf_tables_newset refuses a set without NFTA_SET_ID, the handle that lets later
  // messages of the same batch refer to it; the op index is unique within the batch.
  if (adding) {
    nftnl_set_set_u32(set.get(), NFTNL_SET_ID, static_cast<uint32_t>(ctx.index) + 1);
  }

  uint16_t type = adding ? NFT_MSG_NEWSET : NFT_MSG_DELSET;
  struct nlmsghdr* nlh =
      ctx.batch->Put(type, ctx.family, adding ? NLM_F_CREATE : 0, kSetBound);
  nftnl_set_nlmsg_build_payload(nlh, set.get());
  return ctx.batch->Finish(nlh, ctx.index, ctx.error);
}

Napi::Object DecodeSetSpec(Napi::Env env, const struct nftnl_set* set) {
  Napi::Object spec = Napi::Object::New(env);
  uint32_t flags = nftnl_set_get_u32(set, NFTNL_SET_FLAGS);
  Put(spec, "name", nftnl_set_get_str(set, NFTNL_SET_NAME));
  Put(spec, "keyType", nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE));
  Put(spec, "keyLen", nftnl_set_get_u32(set, NFTNL_SET_KEY_LEN));

  // The kernel reports NFTA_SET_DESC_CONCAT only for two fields or more.
  if (nftnl_set_is_set(set, NFTNL_SET_DESC_CONCAT)) {
    uint32_t count = 0;
    auto* lengths =
        static_cast<const uint8_t*>(nftnl_set_get_data(set, NFTNL_SET_DESC_CONCAT, &count));
    Napi::Array fields = Napi::Array::New(env, count);
    for (uint32_t i = 0; i < count; i++) {
      fields.Set(i, lengths[i]);
    }
    Put(spec, "fields", fields);
  }

  // Optional flags appear only when on, as a spec written by hand would have them.
  if (flags & NFT_SET_INTERVAL) {
    Put(spec, "interval", true);
  }
  if (flags & NFT_SET_CONSTANT) {
    Put(spec, "constant", true);
  }
  if (flags & NFT_SET_TIMEOUT) {
    Put(spec, "timeout", true);
  }
  uint32_t order = Byteorder(set, NFTNL_UDATA_SET_KEYBYTEORDER);
  if (order == 1 || order == 2) {
    Put(spec, "keyByteorder", order == 1 ? "host" : "big");
  }
  order = Byteorder(set, NFTNL_UDATA_SET_DATABYTEORDER);
  if (order == 1 || order == 2) {
    Put(spec, "dataByteorder", order == 1 ? "host" : "big");
  }
  if (flags & NFT_SET_MAP) {
    uint32_t dataType = nftnl_set_get_u32(set, NFTNL_SET_DATA_TYPE);
    Put(spec, "dataType", dataType);
    if (dataType != NFT_DATA_VERDICT) {
      Put(spec, "dataLen", nftnl_set_get_u32(set, NFTNL_SET_DATA_LEN));
    }
  }
  return spec;
}

}  // namespace nftnapi

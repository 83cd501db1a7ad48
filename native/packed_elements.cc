// Packing a set's elements (layout in packed_elements.h). Runs on the libuv pool: it
// touches no JS value.
#include "packed_elements.h"

#include <linux/netfilter/nf_tables.h>

#include <cstring>

namespace nftnapi {

namespace {

// The byte attributes in their packed order, with their flags.
struct ByteField {
  uint16_t attr;
  uint8_t flag;
};
const ByteField kByteFields[] = {
    {NFTNL_SET_ELEM_KEY, kKey},
    {NFTNL_SET_ELEM_KEY_END, kKeyEnd},
    {NFTNL_SET_ELEM_DATA, kData},
};

// Appends len, then the bytes; false when len does not fit in the length byte.
bool PutBytes(const void* bytes, size_t len, std::vector<uint8_t>* out) {
  if (len > UINT8_MAX) {
    return false;
  }
  out->push_back(static_cast<uint8_t>(len));
  const auto* p = static_cast<const uint8_t*>(bytes);
  out->insert(out->end(), p, p + len);
  return true;
}

// Appends value in little-endian order, whatever the host's.
void PutLe(uint64_t value, int bytes, std::vector<uint8_t>* out) {
  for (int i = 0; i < bytes; i++) {
    out->push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
}

// Appends one element; false when a field is too long for the layout.
bool PackOne(struct nftnl_set_elem* elem, std::vector<uint8_t>* out) {
  size_t flagsAt = out->size();
  uint8_t flags = 0;
  out->push_back(0);
  for (const ByteField& field : kByteFields) {
    uint32_t len = 0;
    const void* bytes = nftnl_set_elem_is_set(elem, field.attr)
                            ? nftnl_set_elem_get(elem, field.attr, &len)
                            : nullptr;
    if (bytes == nullptr) {
      continue;
    }
    if (!PutBytes(bytes, len, out)) {
      return false;
    }
    flags |= field.flag;
  }

  // The chain counts for a jump or goto only, as DecodeVerdict reads a verdict.
  if (nftnl_set_elem_is_set(elem, NFTNL_SET_ELEM_VERDICT)) {
    auto code = static_cast<int32_t>(nftnl_set_elem_get_u32(elem, NFTNL_SET_ELEM_VERDICT));
    bool jumps = code == NFT_JUMP || code == NFT_GOTO;
    const char* chain = jumps && nftnl_set_elem_is_set(elem, NFTNL_SET_ELEM_CHAIN)
                            ? nftnl_set_elem_get_str(elem, NFTNL_SET_ELEM_CHAIN)
                            : nullptr;
    PutLe(static_cast<uint32_t>(code), 4, out);
    if (!PutBytes(chain, chain != nullptr ? strlen(chain) : 0, out)) {
      return false;
    }
    flags |= kVerdict;
  }
  if (nftnl_set_elem_is_set(elem, NFTNL_SET_ELEM_FLAGS) &&
      (nftnl_set_elem_get_u32(elem, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END)) {
    flags |= kIntervalEnd;
  }

  // Both in ms: the element's timeout and the time it has left.
  if (nftnl_set_elem_is_set(elem, NFTNL_SET_ELEM_TIMEOUT)) {
    PutLe(nftnl_set_elem_get_u64(elem, NFTNL_SET_ELEM_TIMEOUT), 8, out);
    flags |= kTimeout;
  }
  if (nftnl_set_elem_is_set(elem, NFTNL_SET_ELEM_EXPIRATION)) {
    PutLe(nftnl_set_elem_get_u64(elem, NFTNL_SET_ELEM_EXPIRATION), 8, out);
    flags |= kExpires;
  }
  (*out)[flagsAt] = flags;
  return true;
}

// What nftnl_set_elem_foreach's callback sees.
struct Packing {
  std::vector<uint8_t>* out;
  uint32_t count;
  bool tooLong;
};

}  // namespace

bool PackElements(struct nftnl_set* set, std::vector<uint8_t>* out, uint32_t* count,
                  SysError* error) {
  Packing packing{out, 0, false};
  int walked = nftnl_set_elem_foreach(
      set,
      [](struct nftnl_set_elem* e, void* data) {
        auto* p = static_cast<Packing*>(data);
        if (!PackOne(e, p->out)) {
          p->tooLong = true;
          return -1;  // stops the walk
        }
        p->count++;
        return 0;
      },
      &packing);
  *count = packing.count;
  if (walked >= 0) {
    return true;
  }
  const char* name = nftnl_set_get_str(set, NFTNL_SET_NAME);
  std::string op = std::string("pack elements of set ") + (name != nullptr ? name : "?");
  *error = packing.tooLong ? Sys(op, EMSGSIZE, "an element field is longer than 255 bytes")
                           : Sys(op, EINVAL, "nftnl_set_elem_foreach failed");
  return false;
}

}  // namespace nftnapi

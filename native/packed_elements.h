// A set's elements packed into one byte string on the worker thread, so that a read-back
// of 100,000s of elements makes one ArrayBuffer per set on the main thread and no object
// per element. src/nft/packed.ts reads the same layout; keep the two in step.
//
// Each element, little-endian, one after the other:
//   u8 flags          kKey kKeyEnd kData kVerdict kIntervalEnd kTimeout kExpires
//   key, keyEnd, data (each when flagged): u8 length, then the bytes
//   verdict (when flagged): i32 code (NF_* or NFT_*), u8 chain length, the chain's bytes
//   timeout, expires (each when flagged): u64 ms
// The part an audit compares (the flags below kTimeout and every field before the times)
// comes first, so that it is one run of bytes.
#pragma once

#include <libnftnl/set.h>

#include <cstdint>
#include <vector>

#include "errors.h"

namespace nftnapi {

// The flag bits of a packed element.
enum PackedFlag : uint8_t {
  kKey = 1,
  kKeyEnd = 2,
  kData = 4,
  kVerdict = 8,
  // NFT_SET_ELEM_INTERVAL_END: the closing element of a range in an rbtree set
  kIntervalEnd = 16,
  kTimeout = 32,
  kExpires = 64,
};

// Appends every element of set to out and counts them into *count; false with error set
// when an element holds a field longer than the layout's one-byte length can say.
bool PackElements(struct nftnl_set* set, std::vector<uint8_t>* out, uint32_t* count,
                  SysError* error);

}  // namespace nftnapi

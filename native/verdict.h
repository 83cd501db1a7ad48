// Verdicts, shared by the immediate expression and verdict-map elements.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "input.h"

namespace nftnapi {

// A Verdict of src/nft/types.ts as the kernel codes it (NF_* or NFT_*), with the
// target chain of a jump or goto.
struct VerdictIn {
  int32_t code = 0;
  std::string chain;
  bool hasChain = false;
};

// Reads a Verdict object.
bool ReadVerdict(const Input& in, VerdictIn* out);

// The Verdict object for a kernel verdict code, or an empty value for a code the
// daemon never uses (NFT_BREAK, NF_QUEUE, ...).
Napi::Value DecodeVerdict(Napi::Env env, int32_t code, const char* chain);

}  // namespace nftnapi

// Verdict codes: enum nft_verdicts (linux/netfilter/nf_tables.h) and NF_ACCEPT/NF_DROP
// (linux/netfilter.h). The kernel carries them as a signed 32-bit NFTA_VERDICT_CODE.
#include "verdict.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

namespace nftnapi {

namespace {

// The codes as unsigned, which is how Input::Choice and libnftnl's setters carry them.
const Named kVerdicts[] = {
    {"accept", static_cast<uint32_t>(NF_ACCEPT)},
    {"drop", static_cast<uint32_t>(NF_DROP)},
    {"return", static_cast<uint32_t>(NFT_RETURN)},
    {"continue", static_cast<uint32_t>(NFT_CONTINUE)},
    {"jump", static_cast<uint32_t>(NFT_JUMP)},
    {"goto", static_cast<uint32_t>(NFT_GOTO)},
};

}  // namespace

bool ReadVerdict(const Input& in, VerdictIn* out) {
  uint32_t code = 0;
  if (!in.Object() || !in.Get("kind").Choice(kVerdicts, Count(kVerdicts), &code)) {
    return false;
  }
  out->code = static_cast<int32_t>(code);

  // Only jump and goto name a chain (NFTA_VERDICT_CHAIN).
  out->hasChain = out->code == NFT_JUMP || out->code == NFT_GOTO;
  return !out->hasChain || in.Get("chain").Name(&out->chain);
}

Napi::Value DecodeVerdict(Napi::Env env, int32_t code, const char* chain) {
  const char* kind = NameOf(kVerdicts, Count(kVerdicts), static_cast<uint32_t>(code));
  if (kind == nullptr) {
    return Napi::Value();
  }

  Napi::Object out = Napi::Object::New(env);
  out.Set("kind", kind);
  if (code == NFT_JUMP || code == NFT_GOTO) {
    out.Set("chain", chain != nullptr ? chain : "");
  }
  return out;
}

}  // namespace nftnapi

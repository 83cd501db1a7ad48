// counter: counts packets and bytes. Added with zero counts; the counts the kernel
// reports back are not part of the Expr union, so they are not decoded.
#include "expr/expr.h"

namespace nftnapi {

namespace {

bool Encode(const Input&, struct nftnl_expr*) { return true; }

bool Decode(Napi::Env, const struct nftnl_expr*, Napi::Object) { return true; }

}  // namespace

const ExprCodec kCounterCodec = {"counter", Encode, Decode};

}  // namespace nftnapi

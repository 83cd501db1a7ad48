// Set elements: add and delete ops (packed_elements.h reads them back).
#pragma once

#include <libnftnl/set.h>
#include <napi.h>

#include "batch.h"

namespace nftnapi {

// Encodes { kind: 'elements' } ops as one or more NEWSETELEM / DELSETELEM messages.
bool EncodeElementsOp(const OpContext& ctx);

}  // namespace nftnapi

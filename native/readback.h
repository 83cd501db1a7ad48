// Reading one table back from the kernel: the table, its sets with their elements packed,
// its chains and their rules, as the NativeReadBack of src/nft/addon.ts.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "socket.h"

namespace nftnapi {

// Queues the dumps on nl's query socket; the promise resolves to the table read back,
// or to null when the table does not exist.
Napi::Value StartListTable(Napi::Env env, std::shared_ptr<Netlink> nl, uint16_t family,
                           std::string familyName, std::string table);

}  // namespace nftnapi

// Sending one encoded batch off the main thread and reporting the kernel's verdict.
#pragma once

#include <napi.h>

#include <memory>

#include "batch.h"
#include "socket.h"

namespace nftnapi {

// Queues batch for sending on nl's commit socket; the promise resolves to a
// CommitResult (src/nft/types.ts), or rejects when the outcome cannot be known.
Napi::Value StartCommit(Napi::Env env, std::shared_ptr<Netlink> nl,
                        std::unique_ptr<Batch> batch);

}  // namespace nftnapi

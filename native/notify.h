// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Node has no AF_UNIX
// datagram sockets, so the few lines live here.
#pragma once

#include <napi.h>

namespace nftnapi {

// sdNotify(state: string): true when sent, false when $NOTIFY_SOCKET is unset (not run
// by systemd with Type=notify); a failing send throws an errno-carrying Error.
Napi::Value SdNotify(const Napi::CallbackInfo& info);

}  // namespace nftnapi

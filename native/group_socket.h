// A netfilter netlink socket that listens to multicast groups in one network namespace,
// non-blocking, with a large receive buffer: what the nf_tables and conntrack monitors
// read on Node's event loop.
#pragma once

#include <libmnl/libmnl.h>
#include <uv.h>

#include <string>
#include <vector>

#include "errors.h"

namespace nftnapi {

// Opens a NETLINK_NETFILTER socket inside netnsPath (the caller's namespace when empty),
// joins groups and asks for a receive buffer of rcvbuf bytes. Returns null with error
// set (naming what) when a call fails.
mnl_socket* OpenGroupSocket(const std::string& netnsPath, const std::vector<int>& groups,
                            int rcvbuf, const char* what, SysError* error);

// Stops and frees a monitor's poll handle (once libuv has closed it) and closes its
// socket; either may be null, and both are null afterwards.
void CloseGroupSocket(uv_poll_t** poll, mnl_socket** nl);

}  // namespace nftnapi

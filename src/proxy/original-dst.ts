/**
 * Where a redirected connection was going: SO_ORIGINAL_DST through the addon
 * (native/sockopt.cc). Node hides socket descriptors; an accepted TCP socket's handle
 * still carries its fd on Linux, which is all getsockopt needs.
 */
import type net from 'node:net';
import { loadAddon } from '../nft/addon';

/** An IPv4 address and TCP port. */
export interface Destination {
  address: string;
  port: number;
}

type OriginalDstFn = (fd: number) => { address: Uint8Array; port: number };

/** The file descriptor behind an accepted socket, or null when node does not expose it. */
export function socketFd(socket: net.Socket): number | null {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : null;
}

/**
 * The destination the client dialled before netfilter redirected it. Throws when the
 * socket has no conntrack entry (errno ENOENT) or no descriptor.
 */
export function originalDst(socket: net.Socket): Destination {
  const fd = socketFd(socket);
  if (fd === null) throw new Error('the socket exposes no file descriptor');
  const read = loadAddon().originalDst as OriginalDstFn;
  const dst = read(fd);
  return { address: Array.from(dst.address).join('.'), port: dst.port };
}

/**
 * Encoders for the byte strings the kernel compares: keys, cmp data, concatenations.
 * Header fields are in network byte order; a concatenation pads each field to 4 bytes
 * (NFT_REG32_SIZE), as nft_set_ext and the 32-bit registers lay them out.
 */
import { parseIpv4 } from '../net/ipv4';

/** IFNAMSIZ: meta iifname/oifname load the whole zero-padded name. */
export const IFNAMSIZ = 16;

// Every encoder returns a view into a shared ArrayBuffer rather than an array of its own.
// V8 keeps a small typed array's bytes on its heap, and the addon can only read them
// after V8 has moved them off it (napi_get_typedarray_info: an allocation and a copy per
// array); a cold build hands the addon about 60 keys per workspace. A pool lives as long
// as any view into it: at most POOL_BYTES kept for one long-lived key.
const POOL_BYTES = 64 * 1024;
let pool = new ArrayBuffer(POOL_BYTES);
let used = 0;

/** `len` zero bytes, a view into the current pool. */
export function bytes(len: number): Uint8Array {
  if (used + len > POOL_BYTES) {
    pool = new ArrayBuffer(Math.max(POOL_BYTES, len));
    used = 0;
  }
  const out = new Uint8Array(pool, used, len);
  used += len;
  return out;
}

/** An interface name as the kernel stores it: 16 bytes, zero padded. */
export function ifname(name: string): Uint8Array {
  const out = bytes(IFNAMSIZ);
  // Latin-1, as Buffer.from(name, 'ascii') writes it; the last byte stays the NUL.
  for (let i = 0; i < name.length && i < IFNAMSIZ - 1; i++) out[i] = name.charCodeAt(i) & 0xff;
  return out;
}

/** A dotted-quad IPv4 address as 4 bytes in network order. */
export function ipv4(addr: string): Uint8Array {
  const n = parseIpv4(addr);
  if (n !== null) return be32(n);
  // Not canonical (the model validates addresses, so only tests get here): byte per part.
  const parts = addr.split('.');
  const out = bytes(parts.length);
  for (let i = 0; i < parts.length; i++) out[i] = +parts[i];
  return out;
}

/** An IPv4 address held as a uint32, as 4 bytes in network order. */
export function ipv4Of(n: number): Uint8Array {
  return be32(n);
}

/** A 16-bit port or number in network order. */
export function be16(n: number): Uint8Array {
  const out = bytes(2);
  out[0] = (n >> 8) & 0xff;
  out[1] = n & 0xff;
  return out;
}

/** A 32-bit number in network order. */
export function be32(n: number): Uint8Array {
  const out = bytes(4);
  out[0] = (n >>> 24) & 0xff;
  out[1] = (n >>> 16) & 0xff;
  out[2] = (n >>> 8) & 0xff;
  out[3] = n & 0xff;
  return out;
}

/** A 32-bit number in host (little-endian) order, as meta and ct keys hold it. */
export function le32(n: number): Uint8Array {
  const out = bytes(4);
  out[0] = n & 0xff;
  out[1] = (n >>> 8) & 0xff;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 24) & 0xff;
  return out;
}

/** A single byte, as meta nfproto and meta l4proto hold it. */
export function u8(n: number): Uint8Array {
  const out = bytes(1);
  out[0] = n & 0xff;
  return out;
}

/** Bytes a field takes in a concatenation: its length rounded up to 4. */
export function padded(len: number): number {
  return Math.ceil(len / 4) * 4;
}

/** Joins fields into one concatenated key, padding each to 4 bytes. */
export function concat(...fields: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const f of fields) len += padded(f.length);
  const out = bytes(len);
  let at = 0;
  for (const f of fields) {
    // A loop, not out.set(): the fields are a few bytes, and set() is a builtin call each.
    for (let i = 0; i < f.length; i++) out[at + i] = f[i];
    at += padded(f.length);
  }
  return out;
}

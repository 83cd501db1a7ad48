/**
 * Encoders for the byte strings the kernel compares: keys, cmp data, concatenations.
 * Header fields are in network byte order; a concatenation pads each field to 4 bytes
 * (NFT_REG32_SIZE), as nft_set_ext and the 32-bit registers lay them out.
 */

/** IFNAMSIZ: meta iifname/oifname load the whole zero-padded name. */
export const IFNAMSIZ = 16;

/** An interface name as the kernel stores it: 16 bytes, zero padded. */
export function ifname(name: string): Uint8Array {
  const out = new Uint8Array(IFNAMSIZ);
  out.set(Buffer.from(name, 'ascii').subarray(0, IFNAMSIZ - 1));
  return out;
}

/** A dotted-quad IPv4 address as 4 bytes in network order. */
export function ipv4(addr: string): Uint8Array {
  const parts = addr.split('.');
  // Uint8Array.of with four arguments: .from() over an array is several times slower, and
  // the compiler encodes tens of addresses per workspace.
  if (parts.length === 4) return Uint8Array.of(+parts[0], +parts[1], +parts[2], +parts[3]);
  return Uint8Array.from(parts.map(Number));
}

/** A 16-bit port or number in network order. */
export function be16(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}

/** A 32-bit number in host (little-endian) order, as meta and ct keys hold it. */
export function le32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0, true);
  return out;
}

/** A single byte, as meta nfproto and meta l4proto hold it. */
export function u8(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff);
}

/** Bytes a field takes in a concatenation: its length rounded up to 4. */
export function padded(len: number): number {
  return Math.ceil(len / 4) * 4;
}

/** Joins fields into one concatenated key, padding each to 4 bytes. */
export function concat(...fields: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(fields.reduce((n, f) => n + padded(f.length), 0));
  let at = 0;
  for (const f of fields) {
    out.set(f, at);
    at += padded(f.length);
  }
  return out;
}

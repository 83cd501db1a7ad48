/**
 * The typed face of the nftables-napi addon (build/Release/nftables_napi.node).
 *
 * The addon encodes the typed objects of ./types into netlink messages, sends them,
 * reads the acks and reports; it decides nothing. Every argument is checked again in
 * C++ (libnftnl exits the process on a bad attribute size), and bad input comes back
 * as a TypeError naming the op index and field, e.g. `ops[5].elements[2].key: ...`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { unpackTable } from './readback';
import type {
  CommitResult, CtTuple, Expr, Family, Op, SetReadBack, TableReadBack, TableState,
} from './types';

/** CommitFailure.index when the kernel refused the batch as a whole (its commit phase). */
export const WHOLE_BATCH = -1;

/**
 * An expression the kernel holds that the Expr union cannot say (an expression with no
 * codec in native/expr, or a known one used in a way Expr has no field for, such as
 * `meta length`): only its libnftnl name, flagged. A read-back is typed as the enforcer
 * expects, so such an expression sits in `exprs` typed as Expr; test for it with
 * isUnknownExpr. Likewise an element read back may carry `intervalEnd: true` (the closing
 * element of a range in a single-field interval set, NFT_SET_ELEM_INTERVAL_END) or
 * `unknown: true` (a verdict the Verdict union cannot say).
 */
export interface UnknownExpr {
  type: string;
  unknown: true;
}

/** True for an expression read back that the Expr union cannot say (see UnknownExpr). */
export function isUnknownExpr(expr: Expr | UnknownExpr): expr is UnknownExpr {
  return (expr as Partial<UnknownExpr>).unknown === true;
}

/**
 * The register number the kernel reports for reg. nft_dump_register (nf_tables_api.c)
 * names a 4-byte register that starts a 16-byte one by the 16-byte number, so 8, 12,
 * 16 and 20 read back as 1, 2, 3 and 4; the two numbers are the same storage.
 */
export function canonicalReg(reg: number): number {
  return reg >= 8 && (reg - 8) % 4 === 0 ? (reg - 8) / 4 + 1 : reg;
}

/** expr with every register field as the kernel reports it (see canonicalReg). */
export function canonicalExpr(expr: Expr): Expr {
  const out: Record<string, unknown> = { ...expr };
  for (const field of ['sreg', 'dreg', 'addrReg', 'protoReg']) {
    if (typeof out[field] === 'number') {
      out[field] = canonicalReg(out[field] as number);
    }
  }
  return out as unknown as Expr;
}

/** A failing system or libnftnl call inside the addon, with errno and a hint. */
export class NftSocketError extends Error {
  /** errno's symbolic name, such as 'ENOBUFS' */
  readonly code: string;
  readonly errno: number;
  /** the call that failed, such as 'sendmsg(batch)' or 'NFT_MSG_GETSET' */
  readonly syscall: string;
  /** how to fix it, when known */
  readonly hint?: string;

  constructor(cause: NativeError) {
    super(cause.message, { cause });
    this.name = 'NftSocketError';
    this.code = cause.code;
    this.errno = cause.errno;
    this.syscall = cause.syscall;
    this.hint = cause.hint;
  }
}

/**
 * A connection to nf_tables and ctnetlink inside one network namespace. Keep it for the
 * daemon's life: a table added with `flags.owner` belongs to its commit socket and is
 * removed by the kernel when the socket closes, by close() or by garbage collection.
 * Bad input rejects with a TypeError; a failing call with an NftSocketError.
 */
export class NftSocket {
  private constructor(private readonly native: NativeSocket) {}

  /** Opens the sockets, inside the namespace at `netns` (e.g. /run/netns/NAME) if given. */
  static open(opts: { netns?: string } = {}): NftSocket {
    const { NftSocket: Native } = load();
    return new NftSocket(rethrow(() => new Native(opts.netns)));
  }

  /** Applies ops as one atomic transaction; the kernel takes all of them or none. */
  commit(ops: Op[]): Promise<CommitResult> {
    return settle(() => this.native.commit(ops));
  }

  /**
   * Reads a table back, its chains, rules and sets in one generation; null when it is
   * absent. Elements come packed and rules are decoded as they are asked for, so that a
   * large table holds the event loop only for short steps (src/enforce/audit.ts).
   */
  async readTable(family: Family, name: string): Promise<TableReadBack | null> {
    const read = await settle(() => this.native.listTable(family, name));
    if (read === null) return null;
    const sets = read.sets.map((s) => ({ ...s, elements: new Uint8Array(s.elements) }));
    const rules = (from: number, to: number) => rethrow(() => read.rules(from, to));
    return { ...read, sets, rules };
  }

  /** Reads a table with every chain, rule, set and element as objects; null when absent. */
  async listTable(family: Family, name: string): Promise<TableState | null> {
    const read = await this.readTable(family, name);
    return read && unpackTable(read);
  }

  /** The IPv4 conntrack entries, by original-direction tuple. */
  async ctList(): Promise<CtTuple[]> {
    const raw = await settle(() => this.native.ctList());
    return raw.map((t) => ({
      ...t,
      src: dottedQuad(t.src),
      dst: dottedQuad(t.dst),
      replyDst: t.replyDst && dottedQuad(t.replyDst),
    }));
  }

  /** Deletes entries by original tuple (TCP, UDP, UDP-Lite, SCTP, DCCP, ICMP); how many. */
  ctDelete(tuples: CtTuple[]): Promise<number> {
    return settle(() => {
      const raw = tuples.map((t, i) => ({
        proto: t.proto,
        sport: t.sport,
        dport: t.dport,
        ...(t.icmp ? { icmp: t.icmp } : {}),
        src: addressBytes(t.src, `tuples[${i}].src`),
        dst: addressBytes(t.dst, `tuples[${i}].dst`),
      }));
      return this.native.ctDelete(raw);
    });
  }

  /** Closes the sockets once running calls finish; an owned table goes with them. */
  close(): void {
    this.native.close();
  }

  /** The commit socket's netlink port id: the nlmsg_pid of its commits' notifications. */
  portId(): number {
    return rethrow(() => this.native.portId());
  }
}

/** A tuple as the addon exchanges it: addresses as 4 bytes in network order. */
interface NativeTuple {
  proto: number;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  /** the reply direction's destination (ctList only) */
  replyDst?: Uint8Array;
  /** TCP_CONNTRACK_* of a TCP entry (ctList only) */
  tcpState?: number;
  icmp?: { id: number; type: number; code: number };
}

/** A table as native/readback.cc returns it: each set's elements in an ArrayBuffer. */
interface NativeReadBack extends Omit<TableReadBack, 'sets'> {
  sets: (Omit<SetReadBack, 'elements'> & { elements: ArrayBuffer })[];
}

/** The addon's class, as compiled in native/nft_socket.cc. */
interface NativeSocket {
  commit(ops: Op[]): Promise<CommitResult>;
  listTable(family: Family, name: string): Promise<NativeReadBack | null>;
  ctList(): Promise<NativeTuple[]>;
  ctDelete(tuples: NativeTuple[]): Promise<number>;
  close(): void;
  portId(): number;
}

/** The error the addon throws for a failing call (native/errors.cc). */
interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
  hint?: string;
}

let native: { NftSocket: new (netns?: string) => NativeSocket } | undefined;

/** The addon's module, for the other classes it exports (src/route/socket.ts). */
export function loadAddon(): Record<string, unknown> {
  return load() as unknown as Record<string, unknown>;
}

/** Loads the addon on first use, from the build directory at the package root. */
export function load(): NonNullable<typeof native> {
  if (native !== undefined) {
    return native;
  }

  // src/nft in development, dist/src/nft once compiled: walk up to the package root.
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'build', 'Release', 'nftables_napi.node');
    if (existsSync(file)) {
      native = require(file) as NonNullable<typeof native>;
      return native;
    }
  }
  throw new Error('nftables_napi.node not found: run `npx node-gyp rebuild`');
}

/** Runs a synchronous addon call, typing its system errors. */
function rethrow<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw typed(err);
  }
}

/** Runs an asynchronous addon call; input TypeErrors reject rather than throw. */
async function settle<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw typed(err);
  }
}

/** Wraps the addon's errno-carrying errors; TypeErrors and others pass unchanged. */
function typed(err: unknown): unknown {
  if (!(err instanceof Error)) {
    return err;
  }
  const e = err as Partial<NativeError>;
  const isNative = typeof e.errno === 'number' && typeof e.syscall === 'string';
  return isNative ? new NftSocketError(err as NativeError) : err;
}

/** Four bytes in network order as a dotted quad. */
function dottedQuad(bytes: Uint8Array): string {
  return Array.from(bytes).join('.');
}

/** A dotted quad as 4 bytes in network order; a TypeError naming `field` otherwise. */
function addressBytes(addr: string, field: string): Uint8Array {
  const parts = typeof addr === 'string' ? addr.split('.') : [];
  const ok = parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256);
  if (!ok) {
    throw new TypeError(`${field}: expected a dotted-quad IPv4 address`);
  }
  return Uint8Array.from(parts.map(Number));
}

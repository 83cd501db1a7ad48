/**
 * The typed face of the addon's RouteSocket: IPv4 FIB rules and routes over rtnetlink,
 * in one network namespace. The addon encodes, sends one request at a time and reports;
 * TypeScript decides every table, priority and address (src/outbound/routes.ts).
 */
import { loadAddon, NftSocketError } from '../nft/addon';
import type { RouteOp, RouteResult, RoutingState } from './types';

/** The part of the socket the enforcer uses; tests pass a fake. */
export interface RouteNetlink {
  apply(ops: RouteOp[]): Promise<RouteResult>;
  dump(): Promise<RoutingState>;
}

/** A NETLINK_ROUTE socket; bad input rejects with a TypeError, failing I/O otherwise. */
export class RouteSocket implements RouteNetlink {
  private constructor(private readonly native: NativeRouteSocket) {}

  /** Opens the socket, inside the namespace at `netns` (e.g. /run/netns/NAME) if given. */
  static open(opts: { netns?: string } = {}): RouteSocket {
    const Native = loadAddon().RouteSocket as new (netns?: string) => NativeRouteSocket;
    return new RouteSocket(typed(() => new Native(opts.netns)));
  }

  /** Sends ops in order; stops at the first the kernel refuses (rtnetlink has no batch). */
  async apply(ops: RouteOp[]): Promise<RouteResult> {
    // A non-array goes through as is, for the addon to refuse by name.
    const raw: unknown = Array.isArray(ops) ? ops.map(toNative) : ops;
    return typedAsync(() => this.native.apply(raw as unknown[]));
  }

  /** Every IPv4 rule and route of the namespace, every table. */
  async dump(): Promise<RoutingState> {
    const raw = await typedAsync(() => this.native.dump());
    return {
      rules: raw.rules.map((r) => ({ ...r, src: quad(r.src) })),
      routes: raw.routes.map((r) => {
        const { gateway, ...rest } = r;
        return { ...rest, dst: quad(r.dst), ...(gateway ? { gateway: quad(gateway) } : {}) };
      }),
    };
  }

  /** Closes the socket once running calls finish. */
  close(): void {
    this.native.close();
  }
}

/** The addon's class (native/route.cc): addresses as 4 bytes in network order. */
interface NativeRouteSocket {
  apply(ops: unknown[]): Promise<RouteResult>;
  dump(): Promise<{
    rules: (Omit<RoutingState['rules'][number], 'src'> & { src: Uint8Array })[];
    routes: (Omit<RoutingState['routes'][number], 'dst' | 'gateway'> & {
      dst: Uint8Array;
      gateway?: Uint8Array;
    })[];
  }>;
  close(): void;
}

/** An op as the addon reads it: flat, with raw addresses. */
function toNative(op: RouteOp, i: number): Record<string, unknown> {
  if (op.kind === 'rule') {
    const { src, ...rule } = op.rule;
    return { op: op.op, kind: op.kind, ...rule, src: bytes(src, `ops[${i}].rule.src`) };
  }
  const { dst, gateway, ...route } = op.route;
  const via = gateway === undefined ? {} : { gateway: bytes(gateway, `ops[${i}].route.gateway`) };
  return { op: op.op, kind: op.kind, ...route, dst: bytes(dst, `ops[${i}].route.dst`), ...via };
}

/** A dotted quad as 4 bytes; a TypeError naming `field` otherwise. */
function bytes(addr: string, field: string): Uint8Array {
  const parts = typeof addr === 'string' ? addr.split('.') : [];
  const ok = parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256);
  if (!ok) throw new TypeError(`${field}: expected a dotted-quad IPv4 address`);
  return Uint8Array.from(parts.map(Number));
}

function quad(b: Uint8Array): string {
  return Array.from(b).join('.');
}

/** Types the addon's errno-carrying errors as NftSocketError; others pass unchanged. */
function retype(err: unknown): unknown {
  const e = err as { errno?: unknown; syscall?: unknown };
  const native =
    err instanceof Error && typeof e.errno === 'number' && typeof e.syscall === 'string';
  return native ? new NftSocketError(err as ConstructorParameters<typeof NftSocketError>[0]) : err;
}

function typed<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw retype(err);
  }
}

async function typedAsync<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw retype(err);
  }
}

/**
 * Typed IPv4 policy routing: the only language between the outbound-IP planner and the
 * addon's RouteSocket. Addresses are dotted quads here; the wrapper hands the addon 4
 * raw bytes. Names follow linux/fib_rules.h and linux/rtnetlink.h.
 */

/** How an object is changed: `add` refuses to adopt an existing one (NLM_F_EXCL). */
export type RouteVerb = 'add' | 'delete';

/**
 * `from src/srcLen [fwmark fwmark/fwmask] lookup table` at `priority` (FR_ACT_TO_TBL),
 * marked with `protocol`. `0.0.0.0/0` is from all.
 */
export interface FibRule {
  priority: number;
  src: string;
  srcLen: number;
  /** FRA_FWMARK: the packet mark the rule matches, in host byte order */
  fwmark?: number;
  /** FRA_FWMASK: the bits of the mark compared; all of them when left out */
  fwmask?: number;
  table: number;
  /** FRA_PROTOCOL: who made the rule (RTPROT_*); the daemon marks its own */
  protocol: number;
}

/** The route types the daemon programs (RTN_UNICAST, RTN_THROW). */
export type RouteType = 'unicast' | 'throw';

/** `TYPE dst/dstLen [via gateway] table T proto P`. */
export interface Route {
  table: number;
  dst: string;
  dstLen: number;
  type: RouteType;
  /** the next hop of a unicast route */
  gateway?: string;
  protocol: number;
}

/** One request: sent one at a time, in order. */
export type RouteOp =
  | { op: RouteVerb; kind: 'rule'; rule: FibRule }
  | { op: RouteVerb; kind: 'route'; route: Route };

/** The result of apply(): all of the ops done, or those before `index` done. */
export type RouteResult =
  | { ok: true }
  | {
      ok: false;
      /** the op the kernel refused; every op before it was applied */
      index: number;
      errno: number;
      message: string;
      /** the kernel's extended ack text, such as "Nexthop has invalid gateway" */
      detail?: string;
    };

/** A rule as dumped; `action` is FR_ACT_* (1: lookup a table). */
export interface RuleState extends FibRule {
  action: number;
}

/** A route as dumped; a type the daemon never makes reads `other`. */
export interface RouteState extends Omit<Route, 'type'> {
  type: RouteType | 'other';
}

/** What dump() returns: every IPv4 rule and route of the namespace. */
export interface RoutingState {
  rules: RuleState[];
  routes: RouteState[];
}

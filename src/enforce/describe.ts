/**
 * Readable names for operations and hints for the kernel's errnos, so that a refused
 * transaction says what was refused and what to do about it.
 */
import type { Op } from '../nft/types';

/** "add rule ws_a_out", "delete elements from egress_net (3)", "add table workspace_netd". */
export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'table':
      return `${op.op} table ${op.name}`;
    case 'chain':
      return `${op.op} chain ${op.name}`;
    case 'set':
      return op.op === 'delete' ? `delete set ${op.name}` : `${op.op} set ${op.set.name}`;
    case 'elements':
      const dir = op.op === 'delete' ? 'from' : 'to';
      return `${op.op} ${op.elements.length} element(s) ${dir} ${op.set}`;
    case 'rule':
      return `add rule to chain ${op.chain}`;
  }
}

/** A hint for an errno the daemon knows how to explain. */
export function hintFor(errno: number, table: string): string | undefined {
  switch (errno) {
    case 1: // EPERM
      return `the daemon needs CAP_NET_ADMIN, and no other process may own table ${table}`;
    case 2: // ENOENT
    case 17: // EEXIST
      return `table ${table} differs from what the daemon committed: was it changed by hand?`;
    case 16: // EBUSY
      return 'an object is still referenced; this is a bug in the compiler';
    case 90: // EMSGSIZE
    case 105: // ENOBUFS
      return 'the netlink batch did not fit the socket buffer; raise net.core.wmem_max';
    case 95: // EOPNOTSUPP
      return 'the kernel lacks an nf_tables feature the daemon uses (Linux 5.6 or newer)';
    default:
      return undefined;
  }
}

/**
 * Typed nftables objects: the only language between the compiler and the addon.
 *
 * Every value here is already validated and already encoded the way the kernel wants it
 * (network byte order where a header field is compared, host byte order where the kernel
 * says so). The addon encodes these into netlink attributes one to one; it never parses
 * text and never decides anything. Names and numbers follow linux/netfilter/nf_tables.h.
 */

/** Address families the daemon uses (NFPROTO_*). */
export type Family = 'inet' | 'ip' | 'ip6' | 'netdev';

/**
 * A register. 0 is the verdict register; 1 to 4 are the 16-byte registers NFT_REG_1..4;
 * 8 to 23 are the 4-byte registers NFT_REG32_00..15 that overlap them, used for
 * concatenations (a field of n bytes takes ceil(n / 4) consecutive 4-byte registers).
 */
export type Reg = number;

/** A verdict, as NFT_ACCEPT, NFT_DROP, NFT_RETURN, NFT_JUMP, NFT_GOTO, NFT_CONTINUE. */
export type Verdict =
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'return' }
  | { kind: 'continue' }
  | { kind: 'jump'; chain: string }
  | { kind: 'goto'; chain: string };

/** NFT_META_* keys the daemon loads. */
export type MetaKey = 'iifname' | 'oifname' | 'iif' | 'oif' | 'nfproto' | 'l4proto' | 'mark';

/** NFT_PAYLOAD_*_HEADER. */
export type PayloadBase = 'link' | 'network' | 'transport';

/** NFT_CT_* keys the daemon loads. */
export type CtKey = 'state' | 'direction' | 'status' | 'mark';

/** NFT_CMP_*. */
export type CmpOp = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte';

/** One expression of a rule; `type` is the libnftnl expression name. */
export type Expr =
  | { type: 'meta'; key: MetaKey; dreg: Reg }
  /** `meta KEY set`: the packet's metadata from a register (the daemon sets only `mark`) */
  | { type: 'meta'; key: 'mark'; sreg: Reg }
  | { type: 'payload'; base: PayloadBase; offset: number; len: number; dreg: Reg }
  | { type: 'cmp'; sreg: Reg; op: CmpOp; data: Uint8Array }
  | { type: 'bitwise'; sreg: Reg; dreg: Reg; len: number; mask: Uint8Array; xor: Uint8Array }
  | { type: 'lookup'; sreg: Reg; set: string; dreg?: Reg; invert?: boolean }
  | { type: 'immediate'; dreg: 0; verdict: Verdict }
  | { type: 'immediate'; dreg: Reg; data: Uint8Array }
  | { type: 'ct'; key: CtKey; dreg: Reg }
  | { type: 'counter' }
  | { type: 'masq' }
  | {
      type: 'nat';
      nat: 'snat' | 'dnat';
      family: 'ip';
      /** register holding the 4-byte address (network order) */
      addrReg: Reg;
      /** register holding the 2-byte port (network order), if any */
      protoReg?: Reg;
    }
  | { type: 'reject'; kind: 'tcp-reset' }
  | { type: 'reject'; kind: 'icmpx'; code: IcmpxCode };

/** NFT_REJECT_ICMPX_* codes. */
export type IcmpxCode = 'no-route' | 'port-unreachable' | 'host-unreachable' | 'admin-prohibited';

/** NF_INET_* hooks. */
export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

/** What makes a chain a base chain. */
export interface BaseChain {
  type: 'filter' | 'nat' | 'route';
  hook: Hook;
  priority: number;
  policy: 'accept' | 'drop';
}

/**
 * A set's or a map's shape. Key and data types are nft's datatype numbers (the ones
 * `nft list` uses to print them); a concatenation's type is the types shifted 6 bits each
 * (CONCAT_TYPE_BITS), first field highest.
 */
export interface SetSpec {
  name: string;
  keyType: number;
  /** total key length in bytes, every field padded to 4 */
  keyLen: number;
  /** field lengths in bytes, unpadded, for a concatenation (NFTA_SET_DESC_CONCAT) */
  fields?: number[];
  interval?: boolean;
  constant?: boolean;
  /** elements may carry a timeout (NFT_SET_TIMEOUT) */
  timeout?: boolean;
  /** how `nft list` should read the key (set userdata; the kernel ignores it) */
  keyByteorder?: 'host' | 'big';
  /** how `nft list` should read a map's values, such as a mark (set userdata) */
  dataByteorder?: 'host' | 'big';
  /** a map: NFT_DATA_VERDICT (0xffffff00) for a verdict map, else a datatype */
  dataType?: number;
  dataLen?: number;
}

/** One element: its key (and closing key for an interval), and its value in a map. */
export interface Element {
  key: Uint8Array;
  keyEnd?: Uint8Array;
  verdict?: Verdict;
  data?: Uint8Array;
  /** ms until the kernel drops it, in a timeout set; adding it again restarts the clock */
  timeout?: number;
  /** read back only: ms the element has left */
  expires?: number;
}

/** NFT_TABLE_F_* flags the daemon may set, and those a read-back may find besides. */
export interface TableFlags {
  owner?: boolean;
  persist?: boolean;
  /** read back only: another program made the table dormant (its base chains are off) */
  dormant?: boolean;
  /** read back only: flag bits this daemon does not know */
  other?: number;
}

/**
 * How an object is added: `add` adopts an existing object (nft add), `create` refuses to
 * (NLM_F_EXCL, nft create): the daemon creates its own objects, so that a chain someone
 * else made, with rules of theirs in it, is reported instead of silently extended.
 */
export type AddVerb = 'add' | 'create';

/** One operation of a transaction. */
export type Op =
  // flags absent: `add` leaves an existing table's flags as they are
  | { op: AddVerb; kind: 'table'; family: Family; name: string; flags?: TableFlags }
  | { op: 'delete'; kind: 'table'; family: Family; name: string }
  | { op: AddVerb; kind: 'chain'; family: Family; table: string; name: string; base?: BaseChain }
  | { op: 'flush'; kind: 'chain'; family: Family; table: string; name: string }
  | { op: 'delete'; kind: 'chain'; family: Family; table: string; name: string }
  | { op: AddVerb; kind: 'set'; family: Family; table: string; set: SetSpec }
  | { op: 'delete'; kind: 'set'; family: Family; table: string; name: string }
  | { op: AddVerb | 'delete'; kind: 'elements'; family: Family; table: string; set: string;
      elements: Element[] }
  | { op: 'add'; kind: 'rule'; family: Family; table: string; chain: string; exprs: Expr[] };

/** Why the kernel refused a transaction: which operation, and the errno. */
export interface CommitFailure {
  ok: false;
  /** index into the ops array of the operation the kernel refused */
  index: number;
  errno: number;
  /** strerror text of errno */
  message: string;
}

/** The result of a commit: all of it applied, or none of it. */
export type CommitResult = { ok: true } | CommitFailure;

/** A chain as read back from the kernel. */
export interface ChainState {
  name: string;
  base?: BaseChain;
  rules: { handle: number; exprs: Expr[] }[];
}

/** A set as read back from the kernel, with its elements. */
export interface SetState {
  spec: SetSpec;
  elements: Element[];
}

/** A table as read back from the kernel. */
export interface TableState {
  family: Family;
  name: string;
  flags: TableFlags;
  chains: ChainState[];
  sets: SetState[];
}

/** A chain as the addon reads it back: its rules stay in the addon until asked for. */
export interface ChainReadBack {
  name: string;
  base?: BaseChain;
  ruleCount: number;
}

/** A set as the addon reads it back, its elements packed (src/nft/packed.ts). */
export interface SetReadBack {
  spec: SetSpec;
  /** how many elements `elements` holds */
  count: number;
  elements: Uint8Array;
}

/**
 * A table as the addon reads it back (NftSocket.readTable): built on the worker thread so
 * that the main thread is held for little at a time, however large the table.
 */
export interface TableReadBack {
  family: Family;
  name: string;
  flags: TableFlags;
  chains: ChainReadBack[];
  sets: SetReadBack[];
  /** rules `from` to `to - 1` of every chain's rules back to back, in `chains` order */
  rules(from: number, to: number): ChainState['rules'];
}

/** One conntrack entry's original-direction tuple (IPv4 only). */
export interface CtTuple {
  /** IPPROTO_* number */
  proto: number;
  src: string;
  dst: string;
  /** 0 for protocols without ports */
  sport: number;
  dport: number;
  /**
   * Where the peer sends its replies (the reply tuple's destination, as ctList reads it):
   * the address `src` was translated to by snat or masquerade, else `src` itself.
   */
  replyDst?: string;
  /** a TCP entry's TCP_CONNTRACK_* state (linux nf_conntrack_tcp.h), as ctList reads it */
  tcpState?: number;
  /** an ICMP entry's echo id, type and code, which identify it in place of ports */
  icmp?: { id: number; type: number; code: number };
}

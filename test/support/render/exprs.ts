/**
 * Decompiles one rule's expressions into nft's notation, as `nft list` does: loads
 * fill registers, a cmp or lookup turns the loads it reads into a match, and a
 * protocol dependency nft added for a header field (meta nfproto ipv4 before an `ip`
 * field, meta l4proto tcp before a `tcp` port) is hidden once that field is printed.
 */
import type { Expr, Family, SetSpec } from '../../../src/nft/types';
import { beNumber, ctStateNames, formatValue, leNumber, protoName, TYPE } from './datatypes';
import { formatVerdict } from './sets';

/** What a register holds: a named field of a type, or an immediate value. */
interface Load {
  /** the field as nft names it (`iifname`, `ip daddr`, `th dport`) */
  name: string;
  type: number;
  len: number;
  mask?: Uint8Array;
  data?: Uint8Array;
  /** which meta/ct key it is, when the value needs special handling */
  key?: string;
  /** the protocol dependency this field hides when printed */
  hides?: 'nfproto' | 'l4proto';
}

/** One printed statement; a dependency may be dropped later. */
interface Stmt {
  text: string;
  dep?: 'nfproto' | 'l4proto';
}

const OPS: Record<string, string> = {
  eq: '', neq: '!= ', lt: '< ', lte: '<= ', gt: '> ', gte: '>= ',
};

const META: Record<string, [string, number, number]> = {
  iifname: ['iifname', TYPE.ifname, 16], oifname: ['oifname', TYPE.ifname, 16],
  iif: ['iif', TYPE.integer, 4], oif: ['oif', TYPE.integer, 4],
  nfproto: ['meta nfproto', TYPE.nfproto, 1], l4proto: ['meta l4proto', TYPE.inetProto, 1],
  mark: ['meta mark', TYPE.mark, 4],
};

const CT: Record<string, [string, number, number]> = {
  state: ['ct state', TYPE.ctState, 4], direction: ['ct direction', TYPE.ctDir, 1],
  status: ['ct status', TYPE.integer, 4], mark: ['ct mark', TYPE.mark, 4],
};

/** Matches that nft treats as a protocol dependency of a later header field. */
const DEPS: Record<string, Stmt['dep']> = {
  'meta nfproto': 'nfproto', 'meta l4proto': 'l4proto',
};

/** A register's index in 4-byte units: NFT_REG_1..4 alias NFT_REG32_00, 04, 08, 12. */
export function slot(reg: number): number {
  return reg >= 1 && reg <= 4 ? 8 + (reg - 1) * 4 : reg;
}

/** Decompiles the rules of one table; `sets` gives lookup key widths. */
export class RuleDecompiler {
  constructor(
    private readonly family: Family,
    private readonly sets: ReadonlyMap<string, SetSpec>,
  ) {}

  /** One rule's text, statements separated by a space. */
  rule(exprs: Expr[]): string {
    const state = new RuleState(this.family, this.sets);
    for (const e of exprs) state.step(e);
    return state.out.map((s) => s.text).join(' ');
  }
}

/** Registers and protocol context while one rule is decompiled. */
class RuleState {
  readonly out: Stmt[] = [];
  private readonly regs = new Map<number, Load>();
  private nfproto = -1;
  private l4proto = -1;

  constructor(
    private readonly family: Family,
    private readonly sets: ReadonlyMap<string, SetSpec>,
  ) {}

  step(e: Expr): void {
    switch (e.type) {
      case 'meta':
        if ('sreg' in e) return this.emit(`meta ${e.key} set ${this.fieldName(this.read(e.sreg))}`);
        return this.load(e.dreg, this.meta(e.key));
      case 'ct': return this.load(e.dreg, this.ct(e.key));
      case 'payload': return this.load(e.dreg, this.payload(e.base, e.offset, e.len));
      case 'bitwise': return this.load(e.dreg, { ...this.read(e.sreg), mask: e.mask });
      case 'cmp': return this.cmp(e.sreg, e.op, e.data);
      case 'lookup': return this.lookup(e.sreg, e.set, e.dreg, e.invert);
      case 'immediate':
        if ('verdict' in e) return this.emit(formatVerdict(e.verdict));
        return this.load(e.dreg, { name: 'immediate', type: TYPE.integer, len: e.data.length,
          data: e.data });
      case 'counter': return this.emit('counter packets 0 bytes 0');
      case 'masq': return this.emit('masquerade');
      case 'nat': return this.emit(this.nat(e.nat, e.addrReg, e.protoReg));
      case 'reject':
        if (e.kind === 'tcp-reset') return this.emit('reject with tcp reset');
        return this.emit(e.code === 'port-unreachable' ? 'reject' : `reject with icmpx ${e.code}`);
    }
  }

  private emit(text: string, dep?: Stmt['dep']): void {
    this.out.push({ text, dep });
  }

  private load(reg: number, load: Load): void {
    this.regs.set(slot(reg), load);
  }

  private read(reg: number): Load {
    const load = this.regs.get(slot(reg));
    if (!load) throw new Error(`register ${reg} read before it was loaded`);
    return load;
  }

  private meta(key: string): Load {
    const [name, type, len] = META[key];
    return { name, type, len, key: `meta ${key}` };
  }

  private ct(key: string): Load {
    const [name, type, len] = CT[key];
    return { name, type, len, key: `ct ${key}` };
  }

  /** Names a header field the way nft does given the protocol context so far. */
  private payload(base: string, offset: number, len: number): Load {
    const raw = { name: `@${{ link: 'll', network: 'nh', transport: 'th' }[base]},` +
      `${offset * 8},${len * 8}`, type: TYPE.integer, len };
    if (base === 'network' && (this.family === 'ip' || this.nfproto === 2)) {
      const hides = this.family === 'ip' ? undefined : 'nfproto' as const;
      if ((offset === 12 || offset === 16) && len <= 4) {
        return { name: `ip ${offset === 12 ? 'saddr' : 'daddr'}`, type: TYPE.ipv4, len, hides };
      }
      if (offset === 9 && len === 1) {
        return { name: 'ip protocol', type: TYPE.inetProto, len, hides };
      }
    }
    if (base === 'transport' && (offset === 0 || offset === 2) && len === 2) {
      const field = offset === 0 ? 'sport' : 'dport';
      const proto = this.l4proto === 6 || this.l4proto === 17 ? protoName(this.l4proto) : '';
      if (proto) {
        return { name: `${proto} ${field}`, type: TYPE.inetService, len, hides: 'l4proto' };
      }
      return { name: `th ${field}`, type: TYPE.inetService, len };
    }
    return raw;
  }

  /** Prints a field's name, first dropping the dependency it makes redundant. */
  private fieldName(load: Load): string {
    if (load.hides) {
      const at = this.out.findIndex((s) => s.dep === load.hides);
      if (at >= 0) this.out.splice(at, 1);
    }
    return load.name;
  }

  private cmp(reg: number, op: string, data: Uint8Array): void {
    const load = this.read(reg);
    const name = this.fieldName(load);

    if (load.key === 'ct state' && load.mask && op === 'neq' && leNumber(data) === 0) {
      return this.emit(`${name} ${ctStateNames(leNumber(load.mask))}`);
    }
    const value = this.value(load, data);
    const dep = op === 'eq' ? DEPS[load.key ?? ''] : undefined;
    if (dep === 'nfproto') this.nfproto = data[0];
    if (dep === 'l4proto') this.l4proto = data[0];
    this.emit(`${name} ${OPS[op]}${value}`, dep);
  }

  /** A compared value: an address with its prefix, a name, a number. */
  private value(load: Load, data: Uint8Array): string {
    if (load.key === 'meta iif' || load.key === 'meta oif') return String(leNumber(data));
    if (load.type !== TYPE.ipv4) {
      const text = formatValue(load.type, data);
      return load.mask ? `${text} & 0x${beNumber(load.mask).toString(16)}` : text;
    }
    const addr = new Uint8Array(4);
    addr.set(data.subarray(0, 4));
    const maskBits = load.mask
      ? [...load.mask].reduce((n, b) => n + popcount(b), 0) : 8 * load.len;
    return maskBits < 32 ? `${formatValue(TYPE.ipv4, addr)}/${maskBits}`
      : formatValue(TYPE.ipv4, addr);
  }

  /** Gathers the loads a key of `width` bytes spans, from `reg` on. */
  private keyAt(reg: number, width: number): string {
    const names: string[] = [];
    for (let at = slot(reg), end = at + Math.ceil(width / 4); at < end;) {
      const load = this.regs.get(at);
      if (!load) throw new Error(`lookup key at register ${at} is not loaded`);
      names.push(this.fieldName(load));
      at += Math.ceil(load.len / 4);
    }
    return names.join(' . ');
  }

  private lookup(reg: number, set: string, dreg?: number, invert?: boolean): void {
    const width = this.sets.get(set)?.keyLen ?? this.read(reg).len;
    const key = this.keyAt(reg, width);

    if (dreg === 0) return this.emit(`${key} vmap @${set}`);
    if (dreg !== undefined) {
      return this.load(dreg, { name: `${key} map @${set}`, type: TYPE.integer, len: 4 });
    }
    this.emit(`${key} ${invert ? '!= ' : ''}@${set}`);
  }

  private nat(kind: string, addrReg: number, protoReg?: number): string {
    const addr = this.read(addrReg);
    const at = addr.data ? formatValue(TYPE.ipv4, addr.data) : addr.name;
    const port = protoReg === undefined ? undefined : this.read(protoReg);
    const to = port ? `${at}:${port.data ? beNumber(port.data.subarray(0, 2)) : port.name}` : at;
    return `${kind} ${this.family === 'inet' ? 'ip ' : ''}to ${to}`;
  }
}

function popcount(b: number): number {
  let n = 0;
  for (let x = b; x; x >>= 1) n += x & 1;
  return n;
}

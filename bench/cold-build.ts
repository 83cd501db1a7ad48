/**
 * Benchmark 1, cold build: the whole table for n workspaces committed into a fresh
 * namespace, by the daemon's path (compile, diff against nothing, one NftSocket
 * transaction) and by `nft -f` loading the same ruleset as text (the renderer's notation).
 * Once, at the smallest size, both tables are read back and must be the same.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { compileWorkspace } from '../src/compile/workspace';
import { diffWorkspace } from '../src/compile/diff';
import { skeleton, FAMILY } from '../src/compile/layout';
import { NftSocket } from '../src/nft/addon';
import type { Op, TableState } from '../src/nft/types';
import type { Workspace } from '../src/model/types';
import { run } from '../test/lab/netns';
import { renderTable } from '../test/support/render';
import { fleet, OPTIONS } from './fleet';
import { inNetns, scratch } from './scratch';
import { median, msSince } from './stats';

/** The medians of one size. */
export interface ColdRow {
  workspaces: number;
  ops: number;
  elements: number;
  /** compile + diff, in ms */
  compileMs: number;
  /** the addon encoding the ops on the main thread (commit's synchronous part), in ms */
  encodeMs?: number;
  /** from the batch handed to the worker to its acks read: the kernel's share, in ms */
  kernelMs?: number;
  /** compile + diff + open + commit, in ms */
  oursMs: number;
  /** nft -f of the rendered text, in ms */
  nftMs: number;
}

/** The daemon's cold transaction for a fleet. */
export function coldOps(ws: ReadonlyMap<string, Workspace>): Op[] {
  const ops = skeleton(OPTIONS);
  for (const w of ws.values()) {
    ops.push(...diffWorkspace(OPTIONS.table, null, compileWorkspace(w, ws, OPTIONS)));
  }
  return ops;
}

/**
 * The ruleset in nft's notation. nft 1.0.6 refuses the empty interface name that marks a
 * packet from the host (`iifname ""`: "Empty string is not allowed"), so the text says
 * `iifname " "` there: the same expressions, one compared byte apart.
 */
export function nftText(ops: Op[]): string {
  const text = renderTable(coldState(ops)).replaceAll('iifname "" ', 'iifname " " ');
  return text.replace(KEYWORD_CHAIN, (name) => `${name}_`);
}

/**
 * Chain names that are words of nft's grammar, which nft 1.0.6 cannot declare or jump to
 * (quoted or not); the text names them with a trailing `_`.
 */
const KEYWORD_CHAIN = /(?<=\b(?:chain|jump|goto) )(?:redirect|masquerade|dnat|snat)\b/g;

/**
 * The table a cold transaction builds. The renderer's applyOps replays any operation list,
 * at a cost quadratic in a set's size; a cold build only creates, so appending will do.
 */
function coldState(ops: Op[]): TableState {
  const state: TableState = { family: FAMILY, name: OPTIONS.table, flags: {}, chains: [],
    sets: [] };
  const chains = new Map<string, TableState['chains'][number]>();
  const sets = new Map<string, TableState['sets'][number]>();
  for (const op of ops) {
    if (op.op === 'delete' || op.op === 'flush') throw new Error(`not a cold build: ${op.op}`);
    if (op.kind === 'set') sets.set(op.set.name, { spec: op.set, elements: [] });
    else if (op.kind === 'chain') chains.set(op.name, { name: op.name, base: op.base, rules: [] });
    else if (op.kind === 'elements') sets.get(op.set)!.elements.push(...op.elements);
    else if (op.kind === 'rule') {
      const rules = chains.get(op.chain)!.rules;
      rules.push({ handle: rules.length + 1, exprs: op.exprs });
    }
  }
  return { ...state, sets: [...sets.values()], chains: [...chains.values()] };
}

/** Runs the cold build `runs` times per size, alternating which side goes first. */
export async function coldBuild(sizes: number[], runs: number,
  log: (line: string) => void): Promise<{ rows: ColdRow[]; equivalent: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'wnd-bench-'));
  try {
    const inputs = sizes.map((n) => {
      const ws = fleet(n);
      const ops = coldOps(ws);
      const file = join(dir, `table-${n}.nft`);
      writeFileSync(file, nftText(ops));
      return { n, ws, ops, file };
    });
    const equivalent = await checkEquivalent(inputs[0].ws, inputs[0].file);
    log(`cold build: tables equivalent at ${inputs[0].n} workspaces: ${equivalent}`);

    const samples = inputs.map(() => ({ compile: [] as number[], encode: [] as number[],
      kernel: [] as number[], ours: [] as number[], nft: [] as number[] }));
    for (let r = 0; r < runs; r++) {
      for (const [k, input] of inputs.entries()) {
        const s = samples[k];
        const ours = async () => {
          const t = await timeOurs(input.ws);
          s.compile.push(t.compileMs);
          s.encode.push(t.encodeMs);
          s.kernel.push(t.kernelMs);
          s.ours.push(t.totalMs);
        };
        const nft = async () => s.nft.push(await timeNft(input.file));
        if (r % 2 === 0) await ours(), await nft();
        else await nft(), await ours();
        log(`cold build: ${input.n} workspaces, run ${r + 1}: ours ${s.ours.at(-1)!.toFixed(0)}` +
          ` ms (compile ${s.compile.at(-1)!.toFixed(0)}, encode ${s.encode.at(-1)!.toFixed(0)},` +
          ` kernel ${s.kernel.at(-1)!.toFixed(0)}), nft -f ${s.nft.at(-1)!.toFixed(0)} ms`);
      }
    }
    const rows = inputs.map((input, k) => ({
      workspaces: input.n,
      ops: input.ops.length,
      elements: countElements(input.ops),
      compileMs: median(samples[k].compile),
      encodeMs: median(samples[k].encode),
      kernelMs: median(samples[k].kernel),
      oursMs: median(samples[k].ours),
      nftMs: median(samples[k].nft),
    }));
    return { rows, equivalent };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Our path, from the desired state to the committed table, in a fresh namespace. */
async function timeOurs(ws: ReadonlyMap<string, Workspace>) {
  const ns = await scratch('cold');
  try {
    const start = process.hrtime.bigint();
    const ops = coldOps(ws);
    const compileMs = msSince(start);
    const sock = NftSocket.open({ netns: ns.path });
    try {
      // commit() encodes before it returns its promise; the worker then sends the batch,
      // and the kernel applies it inside sendmsg before the acks can be read.
      const sent = process.hrtime.bigint();
      const pending = sock.commit(ops);
      const encodeMs = msSince(sent);
      const result = await pending;
      const kernelMs = msSince(sent) - encodeMs;
      if (!result.ok) throw new Error(`cold build refused: ${JSON.stringify(result)}`);
      return { compileMs, encodeMs, kernelMs, totalMs: msSince(start) };
    } finally {
      sock.close();
    }
  } finally {
    await ns.drop();
  }
}

/** `nft -f FILE` in a fresh namespace, process start to exit. */
export async function timeNft(file: string): Promise<number> {
  const ns = await scratch('cold');
  try {
    const argv = inNetns(ns, ['nft', '-f', file]);
    const start = process.hrtime.bigint();
    await run(argv[0], argv.slice(1), { timeoutMs: 300_000 });
    return msSince(start);
  } finally {
    await ns.drop();
  }
}

/**
 * Loads the same fleet both ways and compares what `nft -j list table` says of the two
 * tables: nft decompiles equivalent bytecode alike (it loads a /8 prefix as one byte where
 * the daemon masks four), so this compares meaning, not encoding. Returns 'yes' or why not.
 */
async function checkEquivalent(ws: ReadonlyMap<string, Workspace>, file: string):
  Promise<string> {
  const [a, b] = [await scratch('eqa'), await scratch('eqb')];
  const sock = NftSocket.open({ netns: a.path });
  try {
    const result = await sock.commit(coldOps(ws));
    if (!result.ok) return `no: our commit was refused (${result.message})`;
    await nsRun(b.path, ['nft', '-f', file]);
    const list = async (path: string) => comparable(JSON.parse(
      await nsRun(path, ['nft', '-j', 'list', 'table', FAMILY, OPTIONS.table])));
    const [ours, theirs] = [await list(a.path), await list(b.path)];
    if (ours.length !== theirs.length) return `no: ${ours.length} vs ${theirs.length} objects`;
    const k = ours.findIndex((x, i) => x !== theirs[i]);
    return k < 0 ? 'yes' : `no: ours ${ours[k].slice(0, 300)} vs nft ${theirs[k].slice(0, 300)}`;
  } finally {
    sock.close();
    await a.drop();
    await b.drop();
  }
}

/** Runs argv in the namespace at `path`; its stdout. */
async function nsRun(path: string, argv: string[]): Promise<string> {
  const full = inNetns(path, argv);
  return (await run(full[0], full.slice(1), { timeoutMs: 120_000 })).stdout;
}

/**
 * nft's JSON listing as one string per object, without what the kernel assigns (handles)
 * and with set elements sorted; the text's stand-ins (see nftText) read as the originals.
 */
function comparable(listing: { nftables: Record<string, Record<string, unknown>>[] }): string[] {
  return listing.nftables.filter((o) => !o.metainfo).map((o) => {
    const [kind, body] = Object.entries(o)[0];
    const { handle: _h, ...rest } = body;
    if (Array.isArray(rest.elem)) {
      rest.elem = rest.elem.map((e) => JSON.stringify(e)).sort().map((e) => JSON.parse(e));
    }
    const iifname = '{"meta":{"key":"iifname"}},"right":';
    return JSON.stringify({ [kind]: rest })
      .replaceAll(`${iifname}" "}`, `${iifname}""}`)
      .replace(/"(redirect|masquerade|dnat|snat)_"/g, '"$1"');
  });
}

function countElements(ops: Op[]): number {
  return ops.reduce((sum, op) => sum + (op.kind === 'elements' ? op.elements.length : 0), 0);
}

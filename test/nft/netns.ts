/**
 * Fixtures of the addon's kernel tests: a fresh network namespace per test, an open
 * NftSocket inside it, and readback normalised for comparison. Nothing here touches the
 * machine's own namespace: the namespace is created, used through its path, and removed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';

import { NftSocket, type ReadTableState } from '../../src/nft/addon';

/** A namespace of one test and the socket opened inside it. */
export interface Fixture {
  ns: string;
  sock: NftSocket;
  /** runs a command inside the namespace and returns its stdout */
  exec(args: string[]): string;
}

/** Creates `wn-<random>`, opens a socket in it, and removes both at teardown. */
export function fixture(t: Test): Fixture {
  const ns = `wn-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const sock = NftSocket.open({ netns: `/run/netns/${ns}` });
  t.teardown(() => {
    sock.close();
    execFileSync('ip', ['netns', 'del', ns]);
  });

  const exec = (args: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
  return { ns, sock, exec };
}

/** Hex of a key, for sorting and comparing elements. */
export function hex(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? '' : Buffer.from(bytes).toString('hex');
}

/**
 * A table state in a form that compares with t.same: rule handles dropped (the kernel
 * assigns them) and each set's elements sorted by key (hash sets keep no order).
 */
export function normalize(state: ReadTableState | null): unknown {
  if (state === null) {
    return null;
  }
  return {
    ...state,
    chains: state.chains.map((c) => ({ ...c, rules: c.rules.map((r) => r.exprs) })),
    sets: state.sets.map((s) => ({
      ...s,
      elements: [...s.elements].sort((a, b) => hex(a.key).localeCompare(hex(b.key))),
    })),
  };
}

/**
 * What scripts/systemd-check runs inside its container, next to the daemon that systemd
 * started there: the API over its Unix socket, and the daemon's table as the kernel holds it
 * (through the addon, because nft 1.0.6 does not name the persist flag). Each command
 * prints one JSON line.
 *
 *   probe healthz                      { status }  (0: nothing listens)
 *   probe put ID IP GATEWAY IFACE      { status }
 *   probe table                        the table's summary, or { present: false }
 *   probe watch MS                     the table sampled every 20 ms for MS: never missing?
 *   probe hold MS FILE                 owns the table until FILE exists (MS at most)
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { NftSocket } from '../../src/nft/addon';
import type { TableState } from '../../src/nft/types';

const SOCKET = '/run/workspace-netd/api.sock';
const TABLE = 'workspace_netd';

/** One request to the daemon's API; status 0 when its socket does not answer. */
function api(method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ socketPath: SOCKET, method, path, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    if (body !== undefined) req.setHeader('content-type', 'application/json');
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The table's flags and size: what must survive a restart and a stop. */
interface Summary {
  present: boolean;
  owner?: boolean;
  persist?: boolean;
  chains?: number;
  rules?: number;
  elements?: number;
}

function summarize(table: TableState | null): Summary {
  if (table === null) return { present: false };
  return {
    present: true,
    owner: table.flags.owner === true,
    persist: table.flags.persist === true,
    chains: table.chains.length,
    rules: table.chains.reduce((n, c) => n + c.rules.length, 0),
    elements: table.sets.reduce((n, s) => n + s.elements.length, 0),
  };
}

/**
 * Samples the table until `ms` have passed. A restart shows as owned, then orphaned
 * (persist only), then owned again; `missing` and `smallest` say whether any rule was ever
 * gone in between.
 */
async function watch(nl: NftSocket, ms: number): Promise<unknown> {
  const end = Date.now() + ms;
  const phases: string[] = [];
  let samples = 0;
  let missing = 0;
  let smallest = Infinity;
  while (Date.now() < end) {
    const s = summarize(await nl.listTable('inet', TABLE));
    samples += 1;
    if (!s.present) missing += 1;
    smallest = Math.min(smallest, s.rules ?? 0);
    const phase = !s.present ? 'missing' : s.owner ? 'owned' : 'orphaned';
    if (phases[phases.length - 1] !== phase) phases.push(phase);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { samples, missing, smallest_rules: smallest, phases };
}

/**
 * Takes the (orphaned) table over as its owner, as another program could, until `release`
 * exists or `ms` have passed; the kernel frees it when the socket closes.
 */
async function hold(nl: NftSocket, ms: number, release: string): Promise<unknown> {
  const taken = await nl.commit([
    { op: 'add', kind: 'table', family: 'inet', name: TABLE,
      flags: { owner: true, persist: true } },
  ]);
  if (!taken.ok) return { held: false, error: taken.message };
  const started = Date.now();
  while (Date.now() - started < ms && !existsSync(release)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { held: true, ms: Date.now() - started };
}

async function main(argv: string[]): Promise<unknown> {
  const [command, ...args] = argv;
  if (command === 'healthz') return { status: await api('GET', '/healthz') };
  if (command === 'put') {
    const [id, ip, gateway, iface] = args;
    return { status: await api('PUT', `/workspace/${id}`, { ip, gateway, interface: iface }) };
  }

  const nl = NftSocket.open();
  try {
    if (command === 'table') return summarize(await nl.listTable('inet', TABLE));
    if (command === 'watch') return await watch(nl, Number(args[0]));
    if (command === 'hold') return await hold(nl, Number(args[0]), args[1] ?? '');
  } finally {
    nl.close();
  }
  throw new Error(`probe: unknown command ${command ?? '(none)'}`);
}

main(process.argv.slice(2)).then(
  (out) => process.stdout.write(`${JSON.stringify(out)}\n`),
  (err) => {
    process.stderr.write(`probe: ${(err as Error).message}\n`);
    process.exit(1);
  },
);

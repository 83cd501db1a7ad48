/**
 * Benchmark 5, the API: requests per second over the Unix socket for GET and PATCH, with
 * the fleet registered, against a request for a path the API does not have (the
 * framework's floor: the same socket, parser, router, error answer and log line, and no
 * work of the daemon's), and the daemon's resident memory.
 */
import { EGRESS_PORTS, wsId } from './fleet';
import type { FleetDaemon } from './change';
import { median } from './stats';

/** One kind of request: its medians over rounds. */
export interface ApiRow {
  name: string;
  rps: number;
}

type Request = [method: string, path: string, body?: unknown];

/** Concurrent requests: as many as the client keeps connections. */
const CONNECTIONS = 8;

/** Requests per second of `make` over `connections` concurrent loops for `seconds`. */
async function rps(d: FleetDaemon, make: (loop: number, k: number) => Request,
  connections: number, seconds: number, status: number): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const loop = async (c: number) => {
    for (let k = 0; Date.now() < end && k < 1_000_000; k++) {
      const [method, path, body] = make(c, k);
      const r = await d.api.call(method, path, body);
      if (r.status !== status) throw new Error(`${method} ${path}: ${r.status}, not ${status}`);
      done++;
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: connections }, (_, c) => loop(c)));
  return done / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** GET and PATCH rates against the floor, `rounds` times each, interleaved. */
export async function apiRates(d: FleetDaemon, rounds: number, seconds: number,
  log: (line: string) => void): Promise<ApiRow[]> {
  const n = d.registered;
  const kinds: { name: string; status: number; make: (c: number, k: number) => Request }[] = [
    { name: 'GET /no-such-path, 404 (floor)', status: 404, make: () => ['GET', '/no-such-path'] },
    { name: 'GET /healthz', status: 200, make: () => ['GET', '/healthz'] },
    {
      name: 'GET /workspace/:id/network', status: 200,
      make: (c, k) => ['GET', `/workspace/${wsId((c * 997 + k * 31) % n)}/network`],
    },
    {
      // Each loop changes its own workspace, so the PATCHes may run side by side.
      name: 'PATCH /workspace/:id/network', status: 200,
      make: (c, k) => ['PATCH', `/workspace/${wsId(1 + c)}/network`,
        { egress_ports: k % 2 === 0 ? [...EGRESS_PORTS, 8443] : EGRESS_PORTS }],
    },
  ];
  const samples = kinds.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, kind] of kinds.entries()) {
      samples[i].push(await rps(d, kind.make, CONNECTIONS, seconds, kind.status));
      log(`api: ${n} workspaces, round ${r + 1}: ${kind.name} ${Math.round(samples[i].at(-1)!)}/s`);
    }
  }
  return kinds.map((k, i) => ({ name: k.name, rps: median(samples[i]) }));
}

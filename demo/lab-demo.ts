/**
 * The quick-start demo: builds the lab, starts the daemon in its host namespace, registers
 * three workspaces, applies the seed's example policies (with lab addresses in place of the
 * seed's hostnames), then sends real traffic and prints what the kernel did with it. Exits
 * non-zero when any probe disagrees with the policy. Run as root: `scripts/demo`.
 */
import { createLab, type Lab } from '../test/lab/lab';
import { dns, tcp, type TcpOutcome } from '../test/lab/probe';

/** One line of the demo's table; `detail` explains `got` without taking part in the verdict. */
interface Row {
  from: string;
  to: string;
  expected: string;
  got: string;
  detail?: string;
}

const TABLE = 'workspace_netd';
const SILENCE_MS = 1500;

/** Registers the workspaces and applies their policies over the daemon's socket. */
async function applyPolicies(lab: Lab): Promise<void> {
  const daemon = lab.daemon;
  if (!daemon) throw new Error('the daemon is not running');
  const [allowedNet] = lab.serverAddrs.map((addr) => addr.replace(/\.\d+$/, '.0/24'));

  const calls: [string, string, unknown][] = [
    ['PUT', '/workspace/ws_a', lab.registration('ws_a', { name: 'api-server' })],
    ['PUT', '/workspace/ws_b', lab.registration('ws_b', { name: 'offline-batch' })],
    ['PUT', '/workspace/ws_pub', lab.registration('ws_pub', { name: 'public-site' })],
    ['PATCH', '/workspace/ws_a/network', {
      allow_internet: true,
      ingress_ports: [80, 443, 3000],
      egress: [allowedNet],
      public_access: false,
    }],
    ['PATCH', '/workspace/ws_b/network', { allow_internet: false }],
    ['PATCH', '/workspace/ws_pub/network', { public_access: true, ingress_ports: [80] }],
  ];
  for (const [method, path, body] of calls) {
    const res = await daemon.api(method, path, body);
    console.log(`${method} ${path} -> ${res.status}`);
    if (res.status < 200 || res.status > 299) {
      throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
  }
}

function tcpRow(from: string, to: string, expected: string, out: TcpOutcome): Row {
  // The socket error shows why: ECONNREFUSED is a reset, EHOSTUNREACH an ICMP error.
  const detail = out.error && out.result !== 'connected' ? out.error : undefined;
  return { from, to, expected, got: out.result, detail };
}

/** Sends the demo's traffic; every probe is independent, so they run at once. */
async function probe(lab: Lab): Promise<Row[]> {
  const a = lab.ws('ws_a');
  const b = lab.ws('ws_b');
  const pub = lab.ws('ws_pub');
  const [allowed, other] = lab.serverAddrs;
  const quiet = { timeoutMs: SILENCE_MS };
  const dnsName = `server1.${lab.zone}`;

  const toAllowed = tcp(a.ns, allowed, 80);
  const rows: Promise<Row>[] = [
    toAllowed.then((o) => tcpRow('ws_a', `${allowed}:80 (in egress)`, 'connected', o)),
    tcp(a.ns, other, 80).then((o) => tcpRow('ws_a', `${other}:80 (not in egress)`, 'reset', o)),
    tcp(b.ns, allowed, 80).then((o) => tcpRow('ws_b', `${allowed}:80 (no internet)`, 'reset', o)),
    tcp(lab.host, a.ip, 80, quiet).then((o) =>
      tcpRow('host', `ws_a ${a.ip}:80 (not public)`, 'timeout', o)),
    tcp(lab.host, pub.ip, 80).then((o) =>
      tcpRow('host', `ws_pub ${pub.ip}:80 (public)`, 'connected', o)),
    tcp(lab.host, pub.ip, 3000, quiet).then((o) =>
      tcpRow('host', `ws_pub ${pub.ip}:3000 (port not open)`, 'timeout', o)),
    tcp(b.ns, a.ip, 80, quiet).then((o) =>
      tcpRow('ws_b', `ws_a ${a.ip}:80 (no private link)`, 'timeout', o)),
    tcp(a.ns, allowed, 80, { ...quiet, source: a.spoofIp }).then((o) =>
      tcpRow(`ws_a as ${a.spoofIp}`, `${allowed}:80 (forged source)`, 'timeout', o)),
    tcp(a.ns, a.gateway, 22, quiet).then((o) =>
      tcpRow('ws_a', `gateway ${a.gateway}:22 (host service)`, 'timeout', o)),
    tcp(a.ns, a.gateway6, 22, quiet).then((o) =>
      tcpRow('ws_a', `gateway [${a.gateway6}]:22 (IPv6)`, 'timeout', o)),
    dns(pub.ns, pub.gateway, dnsName).then((o) => ({
      from: 'ws_pub',
      to: `DNS ${pub.gateway}:53 ${dnsName}`,
      expected: 'answered',
      got: o.ok ? 'answered' : o.error,
    })),
    // ws_a's egress list names no host, so the daemon's DNS resolves no name for it.
    dns(a.ns, a.gateway, dnsName).then((o) => ({
      from: 'ws_a',
      to: `DNS ${a.gateway}:53 (name not in egress)`,
      expected: 'REFUSED',
      got: o.ok ? 'answered' : o.error,
    })),
    dns(b.ns, b.gateway, dnsName, quiet).then((o) => ({
      from: 'ws_b',
      to: `DNS ${b.gateway}:53 (no internet)`,
      expected: 'timeout',
      got: o.ok ? 'answered' : o.error,
    })),
    toAllowed.then((o) => ({
      from: 'internet',
      to: 'source seen by the server (masquerade)',
      expected: lab.uplinkIp,
      got: o.peerSaw ?? 'nothing',
    })),
  ];
  return Promise.all(rows);
}

/** Prints the rows as an aligned table; returns how many disagreed. */
function printTable(rows: Row[]): number {
  const header: Row = { from: 'from', to: 'to', expected: 'expected', got: 'got' };
  const keys = ['from', 'to', 'expected', 'got'] as const;
  const width = (k: (typeof keys)[number]) =>
    Math.max(...[header, ...rows].map((r) => r[k].length));
  const line = (r: Row, verdict: string) =>
    [...keys.map((k) => r[k].padEnd(width(k))), verdict, r.detail ?? ''].join('  ').trimEnd();

  console.log(line(header, 'result'));
  let failures = 0;
  for (const row of rows) {
    const pass = row.got === row.expected;
    if (!pass) failures++;
    console.log(line(row, pass ? 'PASS' : 'FAIL'));
  }
  return failures;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('the demo builds network namespaces: run it as root');
    return 2;
  }

  const started = Date.now();
  const lab = await createLab({ workspaces: ['ws_a', 'ws_b', 'ws_pub'] });
  try {
    console.log(`lab ${lab.prefix} built in ${Date.now() - started} ms`);
    for (const w of lab.workspaces) {
      console.log(`  ${w.id.padEnd(7)} ip ${w.ip.padEnd(10)} gateway ${w.gateway} tap ${w.tap}`);
    }
    console.log(`  uplink ${lab.uplink} ${lab.uplinkIp}; servers ${lab.serverAddrs.join(', ')}\n`);

    const daemon = await lab.startDaemon();
    console.log(`daemon ready (socket ${daemon.socketPath})`);
    await applyPolicies(lab);

    console.log('');
    const failures = printTable(await probe(lab));
    console.log(`\n# nft list table inet ${TABLE} (host namespace)`);
    const listing = await lab.nft(['list', 'table', 'inet', TABLE]).catch((e) => String(e));
    console.log(withoutEmptyShards(listing));
    console.log(failures === 0 ? 'all probes agree with the policies' : `${failures} FAILED`);
    return failures === 0 ? 0 : 1;
  } finally {
    await lab.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);

/**
 * The listing with the egress sets that hold nothing left out and counted: 64 of them exist
 * (README: Design), and a demo of three workspaces fills at most three.
 */
function withoutEmptyShards(listing: string): string {
  const empty = /^\tset egress_net_\d+ \{\n\t\ttype ifname \. ipv4_addr\n\t\tflags interval\n\t\}$/;
  const blocks = listing.split('\n\n');
  const first = blocks.findIndex((b) => empty.test(b));
  if (first < 0) return listing;
  const kept = blocks.filter((b) => !empty.test(b));
  kept.splice(first, 0, `\t# ${blocks.length - kept.length} empty egress_net_<k> sets not shown`);
  return kept.join('\n\n');
}

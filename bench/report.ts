/**
 * Writes a run's results as bench/results.md (the table the README links) and the scaling
 * curves as SVG. Every figure sits beside the peer it is compared with, and each goal is
 * checked in the words of the benchmark's issue.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChangeRow } from './change';
import type { Results } from './results';
import { fmt, ratio } from './stats';
import { lineChart } from './svg';

const YES = 'met';
const NO = '**missed**';

/** The verdict of a goal on `x`, or that it was not measured (a --quick run's sizes). */
function judge(x: number | undefined, pass: (v: number) => boolean): string {
  if (x === undefined || !Number.isFinite(x)) return 'not measured at this size';
  return pass(x) ? YES : NO;
}

/** Writes results.md, results.json and the charts into `dir`. */
export function writeReport(dir: string, r: Results): void {
  writeFileSync(join(dir, 'results.json'), JSON.stringify(r, null, 2) + '\n');
  writeFileSync(join(dir, 'results.md'), markdown(r));
  if (r.cold) {
    writeFileSync(join(dir, 'cold-build.svg'), lineChart({
      title: 'Cold build of the whole table',
      xLabel: 'workspaces', yLabel: 'milliseconds (median)',
      series: [
        { name: 'workspace-netd (compile + one transaction)',
          points: r.cold.rows.map((x) => [x.workspaces, x.oursMs]) },
        { name: 'nft -f (same ruleset as text)',
          points: r.cold.rows.map((x) => [x.workspaces, x.nftMs]) },
        { name: 'workspace-netd, compile only', dashed: true, color: 0,
          points: r.cold.rows.map((x) => [x.workspaces, x.compileMs]) },
      ],
    }));
  }
  if (r.api?.rssBySize) {
    writeFileSync(join(dir, 'memory.svg'), lineChart({
      title: 'Resident memory of the daemon, just started',
      xLabel: 'workspaces', yLabel: 'MiB (VmRSS)',
      series: [{ name: 'workspace-netd',
        points: r.api.rssBySize.map(([n, kib]) => [n, kib / 1024]) }],
    }));
  }
  if (r.durability) {
    const d = r.durability;
    writeFileSync(join(dir, 'durability.svg'), lineChart({
      title: 'Restart and repair of the whole table',
      xLabel: 'workspaces', yLabel: 'milliseconds (median)',
      series: [
        { name: 'restart: replacing transaction', points: d.map((x) => [x.workspaces,
          x.restartMs]) },
        { name: 'repair of a deleted table: full table back', points: d.map((x) =>
          [x.workspaces, x.repairMs]) },
        { name: 'repair of a deleted table: closed (every tap cut off)', dashed: true,
          color: 1, points: d.flatMap((x) => x.closedMs === undefined ? []
            : [[x.workspaces, x.closedMs] as [number, number]]) },
        { name: 'nft -f (same ruleset as text)', points: d.map((x) => [x.workspaces,
          x.nftMs]) },
      ],
    }));
  }
  if (r.change) {
    const c = r.change.rows;
    writeFileSync(join(dir, 'change.svg'), lineChart({
      title: 'One policy change, API call to committed transaction',
      xLabel: 'workspaces registered', yLabel: 'milliseconds (median of rounds)',
      series: [
        { name: 'workspace-netd PATCH widening, p50', color: 0,
          points: c.map((x) => [x.workspaces, x.widenP50]) },
        { name: 'workspace-netd PATCH widening, p99', color: 0, dashed: true,
          points: c.map((x) => [x.workspaces, x.widenP99]) },
        { name: 'workspace-netd PATCH narrowing, p50', color: 2,
          points: c.map((x) => [x.workspaces, x.narrowP50]) },
        { name: 'workspace-netd PATCH narrowing, p99', color: 2, dashed: true,
          points: c.map((x) => [x.workspaces, x.narrowP99]) },
        { name: 'nft add/delete element (a process each), p50', color: 1,
          points: c.map((x) => [x.workspaces, x.nftP50]) },
        { name: 'nft add/delete element (a process each), p99', color: 1, dashed: true,
          points: c.map((x) => [x.workspaces, x.nftP99]) },
      ],
    }));
  }
}

function markdown(r: Results): string {
  const m = r.machine;
  const out: string[] = [
    '# Benchmark results',
    '',
    `Written by \`bench/run\` on ${m.date} in ${Math.round(r.seconds)} s. Machine: ` +
      `${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB, kernel ${m.kernel}, Node ${m.node}, ` +
      `${m.nft}. The machine is shared (the load average under each heading says how busy ` +
      'it was), so absolute figures move from run to run; the ratios compare sides ' +
      'measured alternately in the same run.',
    '',
    `Every figure is the median of ${r.runs} runs (of at most 3 for restart, audit and ` +
      'repair). Every benchmark runs in network namespaces it creates and deletes.',
    '',
  ];
  for (const f of r.failed) out.push(`**Failed**: ${f}`, '');
  if (r.cold) out.push(...cold(r));
  if (r.change) out.push(...change(r));
  if (r.packets) out.push(...packets(r));
  out.push(...relay(r));
  if (r.api) out.push(...api(r));
  if (r.durability) out.push(...durable(r));
  return out.join('\n') + '\n';
}

/** When a benchmark ran and how loaded the machine was, as a line under its heading. */
function when(r: Results, name: string): string[] {
  const l = r.loads?.[name];
  if (!l) return [];
  const kernel = l.kernel ? `, kernel ${l.kernel}` : '';
  return [`_Measured ${l.date}${kernel}; load average (1 min) ${fmt(l.before)} before, ` +
    `${fmt(l.after)} after._`, ''];
}

function cold(r: Results): string[] {
  const rows = r.cold!.rows;
  const at = (n: number) => rows.find((x) => x.workspaces === n);
  const [k1, k5] = [at(1000), at(5000)];
  const slowest = Math.max(...rows.map((x) => x.oursMs / x.nftMs));
  const growth = k1 && k5 ? k5.oursMs / k1.oursMs : NaN;
  return [
    '## 1. Cold build of the table',
    '',
    ...when(r, 'cold'),
    'The whole table in a fresh namespace: the daemon\'s path (compile every workspace, ' +
      'diff against nothing, one NftSocket transaction) against `nft -f` loading the same ' +
      'ruleset as text. Each workspace has 10 private links, 20 egress CIDRs, 5 egress ' +
      `and 5 ingress ports. Tables equivalent (\`nft -j list table\` of both): ` +
      `${r.cold!.equivalent}.`,
    '',
    '| workspaces | elements | operations | workspace-netd ms | of it compile ms | ' +
      'encode ms | kernel ms | nft -f ms | time ÷ nft -f |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((x) => `| ${fmt(x.workspaces)} | ${fmt(x.elements)} | ${fmt(x.ops)} | ` +
      `${fmt(x.oursMs)} | ${fmt(x.compileMs)} | ${fmt(x.encodeMs ?? NaN)} | ` +
      `${fmt(x.kernelMs ?? NaN)} | ${fmt(x.nftMs)} | ${ratio(x.oursMs / x.nftMs)} |`),
    '',
    'Compile is the TypeScript compiler and diff; encode, the addon turning the ops into ' +
      'netlink messages on the main thread; kernel, the worker\'s sendmsg of the batch ' +
      '(nf_tables applies it inside the call) and the reading of its acks.',
    '',
    `- No slower than \`nft -f\` (time ratio at most 1 at every size; the worst is ` +
      `${ratio(slowest)}): ${slowest <= 1 ? YES : NO}.`,
    `- 5,000 workspaces cost at most 6 times 1,000 (${ratio(growth)}): ` +
      `${judge(growth, (g) => g <= 6)}.`,
    `- 1,000 workspaces in under a second (${fmt(k1?.oursMs ?? NaN)} ms): ` +
      `${judge(k1?.oursMs, (ms) => ms < 1000)}.`,
    '',
    '![cold build](cold-build.svg)',
    '',
  ];
}

function change(r: Results): string[] {
  const c = r.change!;
  const at = (n: number) => c.rows.find((x) => x.workspaces === n);
  const [one, k1, k5] = [at(1), at(1000), at(5000)];
  const growth = (k: keyof ChangeRow) => (one && k5 ? k5[k] / one[k] : NaN);
  const goal = (label: string, p99: keyof ChangeRow) => [
    `- ${label}: p99 under 5 ms at 1,000 workspaces (${fmt(k1?.[p99] ?? NaN)} ms): ` +
      `${judge(k1?.[p99], (ms) => ms < 5)}; with 5,000 at most 1.5 times the cost ` +
      `with 1 (p99 ${ratio(growth(p99))}): ${judge(growth(p99), (g) => g <= 1.5)}.`,
  ];
  return [
    '## 2. One change, API call to committed transaction',
    '',
    ...when(r, 'change'),
    'A PATCH of one workspace\'s `egress_ports`, adding then removing one port (two ' +
      'elements), timed by a client on the socket until the answer, which the daemon ' +
      'sends after the kernel committed and the state is stored. Adding the port only ' +
      'widens the policy: no connection can end, so the daemon does not list conntrack. ' +
      'Removing it narrows the policy: the daemon looks up the workspace\'s connections in ' +
      'the table it keeps from conntrack events and ends what the port carried (README, ' +
      '"Ending connections"; a listing of conntrack, the last column of the kernel-side ' +
      'table below, is what it ' +
      'did before and still does when it may have missed an event). The state directory ' +
      'is on a tmpfs here, so the figures are the daemon\'s own; the line below gives the ' +
      'same change with the state on the disk. The peer makes the same element change ' +
      'with one `nft` process per change, in a namespace holding the same table. Each ' +
      'round is 100 changes of each kind and 100 `nft` calls; a p99 is a round\'s second ' +
      'worst, and the table gives the medians over the rounds.',
    '',
    '| workspaces | widening p50 ms | widening p99 ms | narrowing p50 ms | ' +
      'narrowing p99 ms | nft p50 ms | nft p99 ms | widening p50 ÷ nft |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...c.rows.map((x) => `| ${fmt(x.workspaces)} | ${fmt(x.widenP50)} | ${fmt(x.widenP99)} | ` +
      `${fmt(x.narrowP50)} | ${fmt(x.narrowP99)} | ${fmt(x.nftP50)} | ${fmt(x.nftP99)} | ` +
      `${ratio(x.widenP50 / x.nftP50)} |`),
    '',
    ...goal('Widening', 'widenP99'),
    ...goal('Narrowing', 'narrowP99'),
    `- With the state on the disk (${c.disk.where}), 1 workspace: p50 ${fmt(c.disk.p50)} ms, ` +
      `p99 ${fmt(c.disk.p99)} ms, both kinds (SQLite's synchronous commit, an fsync, is in ` +
      'every answer).',
    '',
    '![one change](change.svg)',
    '',
    'Where the time goes, kernel side: the same table loaded by the addon in a namespace ' +
      'of its own, then commits timed one by one (medians of 20).',
    '',
    '| workspaces | commit adding one workspace ms | commit adding 2 set elements ms | ' +
      'conntrack listing ms |',
    '|---:|---:|---:|---:|',
    ...c.anatomy.map((a) => `| ${fmt(a.workspaces)} | ${fmt(a.addWorkspaceMs)} | ` +
      `${fmt(a.addElementsMs)} | ${fmt(a.ctListMs)} |`),
    '',
    'Each daemon starts on a state database that holds its fleet (load, one transaction, ' +
      'the first audit); then a sample of workspaces is registered over the API one at a ' +
      'time (PUT, then the PATCH that gives it its policy), and the last column projects ' +
      'what registering 1,000 more at that size would take:',
    '',
    '| workspaces | daemon start s | sample | PUT p50 ms | PUT p99 ms | PATCH p50 ms | ' +
      'PATCH p99 ms | s per 1,000 more |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...c.bands.map((b) => `| ${fmt(b.from)} | ${fmt(b.startSeconds)} | ${b.count} | ` +
      `${fmt(b.putMs)} | ${fmt(b.putP99)} | ${fmt(b.patchMs)} | ${fmt(b.patchP99)} | ` +
      `${fmt(b.putMs + b.patchMs)} |`),
    '',
  ];
}

function packets(r: Results): string[] {
  const rows = r.packets!;
  const empty = rows[0];
  const full = rows[rows.length - 1];
  const worst = Math.min(full.udpPps / empty.udpPps, full.tcpCps / empty.tcpCps);
  return [
    '## 3. Cost per packet',
    '',
    ...when(r, 'packets'),
    'From a workspace through the host to a server: 64-byte UDP datagrams per second ' +
      '(iperf3, counted at the receiver) and TCP connections per second (connect, one byte ' +
      'each way, close: `bench/tools/crr.c`), client and server on CPUs of their own. ' +
      'Each configuration is loaded into the same host namespace in turn.',
    '',
    '| host ruleset | UDP datagrams/s | ÷ empty | TCP connections/s | ÷ empty |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((x) => `| ${x.name} | ${fmt(x.udpPps)} | ${ratio(x.udpPps / empty.udpPps)} | ` +
      `${fmt(x.tcpCps)} | ${ratio(x.tcpCps / empty.tcpCps)} |`),
    '',
    `- At least 0.95 of the empty ruleset with the fleet loaded (worst ${ratio(worst)}): ` +
      `${worst >= 0.95 ? YES : NO}.`,
    '',
  ];
}

function relay(r: Results): string[] {
  const head = [
    '## 4. The custom-proxy relay',
    '',
    ...when(r, 'relay'),
    'From a workspace to a server through the same tinyproxy: by the relay (the workspace ' +
      'in custom mode: DNAT to the daemon\'s relay, which opens the CONNECT), by a client ' +
      'speaking CONNECT itself (direct), and through haproxy in TCP mode in front of the ' +
      'proxy. Connections: connect, tunnel, one byte each way, close. Throughput: one bulk ' +
      'stream. CPU: the relaying process\'s user and system time per Gbit carried.',
    '',
  ];
  if ('skipped' in r.relay) return [...head, `Skipped: ${r.relay.skipped}`, ''];
  const rows = r.relay.rows;
  const [relayRow, direct, haproxy] = rows;
  const perCore = (x: typeof relayRow) => (x.cpuPerGbit ? 1 / x.cpuPerGbit : NaN);
  return [
    ...head,
    '| path | connections/s | ÷ direct | ÷ haproxy | Gbit/s | ÷ direct | ÷ haproxy | ' +
      'Gbit/s per CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((x) => `| ${x.name} | ${fmt(x.cps)} | ${ratio(x.cps / direct.cps)} | ` +
      `${ratio(x.cps / haproxy.cps)} | ${fmt(x.gbps)} | ${ratio(x.gbps / direct.gbps)} | ` +
      `${ratio(x.gbps / haproxy.gbps)} | ${fmt(perCore(x))} |`),
    '',
    `- At least 0.8 of haproxy (connections ${ratio(relayRow.cps / haproxy.cps)}, throughput ` +
      `${ratio(relayRow.gbps / haproxy.gbps)}): ` +
      `${Math.min(relayRow.cps / haproxy.cps, relayRow.gbps / haproxy.gbps) >= 0.8 ? YES : NO}.`,
    `- At least 4 Gbit/s per core (${fmt(perCore(relayRow))}): ` +
      `${perCore(relayRow) >= 4 ? YES : NO}.`,
    '',
  ];
}

function api(r: Results): string[] {
  const a = r.api!;
  const floor = a.rows[0];
  const perK = (a.rssFleetKiB - a.rssEmptyKiB) / ((a.workspaces - 1) / 1000) / 1024;
  return [
    '## 5. The API',
    '',
    ...when(r, 'change'),
    `Requests per second over the socket with ${fmt(a.workspaces)} workspaces registered, ` +
      '8 concurrent connections; each PATCH loop changes a workspace of its own.',
    '',
    '| request | per second | ÷ floor |',
    '|---|---:|---:|',
    ...a.rows.map((x) => `| ${x.name} | ${fmt(x.rps)} | ${ratio(x.rps / floor.rps)} |`),
    '',
    `Resident memory (VmRSS), each daemon just started: ${fmt(a.rssEmptyKiB / 1024)} MiB ` +
      'with 1 workspace, ' +
      `${fmt(a.rssFleetKiB / 1024)} MiB with ${fmt(a.workspaces)} ` +
      `(${ratio(a.rssFleetKiB / a.rssEmptyKiB)}; ${fmt(perK)} MiB per 1,000 workspaces).` +
      (a.rssLoadedKiB ? ` After the change rounds, the API load, the registration sample ` +
        `and the periodic audits meanwhile, the daemon with ${fmt(a.workspaces)} held ` +
        `${fmt(a.rssLoadedKiB / 1024)} MiB, at most ${fmt((a.rssPeakKiB ?? 0) / 1024)} MiB ` +
        '(VmHWM).' : ''),
    '',
    ...(a.rssBySize ? ['![memory](memory.svg)', ''] : []),
  ];
}

function durable(r: Results): string[] {
  const rows = r.durability!;
  const at = (n: number) => rows.find((x) => x.workspaces === n);
  const [k1, k5] = [at(1000), at(5000)];
  return [
    '## 6. Restart, audit and repair',
    '',
    ...when(r, 'durability'),
    'The daemon\'s table for the fleet of benchmark 1, owned and persistent. Restart: a ' +
      'new enforcer starts over the table a previous one left, replacing it in one ' +
      'transaction (the table is never missing), then reads it back until it matches ' +
      '(`/healthz` 503 until then). Audit: one read-back and comparison that finds the ' +
      'table right, the part of it on the main thread, and the longest the event loop ' +
      'waited at once meanwhile (a 1 ms timer\'s longest gap). Closed: after `delete table`, ' +
      'the commit of the closed table that cuts every tap off (src/compile/closed.ts). ' +
      'Repair: from the same moment, the transaction that puts the full table back ' +
      '(the table is enforced again from its commit), then the read-back that proves it. ' +
      'The peer is `nft -f` loading the same ruleset as text into an empty namespace: the ' +
      'kernel\'s own insert, and the floor of a repair.',
    '',
    '| workspaces | restart ms | + read-back ms | audit ms | of it main thread ms | ' +
      'longest stall ms | closed ms | repair ms | + read-back ms | nft -f ms | ' +
      'repair ÷ nft -f | state load ms |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((x) => `| ${fmt(x.workspaces)} | ${fmt(x.restartMs)} | ` +
      `${fmt(x.restartVerifyMs)} | ${fmt(x.auditMs)} | ${fmt(x.auditMainMs)} | ` +
      `${fmt(x.auditStallMs)} | ${x.closedMs === undefined ? '–' : fmt(x.closedMs)} | ` +
      `${fmt(x.repairMs)} | ${fmt(x.repairVerifyMs)} | ${fmt(x.nftMs)} | ` +
      `${ratio(x.repairMs / x.nftMs)} | ${fmt(x.loadMs)} |`),
    '',
    ...(k5?.closedMs !== undefined ? [`- Every workspace cut off within a second of a ` +
      `deleted table at 5,000 workspaces (${fmt(k5.closedMs)} ms): ` +
      `${k5.closedMs <= 1000 ? YES : NO}.`] : []),
    ...(k1 ? [`- A deleted table back within a second at 1,000 workspaces ` +
      `(${fmt(k1.repairMs)} ms): ${k1.repairMs <= 1000 ? YES : NO}.`] : []),
    ...(k5 ? [`- At 5,000, the repair takes ${ratio(k5.repairMs / k5.nftMs)} the time of ` +
      '`nft -f` of the same ruleset.'] : []),
    '',
    '![restart and repair](durability.svg)',
    '',
  ];
}

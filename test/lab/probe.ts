/**
 * Probes that send real traffic from inside a lab namespace and say what came back: a
 * connection, a TCP reset, an ICMP error or silence. They run probe-cli.js with node inside
 * the namespace, or dig for DNS when it is installed.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { nsExec, run, type NetnsRun } from './netns';

/** What a TCP connection attempt met. */
export type TcpResult = 'connected' | 'reset' | 'unreachable' | 'timeout';
/** What a UDP datagram met. */
export type UdpResult = 'answered' | 'unreachable' | 'timeout';

/** A TCP probe's outcome: `peerSaw` is the source address the lab server saw. */
export interface TcpOutcome {
  result: TcpResult;
  peerSaw?: string;
  /** the socket error code behind `result`, e.g. ECONNREFUSED or EHOSTUNREACH */
  error?: string;
  ms: number;
}

/** A UDP probe's outcome: `peerSaw` is the source address the lab server saw. */
export interface UdpOutcome {
  result: UdpResult;
  peerSaw?: string;
  error?: string;
  ms: number;
}

/** A DNS lookup's outcome: the A records, or why there are none. */
export type DnsOutcome = { ok: true; addresses: string[] } | { ok: false; error: string };

/** Options of a probe. */
export interface ProbeOptions {
  timeoutMs?: number;
  /** a local source address to send from (the lab's spoof address for anti-spoof tests) */
  source?: string;
}

const DEFAULT_TIMEOUT_MS = 2000;

/** The probe script: beside this file in the source tree, or in it when running from dist/. */
function probeScript(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    for (const candidate of [join(dir, 'probe-cli.js'), join(dir, 'test/lab/probe-cli.js')]) {
      if (existsSync(candidate)) return candidate;
    }
    dir = dirname(dir);
  }
  throw new Error(`probe-cli.js not found above ${__dirname}`);
}

async function runProbe<T>(ns: string, args: string[], timeoutMs: number): Promise<T> {
  // node's start-up and the namespace switch get their own margin over the probe's limit.
  const res = await nsExec(ns, [process.execPath, probeScript(), ...args], {
    timeoutMs: timeoutMs + 5000,
  });
  const line = res.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch (err) {
    throw new Error(`probe ${args.join(' ')} in ${ns} printed ${JSON.stringify(line)}`, {
      cause: err,
    });
  }
}

/** Opens a TCP connection from `ns` to addr:port and reports what happened. */
export function tcp(
  ns: string,
  addr: string,
  port: number,
  opts: ProbeOptions = {},
): Promise<TcpOutcome> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const src = opts.source ? [opts.source] : [];
  const args = ['tcp', addr, String(port), String(timeoutMs), ...src];
  return runProbe<TcpOutcome>(ns, args, timeoutMs);
}

/** Sends a UDP datagram from `ns` to addr:port and reports whether anything answered. */
export function udp(
  ns: string,
  addr: string,
  port: number,
  opts: ProbeOptions = {},
): Promise<UdpOutcome> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const src = opts.source ? [opts.source] : [];
  const args = ['udp', addr, String(port), String(timeoutMs), ...src];
  return runProbe<UdpOutcome>(ns, args, timeoutMs);
}

let digPresent: boolean | undefined;

async function hasDig(): Promise<boolean> {
  if (digPresent === undefined) {
    const res = await run('dig', ['-v'], { check: false, timeoutMs: 5000 }).catch(() => null);
    digPresent = res !== null && res.code === 0;
  }
  return digPresent;
}

/** Asks `server` (from inside `ns`) for the A records of `name`. */
export async function dns(
  ns: string,
  server: string,
  name: string,
  opts: { timeoutMs?: number } = {},
): Promise<DnsOutcome> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(await hasDig())) {
    const args = ['dns', server, name, String(timeoutMs)];
    const out = await runProbe<DnsOutcome>(ns, args, timeoutMs);
    if (out.ok) return { ok: true, addresses: out.addresses };
    return { ok: false, error: nodeError(out.error) };
  }

  const seconds = Math.max(1, Math.round(timeoutMs / 1000));
  const argv = ['dig', `@${server}`, name, 'A', '+tries=1', `+time=${seconds}`, '+noall',
    '+answer', '+comments'];
  const res = await nsExec(ns, argv, { timeoutMs: timeoutMs + 5000, check: false });
  return parseDig(res.code, res.stdout + res.stderr);
}

/** node's resolver codes, in the words parseDig uses. */
function nodeError(code: string): string {
  const words: Record<string, string> = {
    ETIMEOUT: 'timeout',
    ECONNREFUSED: 'refused',
    EREFUSED: 'REFUSED',
    ENOTFOUND: 'NXDOMAIN',
  };
  return words[code] ?? code;
}

/** Reads dig's answer: its status line and the A records of the answer section. */
function parseDig(code: number | null, out: string): DnsOutcome {
  if (code !== 0) {
    if (/refused/i.test(out)) return { ok: false, error: 'refused' };
    if (/unreachable|prohibited|not permitted/i.test(out)) {
      return { ok: false, error: 'unreachable' };
    }
    if (/timed out/i.test(out)) return { ok: false, error: 'timeout' };
    return { ok: false, error: out.trim().split('\n').pop() ?? `dig exited ${code}` };
  }

  const status = /status: (\w+)/.exec(out)?.[1] ?? 'UNKNOWN';
  if (status !== 'NOERROR') return { ok: false, error: status };
  const addresses = out
    .split('\n')
    .filter((line) => !line.startsWith(';'))
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && f[3] === 'A')
    .map((f) => f[4]);
  return { ok: true, addresses };
}

/** Whether a held connection still carries data. */
export type HeldState = 'alive' | 'reset' | 'closed' | 'timeout';

/** A long-lived TCP connection, to check later whether a policy change ended it. */
export interface HeldConnection {
  /** the source address the server saw when the connection opened */
  peerSaw: string;
  /** sends a line and reports whether its echo came back within `timeoutMs` */
  check(timeoutMs?: number): Promise<HeldState>;
  /** closes the connection */
  close(): void;
}

/** Opens a connection from `ns` to a lab echo server (tcpPeerServer) and keeps it open. */
export async function holdTcp(
  lab: NetnsRun,
  ns: string,
  addr: string,
  port: number,
  opts: { timeoutMs?: number } = {},
): Promise<HeldConnection> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const child = lab.spawn(ns, [process.execPath, probeScript(), 'hold', addr, String(port),
    String(timeoutMs)]);
  const events = eventStream(child);

  const first = await events.next(timeoutMs + 5000);
  if (first.event !== 'connected') {
    child.kill('SIGKILL');
    throw new Error(`held connection ${ns} -> ${addr}:${port} failed: ${JSON.stringify(first)}`);
  }

  let seq = 0;
  let ended: HeldState | null = null;
  return {
    peerSaw: String(first.peerSaw ?? ''),
    async check(checkMs = DEFAULT_TIMEOUT_MS) {
      if (ended) return ended;
      const id = String(++seq);
      child.stdin?.write(`check ${id} ${checkMs}\n`);
      // Skip answers to earlier checks that came back after their own time ran out.
      for (let i = 0; i < 8; i++) {
        const ev = await events.next(checkMs + 5000);
        if (ev.event === 'check' && ev.id !== undefined && ev.id !== id) continue;
        if (ev.event === 'check') return ev.result === 'alive' ? 'alive' : 'timeout';
        ended = ev.event === 'error' && ev.error === 'reset' ? 'reset' : 'closed';
        return ended;
      }
      return 'timeout';
    },
    close() {
      child.stdin?.end();
      setTimeout(() => child.kill('SIGKILL'), 1000).unref();
    },
  };
}

type ProbeEvent = Record<string, unknown> & { event: string };

/** The JSON lines of a child's stdout as a queue with a bounded wait. */
function eventStream(child: ChildProcess) {
  const queue: ProbeEvent[] = [];
  const waiters: ((ev: ProbeEvent) => void)[] = [];
  let buf = '';
  const push = (ev: ProbeEvent) => {
    const waiter = waiters.shift();
    if (waiter) waiter(ev);
    else queue.push(ev);
  };

  child.stdout?.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        push(JSON.parse(line) as ProbeEvent);
      } catch {
        push({ event: 'garbage', line });
      }
    }
  });
  child.once('exit', () => push({ event: 'closed' }));

  return {
    next(timeoutMs: number): Promise<ProbeEvent> {
      const ready = queue.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          resolve({ event: 'check', result: 'timeout' });
        }, timeoutMs);
        const waiter = (ev: ProbeEvent) => {
          clearTimeout(timer);
          resolve(ev);
        };
        waiters.push(waiter);
      });
    },
  };
}

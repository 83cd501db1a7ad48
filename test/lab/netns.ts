/**
 * Network namespaces for the lab: create and remove them, wire them with veth pairs, and
 * run commands inside them. Nothing here touches the machine's own namespace: every `ip`
 * call names a namespace with `-n`, every command runs through `ip netns exec`. Commands
 * are argument vectors passed to execFile, never shell strings.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/** What a finished command returned. */
export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options of a bounded command. */
export interface ExecOptions {
  timeoutMs?: number;
  /** throw when the command fails or times out (default true) */
  check?: boolean;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Runs a program with a time limit; throws on failure unless `check` is false. */
export function run(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20, env: opts.env },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; signal?: string }) | null;
        const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
        const result: ExecResult = {
          code,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
          timedOut: Boolean(e?.killed),
        };
        if (e && opts.check !== false) {
          const what = result.timedOut ? `timed out after ${timeout} ms` : `failed (${code})`;
          const detail = result.stderr.trim() || e.message;
          reject(new Error(`${file} ${args.join(' ')} ${what}: ${detail}`, { cause: e }));
          return;
        }
        resolve(result);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs `ip -n NS ...` (the ip tool inside a namespace). */
export function ip(ns: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run('ip', ['-n', ns, ...args], opts);
}

/** Runs a command inside a namespace with a time limit (default 10 s). */
export function nsExec(ns: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', ns, ...argv], opts);
}

/** Sets a sysctl inside a namespace, e.g. `net.ipv4.ip_forward` to 1. */
export async function sysctl(ns: string, key: string, value: string | number): Promise<void> {
  await nsExec(ns, ['sysctl', '-q', '-w', `${key}=${value}`]);
}

/** Creates a veth pair `name` in `ns` whose peer `peerName` lives in `peerNs`; both up. */
export async function addVeth(
  ns: string,
  name: string,
  peerNs: string,
  peerName: string,
): Promise<void> {
  await ip(ns, ['link', 'add', name, 'type', 'veth', 'peer', 'name', peerName, 'netns', peerNs]);
  await ip(ns, ['link', 'set', name, 'up']);
  await ip(peerNs, ['link', 'set', peerName, 'up']);
}

/** Adds an address (CIDR notation) to a device in a namespace. */
export async function addAddr(ns: string, dev: string, cidr: string): Promise<void> {
  await ip(ns, ['addr', 'add', cidr, 'dev', dev]);
}

/** Adds a route in a namespace: `dst` ("default" or a CIDR) via a gateway. */
export async function addRoute(ns: string, dst: string, via: string, src?: string): Promise<void> {
  await ip(ns, ['route', 'add', dst, 'via', via, ...(src ? ['src', src] : [])]);
}

/** The names of all network namespaces that `ip netns` knows. */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0])
    .filter((name): name is string => Boolean(name));
}

/** Where each run records the process that owns it, so a later run can tell it is stale. */
const OWNERS_DIR = '/run/workspace-netd-lab';

/**
 * Deletes the namespaces of lab runs whose owning process is gone (killed before its own
 * clean-up could run). Runs of live processes are left alone. Returns the prefixes swept.
 */
export async function sweepStaleRuns(): Promise<string[]> {
  let owners: string[] = [];
  try {
    owners = readdirSync(OWNERS_DIR).filter((f) => /^wn[0-9a-f]{6}$/.test(f));
  } catch {
    return [];
  }

  const swept: string[] = [];
  const all = await listNetns();
  for (const prefix of owners) {
    // An unreadable or empty record belongs to a run that is just starting: leave it.
    const pid = ownerPid(prefix);
    if (pid === null || isAlive(pid)) continue;
    for (const ns of all.filter((n) => n.startsWith(`${prefix}-`))) {
      killNamespacePids(ns);
      await run('ip', ['netns', 'del', ns], { check: false });
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    rmSync(`${OWNERS_DIR}/${prefix}`, { force: true });
    swept.push(prefix);
  }
  return swept;
}

function ownerPid(prefix: string): number | null {
  try {
    const pid = Number(readFileSync(`${OWNERS_DIR}/${prefix}`, 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const liveRuns = new Set<NetnsRun>();
let handlersInstalled = false;

/** Removes every live run synchronously: for process exit and signals. */
function destroyAllSync(): void {
  for (const r of [...liveRuns]) r.destroySync();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAllSync);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      destroyAllSync();
      process.exit(code);
    });
  }
}

/**
 * One lab run: a random name prefix, the namespaces created under it and the processes
 * started in them. destroy() removes exactly these, and runs on exit and on SIGINT too.
 */
export class NetnsRun {
  /** `wn` and 6 hex digits; every namespace of this run is named `<prefix>-<role>` */
  readonly prefix = `wn${randomBytes(3).toString('hex')}`;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly etcDirs: string[] = [];
  private readonly hooks: (() => void)[] = [];
  private destroyed = false;
  private registered: Promise<void> | undefined;

  /** Creates namespace `<prefix>-<role>` with its loopback up; returns its name. */
  async addNetns(role: string): Promise<string> {
    if (this.destroyed) throw new Error(`lab ${this.prefix} is already destroyed`);
    await (this.registered ??= this.register());

    const name = `${this.prefix}-${role}`;
    await run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await ip(name, ['link', 'set', 'lo', 'up']);
    return name;
  }

  private async register(): Promise<void> {
    installHandlers();
    liveRuns.add(this);
    await sweepStaleRuns();
    mkdirSync(OWNERS_DIR, { recursive: true });
    // Written whole or not at all, so that a sweep never reads half a record.
    const record = `${OWNERS_DIR}/${this.prefix}`;
    writeFileSync(`${record}.tmp`, String(process.pid));
    renameSync(`${record}.tmp`, record);
  }

  /** Starts a long-lived command inside a namespace; it is killed when the run ends. */
  spawn(ns: string, argv: string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.on('error', () => this.children.delete(child));
    return child;
  }

  /**
   * Makes programs in `ns` resolve names through `nameserver`: `ip netns exec` mounts
   * /etc/netns/<ns>/resolv.conf over /etc/resolv.conf. Removed with the run.
   */
  setResolvConf(ns: string, nameserver: string): void {
    if (!this.namespaces.includes(ns)) throw new Error(`${ns} is not a namespace of this lab`);
    const dir = `/etc/netns/${ns}`;
    mkdirSync(dir, { recursive: true });
    this.etcDirs.push(dir);
    const text = `nameserver ${nameserver}\noptions timeout:1 attempts:2\n`;
    writeFileSync(`${dir}/resolv.conf`, text);
  }

  /** Registers a synchronous clean-up step that runs when this run is destroyed. */
  atDestroy(hook: () => void): void {
    this.hooks.push(hook);
  }

  /** Kills this run's processes and deletes its namespaces. */
  async destroy(): Promise<void> {
    this.destroySync();
  }

  /** destroy() without awaiting: safe in an exit or signal handler. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveRuns.delete(this);

    for (const child of this.children) child.kill('SIGKILL');
    for (const ns of this.namespaces) killNamespacePids(ns);
    for (const ns of this.namespaces.reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
      } catch {
        // Already gone; nothing else of this run can be left in it.
      }
    }
    for (const dir of this.etcDirs) rmSync(dir, { recursive: true, force: true });
    rmSync(`${OWNERS_DIR}/${this.prefix}`, { force: true });
    for (const hook of this.hooks) {
      try {
        hook();
      } catch {
        // A clean-up step that fails must not keep the others from running.
      }
    }
  }
}

/** Kills whatever still runs in a namespace, so that deleting it frees it at once. */
function killNamespacePids(ns: string): void {
  let pids: string[] = [];
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], { timeout: 5000, encoding: 'utf8' });
    pids = out.split('\n').filter((p) => /^\d+$/.test(p.trim()));
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // It exited meanwhile.
    }
  }
}

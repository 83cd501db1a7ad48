/**
 * The daemon under test, run in the lab's host namespace as `node dist/src/main.js --config
 * FILE`, with its socket and state in a temporary directory. Keeps its log lines so that a
 * failing test can show what the daemon said.
 */
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NetnsRun } from './netns';

/** An API answer: the HTTP status and the parsed JSON body (the raw text if not JSON). */
export interface ApiResponse {
  status: number;
  // any: tests read whatever fields they assert on, and a wrong shape fails the assertion.
  body: any;
}

/** Where and how to start the daemon. */
export interface DaemonOptions {
  /** the namespace the daemon runs in */
  ns: string;
  /** the config's `uplink` */
  uplink: string;
  /** keys merged over the lab's config (socket, state_dir, table, uplink) */
  config?: Record<string, unknown>;
  readyTimeoutMs?: number;
  /** the script node runs, default dist/src/main.js of this repository */
  entry?: string;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_LINES_KEPT = 400;

/** The repository root: the nearest directory above this file with a package.json. */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`no package.json above ${__dirname}`);
}

/** A running (or stopped) daemon of the lab. */
export class Daemon {
  /** the temporary directory holding config, socket and state */
  readonly dir: string;
  readonly configPath: string;
  readonly socketPath: string;
  readonly stateDir: string;
  /** stdout and stderr lines, newest last */
  readonly logs: string[] = [];
  /** the config as written */
  readonly config: Record<string, unknown>;
  private child: ChildProcess | null = null;

  /** Writes the config; start() runs the daemon. */
  constructor(
    private readonly lab: NetnsRun,
    private readonly opts: DaemonOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-netd-`));
    this.socketPath = join(this.dir, 'api.sock');
    this.stateDir = join(this.dir, 'state');
    this.configPath = join(this.dir, 'config.json');

    this.config = {
      socket: this.socketPath,
      state_dir: this.stateDir,
      table: 'workspace_netd',
      uplink: opts.uplink,
      ...opts.config,
    };
    writeFileSync(this.configPath, JSON.stringify(this.config, null, 2) + '\n');
    lab.atDestroy(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  /** True while the daemon process runs. */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the daemon and waits until its socket accepts connections. */
  async start(): Promise<void> {
    if (this.running) throw new Error('daemon already running');
    rmSync(this.socketPath, { force: true });

    const entry = this.opts.entry ?? join(repoRoot(), 'dist/src/main.js');
    if (!existsSync(entry)) throw new Error(`${entry} does not exist: build the daemon first`);
    const child = this.lab.spawn(this.opts.ns, [process.execPath, entry, '--config',
      this.configPath]);
    this.child = child;
    this.capture(child);

    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
    while (!(await this.accepts())) {
      if (!this.running) throw this.failure(`daemon exited (${this.exitText()}) before ready`);
      if (Date.now() > deadline) {
        await this.kill9();
        throw this.failure('daemon socket did not accept connections in time');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends SIGTERM and waits for the exit; returns the exit code (null: killed by signal). */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;

    child.kill('SIGTERM');
    if (!(await waitExit(child, timeoutMs))) {
      child.kill('SIGKILL');
      await waitExit(child, 5000);
      throw this.failure(`daemon did not stop within ${timeoutMs} ms of SIGTERM`);
    }
    return child.exitCode;
  }

  /** Kills the daemon with SIGKILL (a crash) and waits until it is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGKILL');
    await waitExit(child, 5000);
  }

  /** Stops the daemon if it runs, then starts it again with the same config and state. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Calls the API over the Unix socket. */
  api(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = {};
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }

    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, method, path, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parseBody(text) }));
        res.on('error', reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', (err) => reject(this.failure(`${method} ${path} failed: ${err.message}`)));
      req.end(payload);
    });
  }

  /** The last `n` log lines, for failure messages. */
  logTail(n = 30): string {
    return this.logs.slice(-n).join('\n');
  }

  /** Log lines parsed as pino JSON objects (lines that are not JSON are skipped). */
  logRecords(): Record<string, unknown>[] {
    return this.logs.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /** Removes the temporary directory; the daemon must be stopped first. */
  cleanup(): void {
    if (this.running) this.child?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private capture(child: ChildProcess): void {
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        this.logs.push(...lines);
        const excess = this.logs.length - LOG_LINES_KEPT;
        if (excess > 0) this.logs.splice(0, excess);
      });
    }
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = net.connect({ path: this.socketPath });
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
  }

  private exitText(): string {
    const c = this.child;
    return c?.signalCode ? `signal ${c.signalCode}` : `code ${c?.exitCode}`;
  }

  private failure(what: string): Error {
    return new Error(`${what}\n--- daemon log (last lines) ---\n${this.logTail()}`);
  }
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Writes the config, starts the daemon in `opts.ns` and waits until it is ready. */
export async function startDaemon(lab: NetnsRun, opts: DaemonOptions): Promise<Daemon> {
  const daemon = new Daemon(lab, opts);
  try {
    await daemon.start();
  } catch (err) {
    daemon.cleanup();
    throw err;
  }
  return daemon;
}

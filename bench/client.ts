/**
 * A keep-alive HTTP client for the daemon's Unix socket, timing every call: the benchmark
 * measures the daemon, so the client reuses its connections and does nothing else.
 */
import http from 'node:http';
import { msSince } from './stats';

/** One timed call. */
export interface Timed {
  status: number;
  ms: number;
  // any: the benchmark reads the few fields it checks.
  body: any;
}

/** Calls the API on one socket over `connections` kept-alive connections. */
export class ApiClient {
  private readonly agent: http.Agent;

  constructor(private readonly socketPath: string, connections = 8) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  }

  /** Sends one request; resolves with its status, parsed body and round-trip time. */
  call(method: string, path: string, body?: unknown): Promise<Timed> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = payload === undefined ? {} : {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    };
    const start = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath: this.socketPath, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const ms = msSince(start);
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, ms, body: parse(text) });
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like call(), but a status other than 2xx throws with the body. */
  async must(method: string, path: string, body?: unknown): Promise<Timed> {
    const r = await this.call(method, path, body);
    if (r.status < 200 || r.status > 299) {
      throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    return r;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

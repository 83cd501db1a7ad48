/**
 * An API under test: the real server and registry over a RecordingEnforcer, with the log
 * lines captured so that tests can check what is (and is not) logged.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import pino from 'pino';
import type { Test } from 'tap';
import { ERRORS, type ErrorCode } from '../../src/api/errors';
import { buildServer } from '../../src/api/server';
import { WorkspaceRegistry } from '../../src/service/registry';
import { RecordingEnforcer } from './recording-enforcer';

/** The parts of an API under test. */
export interface TestApi {
  app: FastifyInstance;
  enforcer: RecordingEnforcer;
  registry: WorkspaceRegistry;
  /** every log line, parsed */
  logs: Record<string, unknown>[];
  /** sends one request; the body is sent as JSON unless it is a string */
  call(method: Method, url: string, body?: unknown, headers?: object): Promise<Reply>;
}

/** An HTTP method as inject() takes it. */
export type Method = InjectOptions['method'];

/** A response, its body parsed. */
export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, unknown>;
}

/** Builds an API over a fresh registry and a recording enforcer. */
export function testApi(): TestApi {
  const enforcer = new RecordingEnforcer();
  const logs: Record<string, unknown>[] = [];
  const sink = { write: (line: string) => logs.push(JSON.parse(line)) };
  const logger = pino({ level: 'debug' }, sink);
  const registry = new WorkspaceRegistry({
    enforcer,
    customProxyPlans: ['scale', 'enterprise'],
    workspaceNetwork: '10.0.0.0/8',
    logger,
  });
  const app = buildServer({ registry, enforcer, logger });

  const call = async (method: Method, url: string, body?: unknown, headers: object = {}) => {
    // A string is sent as is (with the caller's headers); anything else as JSON.
    const raw = typeof body === 'string' || body === undefined;
    const payload = raw ? (body as string | undefined) : JSON.stringify(body);
    const json = raw ? {} : { 'content-type': 'application/json' };

    const res = await app.inject({ method, url, payload, headers: { ...json, ...headers } });
    return { status: res.statusCode, body: res.json(), headers: res.headers };
  };
  return { app, enforcer, registry, logs, call };
}

/** Asserts a failure response: the code's status, and { success:false, error, message }. */
export function isRefusal(t: Test, reply: Reply, code: ErrorCode, message?: RegExp): void {
  t.equal(reply.status, ERRORS[code].status, `${code} is HTTP ${ERRORS[code].status}`);
  t.same(Object.keys(reply.body), ['success', 'error', 'message']);
  t.equal(reply.body.success, false);
  t.equal(reply.body.error, code);
  t.type(reply.body.message, 'string');
  if (message) t.match(reply.body.message, message);
}

/** A PUT body for a local workspace. */
export function workspaceBody(ip: string, iface: string | null, extra: object = {}) {
  return { ip, gateway: '10.0.0.1', interface: iface, ...extra };
}

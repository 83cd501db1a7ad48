/**
 * The HTTP/1.1 API on a Unix socket (contract: The API). Every response is JSON; every
 * failure is { success: false, error, message } with the status of its registered code.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Fastify, { LogController } from 'fastify';
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HTTPMethods,
} from 'fastify';
import type { Logger } from 'pino';
import type { Enforcer } from '../enforce/types';
import type { WorkspaceRegistry } from '../service/registry';
import { ApiError, type ErrorCode, toApiError } from './errors';
import { registerHealthRoutes } from './routes/health';
import { registerNetworkRoutes } from './routes/network';
import { registerWorkspaceRoutes } from './routes/workspaces';

/** The largest request body accepted; the biggest valid PATCH is a few KiB. */
export const BODY_LIMIT = 64 * 1024;

/** The socket file's mode: the daemon's user and group may connect, nobody else. */
export const SOCKET_MODE = 0o660;

/** What the API serves from. */
export interface ServerOptions {
  registry: WorkspaceRegistry;
  enforcer: Enforcer;
  logger: Logger;
}

const FAULTS = new Set<ErrorCode>(['internal_error', 'kernel_refused']);
const METHODS: HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'];

/** Builds the API, not yet listening. */
export function buildServer(options: ServerOptions): FastifyInstance {
  // Widened to fastify's logger type so that routes take a plain FastifyInstance.
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: BODY_LIMIT,
    // Request logging is ours (below): one line per request, and never a body.
    logController: new LogController({ disableRequestLogging: true }),
    // Long enough that an over-long id reaches the route and gets invalid_workspace_id.
    routerOptions: { maxParamLength: 2048 },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // A path fastify cannot decode is refused in the API's envelope, like any refusal.
    frameworkErrors: (err, request, reply) => handleError(err, request, reply),
    // So is a request HTTP cannot parse (a Content-Length that disagrees with the body).
    clientErrorHandler: refuseMalformed,
  });

  // Only JSON bodies: a text/plain body is refused with 415, not parsed as a string.
  app.removeContentTypeParser('text/plain');
  // A call without a body (DELETE, GET) may still say JSON, as many clients do by habit.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' && (req.method === 'DELETE' || req.method === 'GET')) {
      done(null, undefined);
      return;
    }
    json(req, body as string, done);
  });
  const routes = collectRoutes(app);

  registerWorkspaceRoutes(app, options.registry);
  registerNetworkRoutes(app, options.registry);
  registerHealthRoutes(app, options.enforcer, options.registry);
  refuseOtherMethods(app, routes);

  app.setNotFoundHandler(async (request) => {
    throw new ApiError('not_found', `no route ${request.method} ${request.url}`);
  });
  app.setErrorHandler(handleError);
  app.addHook('onResponse', async (request, reply) => {
    const level = request.url === '/healthz' ? 'debug' : 'info';
    const fields = { method: request.method, url: request.url, status: reply.statusCode };
    request.log[level]({ ...fields, ms: Math.round(reply.elapsedTime) }, 'request done');
  });
  return app;
}

/** Listens on a Unix socket: creates its directory, replaces a stale socket, sets its mode. */
export async function listenOnSocket(app: FastifyInstance, socketPath: string): Promise<void> {
  await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: 0o750 });
  await removeStaleSocket(socketPath);

  // The umask makes the socket born 0660, so there is no moment it is open to others.
  const umask = process.umask(0o117);
  try {
    await app.listen({ path: socketPath });
  } finally {
    process.umask(umask);
  }
  await fs.chmod(socketPath, SOCKET_MODE);
}

function handleError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const apiError = fromFastify(err) ?? toApiError(err);
  const fields = { error: apiError.code, field: apiError.field };

  // Faults are the daemon's or the kernel's; everything else is an answer to the client.
  if (FAULTS.has(apiError.code)) request.log.error({ ...fields, err }, 'request failed');
  else if (apiError.code === 'not_ready') request.log.warn(fields, 'not ready');
  else request.log.info(fields, 'request refused');

  void reply.code(apiError.status).send(apiError.toBody());
}

/** Answers a request the HTTP parser refused, in the envelope, and closes the connection. */
function refuseMalformed(err: Error & { code?: string }, socket: net.Socket): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy(err);
    return;
  }
  const tooLong = err.code === 'HPE_HEADER_OVERFLOW' || err.code === 'HPE_URI_TOO_LONG';
  const apiError = new ApiError(tooLong ? 'invalid_url' : 'malformed_request');
  const body = JSON.stringify(apiError.toBody());
  socket.end(`HTTP/1.1 ${apiError.status} Bad Request\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Fastify's own refusals (body parsing and limits) as API errors; null for anything else. */
function fromFastify(err: FastifyError): ApiError | null {
  if (err instanceof ApiError) return null;

  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return new ApiError('invalid_url', undefined, { cause: err });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', `the body is larger than ${BODY_LIMIT} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported_media_type', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_body', 'the body is empty but Content-Type says JSON');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('invalid_body', 'the body is not valid JSON', { cause: err });
  }

  // Any other refusal fastify gives a 4xx status (a bad Content-Length, a poisoned object).
  const status = err.statusCode ?? 500;
  if (status === 413) return new ApiError('payload_too_large', undefined, { cause: err });
  if (status === 414) return new ApiError('invalid_url', undefined, { cause: err });
  if (status === 415) return new ApiError('unsupported_media_type', undefined, { cause: err });
  if (status >= 400 && status < 500) {
    return new ApiError('invalid_body', `the body could not be read: ${err.message}`, {
      cause: err,
    });
  }
  return null;
}

/** Records each route's methods by URL as they are registered. */
function collectRoutes(app: FastifyInstance): Map<string, Set<string>> {
  const routes = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const known = routes.get(route.url) ?? new Set<string>();
    methods.forEach((method) => known.add(method));
    routes.set(route.url, known);
  });
  return routes;
}

/** Answers 405 for a known URL with a method it does not serve, instead of 404. */
function refuseOtherMethods(app: FastifyInstance, routes: Map<string, Set<string>>): void {
  for (const [url, known] of [...routes]) {
    if (known.has('GET')) known.add('HEAD');
    const others = METHODS.filter((method) => !known.has(method));
    if (others.length === 0) continue;

    const allowed = [...known].sort().join(', ');
    app.route({
      method: others,
      url,
      handler: async (request, reply) => {
        void reply.header('allow', allowed);
        const message = `${request.method} ${url} is not served; use ${allowed}`;
        throw new ApiError('method_not_allowed', message);
      },
    });
  }
}

/** Removes a socket file left by a daemon that is gone; refuses to take over a live one. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const stat = await fs.lstat(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (stat === null) return;
  if (!stat.isSocket()) {
    throw new Error(`${socketPath} exists and is not a socket; remove it or choose another path`);
  }
  if (await isListening(socketPath)) {
    throw new Error(`another process is listening on ${socketPath}`);
  }
  await fs.unlink(socketPath);
}

function isListening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BODY_LIMIT, listenOnSocket } from '../../src/api/server';
import { isRefusal, testApi, workspaceBody } from '../support/api';

t.test('an unknown route is not_found', async (t) => {
  const api = testApi();
  isRefusal(t, await api.call('GET', '/nope'), 'not_found', /GET \/nope/);
  isRefusal(t, await api.call('GET', '/workspace/ws_a/network/extra'), 'not_found');
});

t.test('a known route with another method is method_not_allowed, with Allow', async (t) => {
  const api = testApi();
  const reply = await api.call('POST', '/workspace/ws_a/network', {});
  isRefusal(t, reply, 'method_not_allowed', /GET, HEAD, PATCH/);
  t.equal(reply.headers.allow, 'GET, HEAD, PATCH');
  isRefusal(t, await api.call('POST', '/workspaces'), 'method_not_allowed');
  isRefusal(t, await api.call('GET', '/workspace/ws_a'), 'method_not_allowed');
});

t.test('a body that is not JSON is unsupported_media_type', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  const text = await api.call('PATCH', '/workspace/ws_a/network', '{"public_access":true}',
    { 'content-type': 'text/plain' });
  isRefusal(t, text, 'unsupported_media_type', /application\/json/);
  const form = await api.call('PUT', '/workspace/ws_b', 'ip=10.0.0.3',
    { 'content-type': 'application/x-www-form-urlencoded' });
  isRefusal(t, form, 'unsupported_media_type');
  t.equal((await api.call('GET', '/workspace/ws_a/network')).body.public_access, false);
});

t.test('a body over 64 KiB is payload_too_large', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  const big = JSON.stringify({ egress: ['x'.repeat(BODY_LIMIT)] });
  const reply = await api.call('PATCH', '/workspace/ws_a/network', big,
    { 'content-type': 'application/json' });
  isRefusal(t, reply, 'payload_too_large', /65536/);
  t.equal(api.enforcer.calls.length, 1);
});

t.test('bad JSON, an empty JSON body, a missing body, a poisoned body', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a'));
  const json = { 'content-type': 'application/json' };
  isRefusal(t, await api.call('PATCH', '/workspace/ws_a/network', '{"a":', json),
    'invalid_body', /not valid JSON/);
  isRefusal(t, await api.call('PATCH', '/workspace/ws_a/network', '', json), 'invalid_body',
    /empty/);
  isRefusal(t, await api.call('PATCH', '/workspace/ws_a/network'), 'invalid_body',
    /JSON object with the fields to change, got nothing/);
  isRefusal(t, await api.call('PUT', '/workspace/ws_b', '{"__proto__":{"x":1}}', json),
    'invalid_body');
  t.equal(api.enforcer.calls.length, 1);
});

t.test('healthz follows the enforcer', async (t) => {
  const api = testApi();
  const ready = await api.call('GET', '/healthz');
  t.equal(ready.status, 200);
  t.equal(ready.body.success, true);

  api.enforcer.ready = false;
  isRefusal(t, await api.call('GET', '/healthz'), 'not_ready');
  api.enforcer.healthy = async () => {
    throw new Error('lost');
  };
  isRefusal(t, await api.call('GET', '/healthz'), 'not_ready');
});

t.test('logging: one line a request, refusals at info, no bodies', async (t) => {
  const api = testApi();
  await api.call('PUT', '/workspace/ws_a', workspaceBody('10.0.0.2', 'tap_a', { name: 'n' }));
  await api.call('PATCH', '/workspace/ws_a/network', { ingress_ports: [0] });

  const done = api.logs.filter((line) => line.msg === 'request done');
  t.same(done.map((line) => [line.method, line.status]), [['PUT', 201], ['PATCH', 400]]);
  t.ok(done.every((line) => typeof line.reqId === 'string'), 'a child logger per request');
  const refused = api.logs.find((line) => line.msg === 'request refused');
  t.equal(refused?.level, 30);
  t.equal(refused?.error, 'invalid_port');
  t.notMatch(JSON.stringify(api.logs), /tap_a"|10\.0\.0\.1"/, 'no request body in the log');
  const changed = api.logs.some((line) => line.msg === 'desired state changed');
  t.ok(changed, 'the registry logs its commits');
});

t.test('listenOnSocket serves HTTP on a Unix socket with mode 0660', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'netd-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'run', 'api.sock');
  const api = testApi();
  t.teardown(() => api.app.close());

  await listenOnSocket(api.app, socket);
  t.equal((await fs.stat(socket)).mode & 0o777, 0o660);
  const reply = await request(socket, 'GET', '/workspaces');
  t.equal(reply.status, 200);
  t.same(JSON.parse(reply.body), { success: true, workspaces: [] });
});

t.test('listenOnSocket replaces a stale socket and refuses a live one', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'netd-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'api.sock');

  // A stale socket: bound, then the process "died" without unlinking it.
  const stale = net.createServer();
  await new Promise<void>((resolve) => stale.listen(socket, resolve));
  const handle = (stale as unknown as { _handle: { close(): void } })._handle;
  handle.close();

  const first = testApi();
  t.teardown(() => first.app.close());
  await listenOnSocket(first.app, socket);
  t.equal((await request(socket, 'GET', '/healthz')).status, 200, 'took over the stale path');

  const second = testApi();
  await t.rejects(listenOnSocket(second.app, socket), /another process is listening/);

  const file = path.join(dir, 'plain');
  await fs.writeFile(file, '');
  await t.rejects(listenOnSocket(testApi().app, file), /not a socket/);
});

function request(socketPath: string, method: string, url: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ socketPath, method, path: url }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('a path that is not a valid URL is invalid_url, in the envelope', async (t) => {
  const api = testApi();
  isRefusal(t, await api.call('GET', '/workspace/%ff/network'), 'invalid_url');
  isRefusal(t, await api.call('GET', `/workspace/${'a'.repeat(3000)}/network`),
    'invalid_url');
  t.equal(api.enforcer.calls.length, 0);
});

t.test('a request HTTP cannot parse is malformed_request, in the envelope', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'netd-api-'));
  const socketPath = path.join(dir, 'api.sock');
  const api = testApi();
  await listenOnSocket(api.app, socketPath);
  t.teardown(async () => {
    await api.app.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(socketPath);
    let data = '';
    socket.on('data', (chunk) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.write('PATCH /workspace/ws_a/network HTTP/1.1\r\nHost: x\r\n' +
      'Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{"public_access":true}');
  });
  t.match(raw, /^HTTP\/1\.1 400 /);
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
  t.same(body.error, 'malformed_request');
  t.equal(body.success, false);
});

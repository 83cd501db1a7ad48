#!/usr/bin/env node
/*
 * Misbehaving CONNECT proxies for the preflight's verdicts, run in the lab's proxy
 * namespace as `node bad-proxy.js ADDR`. Plain JavaScript so that it needs no build. Each
 * port behaves one way (see BAD_PORTS in proxies.ts); each answer comes once the request's
 * head has arrived.
 */
'use strict';
const net = require('node:net');

const addr = process.argv[2];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function pieces(socket, parts, gapMs) {
  for (const part of parts) {
    if (socket.destroyed) return;
    socket.write(part);
    await sleep(gapMs);
  }
}

const behaviours = {
  4001: (s) => pieces(s, ['HTTP/1.0 2', '00 Tunnel, as you wish\r', '\nX-Odd: yes\r\n', '\r\n'],
    30).then(() => setTimeout(() => s.end(), 1000)),
  4002: (s) => s.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: ' +
    'Basic realm="lab"\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nwho are you?\n'),
  4003: (s) => s.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'),
  4004: (s) => s.end(),
  4005: () => undefined,
  4006: (s) => s.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'),
  4007: (s) => pieces(s, ['HTTP/1.1 2'], 10).then(() => s.end()),
  4008: () => undefined,
  4010: (s, head) => faithful(s, head),
};

// A tunnel that carries each direction's end on its own (tinyproxy and squid close both
// ways at the first FIN), so that the relay's own half-close can be seen.
function faithful(client, head) {
  const [host, port] = head.split(' ')[1].split(':');
  const far = net.connect({ host, port: Number(port), allowHalfOpen: true }, () => {
    client.write('HTTP/1.1 200 Connection established\r\n\r\n');
    client.pipe(far);
    far.pipe(client);
  });
  far.on('error', () => client.destroy());
}

for (const [port, behave] of Object.entries(behaviours)) {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    let head = '';
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      socket.resume();
      behave(socket, head);
    };
    socket.on('data', onData);
  });
  server.listen(Number(port), addr);
}

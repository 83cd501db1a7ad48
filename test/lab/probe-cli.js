#!/usr/bin/env node
/*
 * The lab's probe, run inside a namespace with `ip netns exec NS node probe-cli.js ...`.
 * Plain JavaScript so that it needs no build. Prints one JSON line per result.
 *
 *   tcp  ADDR PORT TIMEOUT_MS [SRC]   connect; report connected|reset|unreachable|timeout
 *   udp  ADDR PORT TIMEOUT_MS [SRC]   send a datagram; report answered|unreachable|timeout
 *   dns  SERVER NAME TIMEOUT_MS       ask SERVER for NAME's A records
 *   hold ADDR PORT TIMEOUT_MS         keep a connection; on each stdin line "check ID" send
 *                                     "ping ID" and report whether it came back
 */
'use strict';
const net = require('node:net');
const dgram = require('node:dgram');
const dns = require('node:dns');

// ECONNREFUSED on connect is a TCP reset; these are ICMP errors (EHOSTUNREACH covers
// admin-prohibited, RFC 1812 code 13) or a local netfilter drop (EPERM).
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EACCES', 'EPERM', 'EHOSTDOWN']);

function print(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function classify(code) {
  if (code === 'ECONNREFUSED') return 'reset';
  if (UNREACHABLE.has(code)) return 'unreachable';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'error';
}

function tcp(addr, port, timeoutMs, src) {
  const started = Date.now();
  const family = net.isIP(addr) || 4;
  const sock = net.connect({ host: addr, port, family, localAddress: src || undefined });
  let connected = false;
  let buf = '';
  let done = false;

  const finish = (res) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.destroy();
    print({ ...res, ms: Date.now() - started });
  };
  const timer = setTimeout(() => {
    finish(connected ? { result: 'connected' } : { result: 'timeout' });
  }, timeoutMs);

  sock.on('connect', () => {
    connected = true;
  });
  sock.on('data', (chunk) => {
    buf += chunk.toString();
    const nl = buf.indexOf('\n');
    if (nl >= 0) finish({ result: 'connected', peerSaw: buf.slice(0, nl).trim() });
  });
  sock.on('end', () => finish({ result: connected ? 'connected' : 'reset' }));
  sock.on('error', (err) => {
    if (connected) finish({ result: 'connected', error: err.code });
    else finish({ result: classify(err.code), error: err.code });
  });
}

function udp(addr, port, timeoutMs, src) {
  const started = Date.now();
  const sock = dgram.createSocket(net.isIP(addr) === 6 ? 'udp6' : 'udp4');
  let done = false;
  const timers = [];

  const finish = (res) => {
    if (done) return;
    done = true;
    timers.forEach(clearTimeout);
    sock.close();
    print({ ...res, ms: Date.now() - started });
  };
  const send = () => sock.send('probe\n', (err) => err && fail(err));
  const fail = (err) => {
    const kind = classify(err.code);
    finish({ result: kind === 'reset' ? 'unreachable' : kind, error: err.code });
  };

  sock.on('error', fail);
  sock.on('message', (msg) => finish({ result: 'answered', peerSaw: msg.toString().trim() }));
  sock.bind({ address: src || undefined }, () => {
    sock.connect(port, addr, (err) => {
      if (err) return fail(err);
      send();
      // One resend halfway, in case the first datagram raced a neighbour lookup.
      timers.push(setTimeout(send, Math.floor(timeoutMs / 2)));
    });
  });
  timers.push(setTimeout(() => finish({ result: 'timeout' }), timeoutMs));
}

function dnsQuery(server, name, timeoutMs) {
  const started = Date.now();
  const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([server]);
  resolver.resolve4(name).then(
    (addresses) => print({ ok: true, addresses, ms: Date.now() - started }),
    (err) => print({ ok: false, error: err.code || String(err), ms: Date.now() - started }),
  );
}

function hold(addr, port, timeoutMs) {
  const sock = net.connect({ host: addr, port, family: net.isIP(addr) || 4 });
  let connected = false;
  let buf = '';
  const waiting = new Map();

  const connectTimer = setTimeout(() => {
    print({ event: 'error', error: 'timeout' });
    process.exit(0);
  }, timeoutMs);

  sock.on('connect', () => {
    connected = true;
    clearTimeout(connectTimer);
  });
  sock.on('data', (chunk) => {
    buf += chunk.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      const m = /^ping (\S+)$/.exec(line);
      if (!m) print({ event: 'connected', peerSaw: line });
      else if (waiting.has(m[1])) {
        clearTimeout(waiting.get(m[1]));
        waiting.delete(m[1]);
        print({ event: 'check', id: m[1], result: 'alive' });
      }
    }
  });
  sock.on('error', (err) => {
    clearTimeout(connectTimer);
    const kind = connected ? (err.code === 'ECONNRESET' ? 'reset' : err.code) : classify(err.code);
    print({ event: 'error', error: kind, code: err.code });
    process.exit(0);
  });
  sock.on('end', () => {
    print({ event: 'closed' });
    process.exit(0);
  });

  let input = '';
  process.stdin.on('data', (chunk) => {
    input += chunk.toString();
    let nl;
    while ((nl = input.indexOf('\n')) >= 0) {
      const [cmd, id, ms] = input.slice(0, nl).trim().split(' ');
      input = input.slice(nl + 1);
      if (cmd !== 'check' || !id) continue;
      waiting.set(id, setTimeout(() => {
        waiting.delete(id);
        print({ event: 'check', id, result: 'timeout' });
      }, Number(ms) || 2000));
      sock.write(`ping ${id}\n`);
    }
  });
  process.stdin.on('end', () => {
    sock.destroy();
    process.exit(0);
  });
}

function main(argv) {
  const [cmd, a, b, c, d] = argv;
  const timeoutMs = Number(c) || 2000;
  if (cmd === 'tcp') return tcp(a, Number(b), timeoutMs, d);
  if (cmd === 'udp') return udp(a, Number(b), timeoutMs, d);
  if (cmd === 'dns') return dnsQuery(a, b, timeoutMs);
  if (cmd === 'hold') return hold(a, Number(b), timeoutMs);
  process.stderr.write('usage: probe-cli.js tcp|udp|dns|hold ...\n');
  process.exit(2);
}

main(process.argv.slice(2));

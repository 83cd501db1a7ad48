/**
 * Conntrack: a TCP connection over lo inside the test's namespace shows in ctList by its
 * original tuple, ctDelete removes it, and deleting it again counts nothing.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import t from 'tap';

import type { CtTuple } from '../../src/nft/types';
import { fixture } from './fixtures/netns';
import { IPPROTO_TCP, tracking } from './fixtures/tracking';

// Runs inside the namespace: a server and a client on 127.0.0.1 holding one idle
// connection open, printing its ports once established.
const connect = `
const net = require('node:net');
const server = net.createServer(() => {});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    console.log(JSON.stringify({ sport: c.localPort, dport: server.address().port }));
  });
});`;

t.test('a TCP connection is listed, deleted by tuple, and gone', async (t) => {
  const { sock, ns, exec } = fixture(t);
  exec(['ip', 'link', 'set', 'lo', 'up']);
  t.same(await sock.commit(tracking), { ok: true });

  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', connect], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { sport, dport } = JSON.parse(line) as { sport: number; dport: number };

  const tuple: CtTuple = { proto: IPPROTO_TCP, src: '127.0.0.1', dst: '127.0.0.1', sport, dport };
  const listed = await sock.ctList();
  // TCP_CONNTRACK_ESTABLISHED (linux/netfilter/nf_conntrack_tcp.h).
  const replied = { ...tuple, replyDst: '127.0.0.1', tcpState: 3 };
  t.same(listed.filter((e) => e.sport === sport && e.dport === dport), [replied], 'listed');

  t.equal(await sock.ctDelete([tuple]), 1, 'one entry deleted');
  const after = await sock.ctList();
  t.notOk(after.some((e) => e.sport === sport && e.dport === dport), 'gone from the table');
  t.equal(await sock.ctDelete([tuple]), 0, 'deleting it again is not an error');

  child.kill('SIGKILL');
  await once(child, 'exit');
});

// Sends one ICMP echo request to 127.0.0.1 with id 4242 from a raw socket.
const echo = `
import socket, struct
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
head = struct.pack('!BBHHH', 8, 0, 0, 4242, 1) + b'probe!'
pkt = struct.pack('!BBHHH', 8, 0, csum(head), 4242, 1) + b'probe!'
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(pkt, ('127.0.0.1', 0))
s.settimeout(2)
s.recv(100)`;

t.test('an ICMP echo is listed with its id, type and code, and deleted by them', async (t) => {
  const { sock, exec } = fixture(t);
  exec(['ip', 'link', 'set', 'lo', 'up']);
  t.same(await sock.commit(tracking), { ok: true });
  exec(['python3', '-c', echo]);

  const icmp = (await sock.ctList()).filter((e) => e.proto === 1);
  t.match(icmp, [{ src: '127.0.0.1', dst: '127.0.0.1', icmp: { id: 4242, type: 8, code: 0 } }]);
  t.equal(await sock.ctDelete(icmp), 1, 'deleted by its ICMP tuple');
  t.same((await sock.ctList()).filter((e) => e.proto === 1), [], 'gone');
});

/**
 * DNS messages: reading a workspace's query, the replies that refuse at once, replies
 * built afresh (id, question echoed; TC when too big for UDP), and TCP framing.
 */
import t from 'tap';
import * as packet from 'dns-packet';
import type { Answer } from 'dns-packet';
import {
  encodeReply, encodeUpstreamQuery, frame, readQuery, readResponse, TcpFramer, type Query,
} from '../../src/dns/message';

const query = (extra: Partial<packet.Packet> = {}) => packet.encode({
  type: 'query', id: 4242, flags: packet.RECURSION_DESIRED,
  questions: [{ type: 'A', name: 'Api.GitHub.com.' }], ...extra,
});

function read(buf: Buffer): Query {
  const res = readQuery(buf);
  if (!res.ok) throw new Error('not read');
  return res.query;
}

t.test('a query is read into its one question, the name canonical', async (t) => {
  const q = read(query());
  t.equal(q.id, 4242);
  t.equal(q.name, 'api.github.com');
  t.same(q.question, { name: 'Api.GitHub.com', type: 'A', class: 'IN' });
  t.equal(q.recursionDesired, true);
  t.same([q.udpSize, q.edns], [512, false], 'plain DNS: 512 bytes');
});

t.test('EDNS raises the UDP size, up to 1232', async (t) => {
  const opt = (size: number) => ({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: size,
    flags: 0 } as Answer] });
  t.same([read(query(opt(4096))).udpSize, read(query(opt(4096))).edns], [1232, true]);
  t.equal(read(query(opt(100))).udpSize, 512);
});

t.test('what cannot be answered normally gets a header-only reply, or none', async (t) => {
  const garbage = Buffer.concat([query().subarray(0, 14), Buffer.from([0xff])]);
  const formerr = readQuery(garbage);
  t.match(formerr, { ok: false });
  const reply = (formerr as { reply: Buffer }).reply;
  t.same([reply.readUInt16BE(0), reply[3] & 0x0f, reply[2] & 0x80], [4242, 1, 0x80], 'FORMERR');

  t.same(readQuery(Buffer.from([1, 2, 3])), { ok: false, reply: null }, 'not even a header');
  const response = packet.encode({ type: 'response', id: 1, questions: [] });
  t.same(readQuery(response), { ok: false, reply: null }, 'a response is never answered');

  const two = query({ questions: [{ type: 'A', name: 'a.com' }, { type: 'A', name: 'b.com' }] });
  t.equal((readQuery(two) as { reply: Buffer }).reply[3] & 0x0f, 1, 'two questions: FORMERR');
  const update = query();
  update[2] |= 5 << 3; // opcode UPDATE (RFC 2136)
  t.equal((readQuery(update) as { reply: Buffer }).reply[3] & 0x0f, 4, 'UPDATE: NOTIMP');
});

t.test('a reply echoes id and question and carries the records given', async (t) => {
  const q = read(query());
  const answers: Answer[] = [{ type: 'A', name: 'api.github.com', ttl: 30, data: '140.82.112.5' }];
  const reply = packet.decode(encodeReply(q, 'NOERROR', { answers }, true));
  t.equal(reply.id, 4242);
  t.same(reply.questions, [{ name: 'Api.GitHub.com', type: 'A', class: 'IN' }]);
  t.same([reply.flag_qr, reply.flag_rd, reply.flag_ra, reply.flag_tc], [true, true, true, false]);
  t.same(reply.answers?.map((r) => (r.type === 'A' ? r.data : null)), ['140.82.112.5']);

  const refused = packet.decode(encodeReply(q, 'REFUSED', {}, true));
  t.same([(refused as { rcode?: string }).rcode, refused.answers], ['REFUSED', []]);
});

t.test('a UDP reply too big is truncated (TC) with no records; TCP takes it all', async (t) => {
  const q = read(query());
  const answers: Answer[] = Array.from({ length: 40 }, (_, i) => ({
    type: 'A', name: 'api.github.com', ttl: 30, data: `192.0.2.${i}` }));
  const udp = packet.decode(encodeReply(q, 'NOERROR', { answers }, true));
  t.same([udp.flag_tc, udp.answers?.length], [true, 0]);
  const tcp = packet.decode(encodeReply(q, 'NOERROR', { answers }, false));
  t.same([tcp.flag_tc, tcp.answers?.length], [false, 40]);
});

t.test('the upstream query holds the question alone, recursion desired, EDNS', async (t) => {
  const msg = packet.decode(encodeUpstreamQuery(7, { name: 'a.example', type: 'AAAA' }));
  t.same([msg.id, msg.flag_rd, msg.questions?.[0].name, msg.questions?.[0].type],
    [7, true, 'a.example', 'AAAA']);
  t.equal(msg.additionals?.[0].type, 'OPT');
  t.equal(readResponse(encodeUpstreamQuery(7, { name: 'a', type: 'A' })), null, 'not a response');
  t.equal(readResponse(Buffer.from('nonsense')), null);
});

t.test('TCP framing: messages split and joined across chunks', async (t) => {
  const a = query();
  const b = query({ id: 9 });
  const stream = Buffer.concat([frame(a), frame(b)]);
  const framer = new TcpFramer();
  t.same(framer.push(stream.subarray(0, 1)), []);
  t.same(framer.push(stream.subarray(1, a.length + 3)), [a], 'the first whole message');
  t.same(framer.push(stream.subarray(a.length + 3)), [b]);
  t.equal(frame(a).readUInt16BE(0), a.length);
});

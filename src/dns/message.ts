/**
 * DNS messages between a workspace and the daemon (RFC 1035 section 4), through dns-packet.
 * A query is read into the one question it asks; a reply is built afresh from the question
 * and the records the daemon decided to give, never by relaying the upstream's bytes.
 */
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import { canonicalName } from './policy';

/** The response codes the daemon sends (RFC 1035 section 4.1.1, RFC 6895). */
export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';

const RCODES: Record<string, number> = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5,
};

/** Plain DNS over UDP without EDNS (RFC 1035 section 2.3.4). */
export const MIN_UDP_SIZE = 512;
/** The largest UDP reply sent, whatever a client offers (DNS flag day 2020). */
export const MAX_UDP_SIZE = 1232;

/** One question from a workspace, with what its reply must echo. */
export interface Query {
  id: number;
  question: Question;
  /** the asked name, lower case, without the trailing dot */
  name: string;
  recursionDesired: boolean;
  /** the largest UDP reply the client takes */
  udpSize: number;
  /** the client sent an OPT record, so the reply carries one */
  edns: boolean;
}

/** A query read, or the reply that refuses it at once (null: not worth an answer). */
export type ReadResult = { ok: true; query: Query } | { ok: false; reply: Buffer | null };

/** Reads a message from a workspace into its query. */
export function readQuery(buf: Buffer): ReadResult {
  let msg: DecodedPacket;
  try {
    msg = packet.decode(buf);
  } catch {
    return { ok: false, reply: headerOnlyReply(buf, 'FORMERR') };
  }
  // A response sent to a server is never answered: that would make a loop.
  if (msg.flag_qr) return { ok: false, reply: null };

  const opcode = (msg as DecodedPacket & { opcode?: string }).opcode;
  if (opcode !== 'QUERY') return { ok: false, reply: headerOnlyReply(buf, 'NOTIMP') };
  if (msg.questions?.length !== 1) return { ok: false, reply: headerOnlyReply(buf, 'FORMERR') };

  const question = msg.questions[0];
  const opt = msg.additionals?.find((a) => a.type === 'OPT');
  const offered = opt && 'udpPayloadSize' in opt ? opt.udpPayloadSize : MIN_UDP_SIZE;
  return {
    ok: true,
    query: {
      id: msg.id ?? 0,
      question: { name: question.name, type: question.type, class: question.class ?? 'IN' },
      name: canonicalName(question.name),
      recursionDesired: msg.flag_rd,
      udpSize: Math.min(MAX_UDP_SIZE, Math.max(MIN_UDP_SIZE, offered)),
      edns: opt !== undefined,
    },
  };
}

/** The records of a reply, by section; additionals never carry over from an upstream. */
export interface ReplyRecords {
  answers?: Answer[];
  authorities?: Answer[];
}

/**
 * The reply to `q`: its id and question, `rcode` and `records`. Over UDP a reply larger than
 * the client takes goes out truncated (TC, no records), so that the client asks over TCP.
 */
export function encodeReply(q: Query, rcode: Rcode, records: ReplyRecords, udp: boolean): Buffer {
  const flags = (q.recursionDesired ? packet.RECURSION_DESIRED : 0) |
    packet.RECURSION_AVAILABLE | RCODES[rcode];
  const opt: Answer[] = q.edns
    ? [{ type: 'OPT', name: '.', udpPayloadSize: MAX_UDP_SIZE, flags: 0 } as Answer]
    : [];
  const reply: Packet = {
    type: 'response',
    id: q.id,
    flags,
    questions: [q.question],
    answers: records.answers ?? [],
    authorities: records.authorities ?? [],
    additionals: opt,
  };

  const whole = packet.encode(reply);
  if (!udp || whole.length <= q.udpSize) return whole;
  const truncated = { ...reply, flags: flags | packet.TRUNCATED_RESPONSE, answers: [],
    authorities: [] };
  return packet.encode(truncated);
}

/** The query the daemon sends upstream: only the question, recursion desired, EDNS. */
export function encodeUpstreamQuery(id: number, question: Question): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [question],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: MAX_UDP_SIZE, flags: 0 } as Answer],
  });
}

/** Reads an upstream's response; null when it does not parse or is not a response. */
export function readResponse(buf: Buffer): DecodedPacket | null {
  try {
    const msg = packet.decode(buf);
    return msg.flag_qr ? msg : null;
  } catch {
    return null;
  }
}

/** The rcode of a decoded response, by name. */
export function rcodeOf(msg: DecodedPacket): string {
  return (msg as DecodedPacket & { rcode?: string }).rcode ?? 'SERVFAIL';
}

/**
 * A reply of a header alone (id echoed, no question) for a message that cannot be read
 * further; null when not even its header can be.
 */
function headerOnlyReply(buf: Buffer, rcode: Rcode): Buffer | null {
  if (buf.length < 12 || (buf[2] & 0x80) !== 0) return null;
  const reply = Buffer.alloc(12);
  buf.copy(reply, 0, 0, 2);
  reply[2] = 0x80 | (buf[2] & 0x79); // QR, the query's opcode and RD
  reply[3] = 0x80 | RCODES[rcode]; // RA
  return reply;
}

/**
 * Splits a TCP byte stream into DNS messages, each behind its 2-byte length (RFC 1035
 * section 4.2.2). push() returns the messages completed by `chunk`.
 */
export class TcpFramer {
  private pending: Buffer = Buffer.alloc(0);

  /** Adds received bytes; returns every whole message they complete. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 2) {
      const len = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + len) break;
      out.push(this.pending.subarray(2, 2 + len));
      this.pending = this.pending.subarray(2 + len);
    }
    return out;
  }
}

/** A message with its 2-byte length in front, for TCP. */
export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

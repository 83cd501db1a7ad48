/**
 * Log lines for journald. Under systemd, stdout is a stream to the journal, which reads
 * every line at the unit's default priority (info) unless the line starts with a
 * sd-daemon(3) "<N>" prefix, which it strips. Each pino line gets the prefix of its level,
 * so that `journalctl -p warning -u workspace-netd` finds repairs and faults.
 */
import { fstatSync } from 'node:fs';
import pino, { type DestinationStream } from 'pino';

/** pino's numeric levels as syslog priorities (RFC 5424, 6.2.1): trace and debug are 7. */
const PRIORITY: Readonly<Record<string, number>> = {
  10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2,
};

/**
 * True when file descriptor `fd` is the journal's stream: systemd names it in
 * JOURNAL_STREAM as "device:inode" (systemd.exec(5)); a redirected or inherited descriptor
 * does not match, and gets plain lines.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  try {
    const st = fstatSync(fd);
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** The "<N>" prefix for one pino line, from its leading `{"level":N`. */
export function priorityPrefix(line: string): string {
  const level = /^\{"level":(\d+)/.exec(line)?.[1];
  return `<${(level !== undefined && PRIORITY[level]) || 6}>`;
}

/** pino's stdout destination, with each line prefixed by its priority. */
export function journalDestination(
  out: DestinationStream = pino.destination({ dest: 1, sync: false }),
): DestinationStream {
  return { write: (line: string) => out.write(priorityPrefix(line) + line) };
}

/** `text` as a line for stderr: marked as an error when stderr is the journal. */
export function errorLine(text: string): string {
  return `${isJournalStream(2) ? '<3>' : ''}${text}\n`;
}

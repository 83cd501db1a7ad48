/**
 * The daemon's logger: pino JSON lines on stdout for journald, each marked with its
 * priority when stdout is the journal (src/systemd/journal.ts). Secrets never reach a line:
 * every field that can carry a proxy password or an authorization header is redacted.
 */
import pino, { Logger } from 'pino';
import { isJournalStream, journalDestination } from './systemd/journal';

/** Paths pino censors wherever they appear in a logged object. */
export const REDACT = [
  'password',
  '*.password',
  '*.*.password',
  'custom_proxy.password',
  '*.custom_proxy.password',
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'body',
  '*.body',
];

/**
 * Creates the daemon's root logger. Lines are written off the main thread (sonic-boom's
 * asynchronous mode), to the journal or to a plain stdout alike: a synchronous write of
 * each of a change's log lines showed as the largest part of a PATCH in CPU profiles,
 * since every write wakes the reader. pino writes what is left at exit.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'workspace-netd' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  }, isJournalStream(1) ? journalDestination() : pino.destination({ dest: 1, sync: false }));
}

/**
 * Journal priorities: each pino line carries the sd-daemon(3) prefix of its level, and only
 * when the descriptor is the stream systemd named in JOURNAL_STREAM.
 */
import t from 'tap';
import { fstatSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  errorLine, isJournalStream, journalDestination, priorityPrefix,
} from '../../src/systemd/journal';

t.test('each pino level maps to its syslog priority', async (t) => {
  t.equal(priorityPrefix('{"level":10,"msg":"x"}\n'), '<7>', 'trace: debug');
  t.equal(priorityPrefix('{"level":20,"msg":"x"}\n'), '<7>');
  t.equal(priorityPrefix('{"level":30,"msg":"x"}\n'), '<6>');
  t.equal(priorityPrefix('{"level":40,"msg":"x"}\n'), '<4>');
  t.equal(priorityPrefix('{"level":50,"msg":"x"}\n'), '<3>');
  t.equal(priorityPrefix('{"level":60,"msg":"x"}\n'), '<2>');
  t.equal(priorityPrefix('not json\n'), '<6>', 'anything else: the default, info');
});

t.test('the logger writes prefixed lines through the destination', async (t) => {
  const lines: string[] = [];
  const log = pino({ base: null, timestamp: false }, journalDestination({
    write: (line: string) => lines.push(line),
  }));
  log.warn({ table: 'workspace_netd' }, 'table repaired');
  log.info('api listening');
  t.same(lines, [
    '<4>{"level":40,"table":"workspace_netd","msg":"table repaired"}\n',
    '<6>{"level":30,"msg":"api listening"}\n',
  ]);
});

t.test('only the descriptor JOURNAL_STREAM names is the journal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netd-journal-'));
  const fd = openSync(join(dir, 'log'), 'w');
  t.teardown(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  const st = fstatSync(fd);
  t.ok(isJournalStream(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino}` }));
  t.notOk(isJournalStream(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }), 'another one');
  t.notOk(isJournalStream(fd, {}), 'not run by systemd');
});

t.test('an error line is plain where stderr is not the journal', async (t) => {
  const saved = process.env.JOURNAL_STREAM;
  delete process.env.JOURNAL_STREAM;
  t.teardown(() => {
    if (saved !== undefined) process.env.JOURNAL_STREAM = saved;
  });
  t.equal(errorLine('workspace-netd: refused'), 'workspace-netd: refused\n');
});

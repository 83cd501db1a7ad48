/**
 * The systemd unit: `systemd-analyze verify` accepts it without a word, its hardening
 * scores as systemd's own offline analysis reports it, and the settings the daemon's
 * design depends on are there (readiness, restart, directories, capabilities).
 */
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../lab/daemon';

const UNIT = join(repoRoot(), 'systemd', 'workspace-netd.service');
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const text = readFileSync(UNIT, 'utf8');

/** Every value of `key` in the unit, in order. */
function values(key: string): string[] {
  // A line ending in a backslash goes on on the next one (systemd.syntax(7)).
  const lines = text.replace(/\s*\\\n\s*/g, ' ').split('\n');
  return lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}

/**
 * The unit as verify should see it: verify checks that ExecStart's program exists, and
 * Debian's node is /usr/bin/node; where node lives elsewhere the copy names this one.
 */
function unitCopy(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'netd-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'workspace-netd.service');
  copyFileSync(UNIT, file);
  if (!existsSync('/usr/bin/node')) {
    const here = text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
    writeFileSync(file, here);
  }
  return file;
}

t.test('systemd-analyze verify accepts the unit without a warning', { skip: !haveAnalyze &&
  'systemd-analyze is not installed' }, async (t) => {
  const res = spawnSync('systemd-analyze', ['verify', '--man=no', unitCopy(t)], {
    encoding: 'utf8',
  });
  t.equal(res.status, 0, res.stderr);
  t.equal(res.stderr.trim(), '', 'no warning either');
});

t.test('the offline security analysis rates it 2.5 or better', { skip: !haveAnalyze &&
  'systemd-analyze is not installed' }, async (t) => {
  const out = execFileSync('systemd-analyze', ['security', '--offline=yes', '--no-pager',
    unitCopy(t)], { encoding: 'utf8' });
  const score = Number(/exposure level for \S+: ([\d.]+)/.exec(out)?.[1]);
  t.ok(score <= 2.5, `exposure ${score}`);
});

t.test('ready only when healthy, restarted on failure, a watchdog on its loop', async (t) => {
  t.same(values('Type'), ['notify'], 'READY=1 comes from the daemon (src/systemd/ready.ts)');
  t.same(values('NotifyAccess'), ['main']);
  t.same(values('Restart'), ['on-failure']);
  t.same(values('StartLimitIntervalSec'), ['0'], 'restarted until the table is free');
  t.same(values('RestartPreventExitStatus'), ['2'], 'an unreadable config is not retried');
  t.ok(values('WatchdogSec').length === 1);
  t.match(values('ExecStart')[0], /dist\/src\/main\.js --config /);
  t.same(values('SyslogIdentifier'), ['workspace-netd'], 'journalctl -t workspace-netd');
});

t.test('its own state and runtime directories, matching the config defaults', async (t) => {
  t.same(values('StateDirectory'), ['workspace-netd']);
  t.same(values('StateDirectoryMode'), ['0700'], 'the database is root only');
  t.same(values('RuntimeDirectory'), ['workspace-netd'], '/run/workspace-netd/api.sock');
  t.same(values('UMask'), ['0077']);
  t.same(values('ProtectSystem'), ['strict'], 'nothing else is writable');
});

t.test('only the capabilities the daemon uses', async (t) => {
  t.same(values('CapabilityBoundingSet'), ['CAP_NET_ADMIN CAP_NET_BIND_SERVICE']);
  t.same(values('NoNewPrivileges'), ['yes']);
  t.same(values('RestrictAddressFamilies'), ['AF_UNIX AF_NETLINK AF_INET AF_INET6']);
  t.same(values('MemoryDenyWriteExecute'), [], 'V8 needs executable memory');
});

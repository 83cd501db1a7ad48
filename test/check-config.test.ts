/**
 * `workspace-netd --check-config`: validates a config and exits without touching the
 * kernel, 0 with "config: ok", 2 with the same one line a start would give.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const main = join(__dirname, '../dist/src/main.js');

function check(config: unknown) {
  const dir = mkdtempSync(join(tmpdir(), 'netd-check-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    return spawnSync(process.execPath, [main, '--check-config', '--config', file],
      { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('a good config: exit 0, "config: ok"', async (t) => {
  const run = check({ uplink: 'eth0', tap_prefix: 'tap' });
  t.equal(run.status, 0);
  t.equal(run.stdout, 'config: ok\n');
});

t.test('a bad one: exit 2 and the line a start would print', async (t) => {
  const run = check({ uplink: 'up0', tap_prefix: 'u' });
  t.equal(run.status, 2);
  t.match(run.stderr, /config: tap_prefix must not begin the name of the uplink \("up0"\)/);
  t.equal(run.stdout, '');
});

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Runs `code` in a child node that loads TypeScript as this test does; its stdout lines. */
function child(code: string): string[] {
  const logModule = join(__dirname, '..', 'src', 'log');
  const script = `const { createLogger } = require(${JSON.stringify(logModule)});\n${code}`;
  const out = spawnSync(process.execPath, [...process.execArgv, '-e', script], {
    encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '' }, timeout: 60_000,
  });
  if (out.status === null) throw new Error(`child failed: ${out.stderr}`);
  return out.stdout.split('\n').filter((line) => line.length > 0);
}

t.test('lines written just before process.exit still reach stdout', async (t) => {
  const lines = child(
    "const log = createLogger('info');\n" +
    "for (let i = 0; i < 200; i++) log.info({ i }, 'line');\n" +
    "log.fatal({ reason: 'test' }, 'stopping');\n" +
    'process.exit(1);',
  );
  const records = lines.map((line) => JSON.parse(line) as { msg: string; i?: number });
  t.equal(records.length, 201);
  t.same(records.slice(0, 200).map((r) => r.i), [...Array(200).keys()]);
  t.equal(records[200].msg, 'stopping');
});

t.test('a secret never reaches a line', async (t) => {
  const lines = child(
    "createLogger('info').info({ custom_proxy: { password: 'hunter2' } }, 'proxy set');",
  );
  t.equal(lines.length, 1);
  t.notMatch(lines[0], /hunter2/);
  t.match(lines[0], /\[redacted\]/);
});

import t from 'tap';
import { KeyedQueue } from '../../src/service/queue';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('KeyedQueue runs one key in order and other keys alongside', async (t) => {
  const queue = new KeyedQueue();
  const log: string[] = [];
  const gate = deferred();

  const a1 = queue.run('a', async () => {
    await gate.promise;
    log.push('a1');
  });
  const a2 = queue.run('a', async () => log.push('a2'));
  const b1 = queue.run('b', async () => log.push('b1'));
  await b1;
  t.same(log, ['b1'], 'b ran while a1 was waiting; a2 waits for a1');

  gate.resolve();
  await Promise.all([a1, a2]);
  t.same(log, ['b1', 'a1', 'a2']);
  await tick();
  t.equal(queue.busyKeys, 0, 'finished keys are forgotten');
});

t.test('KeyedQueue: a failure goes to its caller and the queue goes on', async (t) => {
  const queue = new KeyedQueue();
  const failed = queue.run('a', async () => {
    throw new Error('boom');
  });
  const next = queue.run('a', async () => 'next');
  await t.rejects(failed, /boom/);
  t.equal(await next, 'next');
});

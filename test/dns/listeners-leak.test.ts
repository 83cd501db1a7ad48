/**
 * A gateway the host does not have yet is retried every second, and each failed bind must
 * not leave its socket open. 192.0.2.1 (TEST-NET-1) is on no
 * interface here, so the bind fails with EADDRNOTAVAIL, without privileges.
 */
import t from 'tap';
import { readdirSync } from 'node:fs';
import pino from 'pino';
import { GatewayListeners } from '../../src/dns/listeners';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const openFds = () => readdirSync('/proc/self/fd').length;

t.test('a gateway that cannot be bound yet leaks no descriptor per retry', async (t) => {
  const listeners = new GatewayListeners(async () => null, pino({ level: 'silent' }), 15353);
  t.teardown(() => listeners.close());
  await listeners.follow(new Set(['192.0.2.1']));
  await sleep(200);
  const before = openFds();
  await sleep(4500); // four retries
  const grown = openFds() - before;
  t.ok(grown <= 1, `descriptors grew by ${grown} over four retries of one gateway`);
});

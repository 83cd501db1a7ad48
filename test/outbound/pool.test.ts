/**
 * The pool: what GET /zone/mine lists, the order of POST's refusals, and which stored
 * address the kernel applies (managed mode, local workspace, routable zone only).
 */
import t from 'tap';
import { parseConfig } from '../../src/config';
import { ApiError } from '../../src/api/errors';
import { appliedZone, ZonePool } from '../../src/outbound/pool';
import { ws, ZONES } from './fixtures/zones';

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as ApiError).code;
  }
  return 'accepted';
};

t.test('the pool lists every address with its country, hosts left out', async (t) => {
  t.same(new ZonePool(ZONES).list(), [
    { ip: '198.18.0.50', country_code: 'US' },
    { ip: '198.18.0.51', country_code: 'DE' },
    { ip: '198.18.0.52', country_code: 'FR' },
  ]);
  t.same(new ZonePool().list(), []);
});

t.test('pick: pool_empty, then invalid_zone_ip, then zone_missing_host', async (t) => {
  const pool = new ZonePool(ZONES);
  t.same(pool.pick('198.18.0.51'), ZONES[1]);
  t.equal(refusal(() => pool.pick('203.0.113.9')), 'invalid_zone_ip');
  t.equal(refusal(() => pool.pick(' 198.18.0.50')), 'invalid_zone_ip', 'exact addresses only');
  t.equal(refusal(() => pool.pick('198.18.0.052')), 'invalid_zone_ip');
  t.equal(refusal(() => pool.pick('198.18.0.52')), 'zone_missing_host');
  t.equal(refusal(() => new ZonePool([]).pick('198.18.0.50')), 'pool_empty');
  t.match(refusal(() => pool.pick('1.2.3.4')), 'invalid_zone_ip');
});

t.test('the kernel applies a stored address only in managed mode, for a local tap', async (t) => {
  const held = { outbound_ip: '198.18.0.50' };
  t.same(appliedZone(ws('ws_a', 1, held), ZONES), ZONES[0]);
  t.equal(appliedZone(ws('ws_a', 1), ZONES), null, 'none stored');
  t.equal(appliedZone(ws('ws_a', 1, { ...held, outbound_mode: 'custom' }), ZONES), null);
  t.equal(appliedZone({ ...ws('ws_a', 1, held), interface: null }, ZONES), null, 'remote');
  t.equal(appliedZone(ws('ws_a', 1, { outbound_ip: '198.18.0.52' }), ZONES), null, 'no host');
  t.equal(appliedZone(ws('ws_a', 1, held), []), null, 'left the pool');
  t.equal(appliedZone(null, ZONES), null);
});

t.test('config: a zone may say host null; leaving host out is still refused', async (t) => {
  const zone = { ip: '198.18.0.52', country_code: 'FR', host: null };
  t.same(parseConfig({ zones: [zone] }).zones, [zone]);
  t.throws(() => parseConfig({ zones: [{ ip: '1.2.3.4', country_code: 'US' }] }),
    /zones\[0\]\.host is required/);
  t.throws(() => parseConfig({ zones: [{ ...zone, host: 'gw' }] }), /zones\[0\]\.host must be/);
});

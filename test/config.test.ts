import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { DEFAULT_CONFIG, loadConfig, parseConfig } from '../src/config';

t.test('no path gives the contract defaults', async (t) => {
  t.strictSame(loadConfig(), {
    socket: '/run/workspace-netd/api.sock',
    state_dir: '/var/lib/workspace-netd',
    table: 'workspace_netd',
    uplink: 'eth0',
    tap_prefix: null,
    workspace_network: '10.0.0.0/8',
    runtime_api_port: 9990,
    relay_port: 15001,
    relay_idle_timeout_s: 3600,
    relay_max_connections: 4096,
    preflight: { target: 'oblien.com:443', timeout_ms: 5000 },
    dns: { upstream: null, grace_s: 60, timeout_ms: 2000 },
    zones: [],
    custom_proxy_plans: ['scale', 'enterprise'],
    proxy_ca_file: null,
    log_level: 'info',
    table_owner: true,
  });
  t.strictSame(loadConfig(), DEFAULT_CONFIG);
});

t.test('each parse gets its own lists', async (t) => {
  const a = parseConfig({});
  a.custom_proxy_plans.push('free');
  a.zones.push({ ip: '1.2.3.4', country_code: 'US', host: '1.2.3.1' });
  t.same(parseConfig({}).custom_proxy_plans, ['scale', 'enterprise']);
  t.same(parseConfig({}).zones, []);
});

t.test('a file overrides keys; the rest keep defaults', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'netd-config-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  const zones = [{ ip: '203.0.113.50', country_code: 'US', host: '203.0.113.1' }];
  await fs.writeFile(file, JSON.stringify({
    socket: '/tmp/x.sock', preflight: { timeout_ms: 800 }, zones, proxy_ca_file: file,
  }));

  const config = loadConfig(file);
  t.equal(config.socket, '/tmp/x.sock');
  t.same(config.preflight, { target: 'oblien.com:443', timeout_ms: 800 });
  t.same(config.zones, zones);
  t.equal(config.proxy_ca_file, file);
  t.equal(config.table, 'workspace_netd');
});

t.test('a bad file is one line naming the key', async (t) => {
  const zone = { ip: '1.2.3.4', country_code: 'US', host: '1.2.3.1' };
  const cases: [unknown, string][] = [
    [{ runtime_api_port: 70000 }, 'config: runtime_api_port must be an integer from 1 to 65535'],
    [{ runtime_api_port: 80.5 }, 'config: runtime_api_port must be an integer from 1 to 65535'],
    [{ relay_port: '15001' }, 'config: relay_port must be an integer from 1 to 65535'],
    [{ relay_idle_timeout_s: -1 },
      'config: relay_idle_timeout_s must be an integer from 0 to 604800'],
    [{ relay_max_connections: 0 },
      'config: relay_max_connections must be an integer from 1 to 1000000'],
    [{ sockets: '/x' }, 'config: unknown key sockets'],
    [{ preflight: { timeout: 1 } }, 'config: unknown key preflight.timeout'],
    [{ preflight: { timeout_ms: 0 } },
      'config: preflight.timeout_ms must be an integer from 1 to 60000'],
    [{ preflight: { target: 'oblien.com' } },
      'config: preflight.target must be "host:port" with a port from 1 to 65535'],
    [{ socket: 'api.sock' }, 'config: socket must be an absolute path'],
    [{ state_dir: 5 }, 'config: state_dir must be a string'],
    [{ table: 'my table' }, 'config: table must be a letter then up to 63 letters, digits or "_"'],
    [{ uplink: 'eth0:1' }, 'config: uplink must be a Linux interface name of 1 to 15 characters'],
    [{ workspace_network: '10.0.0.1/8' },
      'config: workspace_network must be an IPv4 CIDR without host bits'],
    [{ zones: {} }, 'config: zones must be a list'],
    [{ zones: [{ ...zone, country_code: 'us' }] },
      'config: zones[0].country_code must be two capital letters (ISO 3166-1)'],
    [{ zones: [{ ip: '1.2.3.4', country_code: 'US' }] }, 'config: zones[0].host is required'],
    [{ zones: [{ ...zone, extra: 1 }] }, 'config: unknown key zones[0].extra'],
    [{ zones: [zone, { ...zone, country_code: 'DE' }] },
      'config: zones[1].ip duplicates zones[0].ip'],
    [{ custom_proxy_plans: ['gold'] },
      'config: custom_proxy_plans[0] must be one of ' +
        '"free", "hobby", "pro", "scale", "enterprise"'],
    [{ proxy_ca_file: '/nonexistent/ca.pem' },
      'config: proxy_ca_file names a file that does not exist'],
    [{ log_level: 'loud' },
      'config: log_level must be one of "fatal", "error", "warn", "info", "debug", "trace"'],
    [{ uplink: 'tap0', tap_prefix: 'tap' }, 'config: tap_prefix must not begin the name ' +
      'of the uplink ("tap0"): it would be dropped as an unregistered tap'],
    [{ tap_prefix: 'lo' }, 'config: tap_prefix must not begin the name of loopback ("lo"): ' +
      'it would be dropped as an unregistered tap'],
    [{ tap_prefix: 'l' }, 'config: tap_prefix must not begin the name of loopback ("lo"): ' +
      'it would be dropped as an unregistered tap'],
    [[], 'config: the file must hold a JSON object'],
  ];
  for (const [json, message] of cases) {
    t.throws(() => parseConfig(json), { message }, message);
  }
});

t.test('an unreadable or non-JSON file is one line too', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'netd-config-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  t.throws(() => loadConfig(path.join(dir, 'missing.json')), {
    message: `config: cannot read ${path.join(dir, 'missing.json')}: ENOENT`,
  });
  const bad = path.join(dir, 'bad.json');
  await fs.writeFile(bad, '{ "socket": ');
  t.throws(() => loadConfig(bad), { message: new RegExp(`^config: ${bad} is not valid JSON: `) });
  t.throws(() => loadConfig(bad), { message: /^[^\n]*$/ }, 'one line');
});

t.test('table_owner is a boolean', async (t) => {
  t.equal(parseConfig({ table_owner: false }).table_owner, false);
  t.throws(() => parseConfig({ table_owner: 'yes' }), /^config: table_owner must be true or false$/);
});

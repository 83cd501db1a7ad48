/**
 * The edges of a workspace's isolation: the rest of the workspace network, taps nobody
 * registered (or whose workspace was deleted), a workspace's address forged from outside,
 * and host interfaces offered as taps.
 */
import t from 'tap';
import { createLab, Lab } from '../lab/lab';
import { nsExec } from '../lab/netns';
import { tcp } from '../lab/probe';

let lab: Lab;
const S1 = '198.18.1.10';

async function api(method: string, path: string, body?: unknown) {
  return lab.daemon!.api(method, path, body);
}

t.before(async () => {
  lab = await createLab({ workspaces: ['ws_a', 'ws_b', 'ws_gone'] });
  await lab.startDaemon({ tap_prefix: 't-' });
  for (const id of ['ws_a', 'ws_b', 'ws_gone']) {
    const res = await api('PUT', `/workspace/${id}`, lab.registration(id));
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  }
});
t.teardown(() => lab?.destroy());

t.test('the workspace network beyond this host\'s workspaces is not open', async (t) => {
  // An address in 10.0.0.0/8 that is no workspace: say, infrastructure behind the uplink.
  const infra = '10.99.0.10';
  await nsExec(lab.internet, ['ip', 'addr', 'add', `${infra}/32`, 'dev', 'lo']);
  await nsExec(lab.internet, ['ip', 'route', 'add', '10.0.0.0/8', 'via', lab.uplinkIp]);
  await nsExec(lab.host, ['ip', 'route', 'add', '10.99.0.0/16', 'via', lab.internetIp]);
  t.teardown(async () => {
    await nsExec(lab.internet, ['ip', 'route', 'del', '10.0.0.0/8']);
    await nsExec(lab.internet, ['ip', 'addr', 'del', `${infra}/32`, 'dev', 'lo']);
    await nsExec(lab.host, ['ip', 'route', 'del', '10.99.0.0/16']);
  });

  const a = lab.ws('ws_a');
  t.equal((await tcp(a.ns, infra, 22)).result, 'timeout', 'an unregistered address');

  // Registered on another host: its own daemon decides what reaches it.
  const res = await api('PUT', '/workspace/ws_far', {
    ip: infra, gateway: '10.99.0.1', interface: null,
  });
  t.equal(res.status, 201);
  // Nothing listens there: the far end's reset proves the packet got through.
  t.equal((await tcp(a.ns, infra, 22)).result, 'reset', 'a workspace on another host');
  await api('DELETE', '/workspace/ws_far');
  t.equal((await tcp(a.ns, infra, 22)).result, 'timeout', 'gone again once deleted');
});

t.test('a tap nobody registered is dark, also once its workspace is deleted', async (t) => {
  const gone = lab.ws('ws_gone');
  t.equal((await tcp(gone.ns, S1, 80)).result, 'connected', 'registered: default policy');
  t.equal((await api('DELETE', '/workspace/ws_gone')).status, 200);
  t.equal((await tcp(gone.ns, S1, 80)).result, 'timeout', 'to the internet');
  t.equal((await tcp(gone.ns, gone.gateway, 22)).result, 'timeout', 'to the host');
  t.equal((await tcp(gone.ns, lab.ws('ws_a').ip, 9990)).result, 'timeout', 'to a workspace');
});

t.test('a workspace\'s address forged from outside its tap is dropped', async (t) => {
  const [a, b] = [lab.ws('ws_a'), lab.ws('ws_b')];
  const res = await api('PATCH', '/workspace/ws_a/network', { private_link_ids: ['ws_b'] });
  t.same(res.body.private_link_ids, ['ws_b']);
  t.equal((await tcp(b.ns, a.ip, 9990)).result, 'connected', 'from ws_b itself');

  // Someone beyond the uplink claims ws_b's address.
  await nsExec(lab.internet, ['ip', 'addr', 'add', `${b.ip}/32`, 'dev', 'lo']);
  await nsExec(lab.internet, ['ip', 'route', 'add', `${a.ip}/32`, 'via', lab.uplinkIp]);
  t.teardown(async () => {
    await nsExec(lab.internet, ['ip', 'route', 'del', `${a.ip}/32`]);
    await nsExec(lab.internet, ['ip', 'addr', 'del', `${b.ip}/32`, 'dev', 'lo']);
  });
  t.equal((await tcp(lab.internet, a.ip, 9990, { source: b.ip })).result, 'timeout');
});

t.test('the host\'s own interfaces cannot be a workspace\'s tap', async (t) => {
  const before = await lab.nft(['list', 'table', 'inet', 'workspace_netd']);
  for (const iface of [lab.uplink, 'lo']) {
    const res = await api('PUT', '/workspace/ws_bad', {
      ip: '10.0.200.2', gateway: '10.0.200.1', interface: iface,
    });
    t.equal(res.status, 400, iface);
    t.equal(res.body.error, 'invalid_interface');
  }
  t.equal(await lab.nft(['list', 'table', 'inet', 'workspace_netd']), before);
});

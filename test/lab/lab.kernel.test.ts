/**
 * The lab checks itself, without the daemon: its links and routes carry traffic, its
 * servers answer, the internet cannot route to workspaces, the probes tell a reset from an
 * ICMP error from silence, and destroy() leaves nothing behind. Needs root.
 */
import t from 'tap';
import { createLab, type Lab } from './lab';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { listNetns, nsExec, run, sweepStaleRuns } from './netns';
import { dns, holdTcp, tcp, udp } from './probe';

/** A table of the lab's own, standing in for rules the daemon would make. */
async function loadRules(lab: Lab, rules: string): Promise<void> {
  await nsExec(lab.host, ['nft', '-f', '-'], { input: rules });
}

t.test('lab without the daemon', async (t) => {
  const lab = await createLab({ workspaces: ['ws_a', 'ws_b'] });
  t.teardown(() => lab.destroy());
  const a = lab.ws('ws_a');
  const b = lab.ws('ws_b');
  const [server1, server2, server3] = lab.serverAddrs;

  t.match(lab.prefix, /^wn[0-9a-f]{6}$/);
  t.not(a.tap, b.tap, 'each workspace has its own tap');

  t.test('a workspace reaches its gateway', async (t) => {
    const res = await tcp(a.ns, a.gateway, 22);
    t.equal(res.result, 'connected');
    t.equal(res.peerSaw, a.ip, 'the host sees the workspace address');
    t.equal((await tcp(a.ns, a.gateway, 23)).result, 'reset', 'a closed port resets');
  });

  t.test('the internet servers answer the host', async (t) => {
    for (const addr of lab.serverAddrs) {
      const res = await tcp(lab.host, addr, 80);
      t.same([res.result, res.peerSaw], ['connected', lab.uplinkIp], `tcp ${addr}`);
      const dgram = await udp(lab.host, addr, 7);
      t.same([dgram.result, dgram.peerSaw], ['answered', lab.uplinkIp], `udp ${addr}`);
    }
  });

  t.test('the host reaches a workspace server', async (t) => {
    const res = await tcp(lab.host, a.ip, 3000);
    t.same([res.result, res.peerSaw], ['connected', a.gateway]);
  });

  // The host's resolver; the daemon, not the lab, answers workspaces on their gateways.
  t.test('the host resolver answers the lab zone on 127.0.0.1 only', async (t) => {
    const ask = (name: string) => dns(lab.host, '127.0.0.1', `${name}.${lab.zone}`);
    t.same(await ask('server2'), { ok: true, addresses: [server2] });
    t.same(await ask('anything'), { ok: true, addresses: [server1] });
    t.notOk((await dns(a.ns, a.gateway, `server2.${lab.zone}`, { timeoutMs: 1000 })).ok);
  });

  t.test('the internet has no route to the workspace network', async (t) => {
    t.equal((await tcp(lab.internet, a.ip, 3000)).result, 'unreachable');
    const res = await tcp(a.ns, server1, 80, { timeoutMs: 1000 });
    t.equal(res.result, 'timeout', 'without masquerade no reply comes back');
  });

  t.test('masquerade on the uplink brings replies home', async (t) => {
    await loadRules(lab, `table ip lab_selftest_nat {
      chain post { type nat hook postrouting priority srcnat; oifname "${lab.uplink}" masquerade; }
    }`);
    const res = await tcp(a.ns, server1, 80);
    t.same([res.result, res.peerSaw], ['connected', lab.uplinkIp]);
    const dgram = await udp(b.ns, server3, 5000);
    t.same([dgram.result, dgram.peerSaw], ['answered', lab.uplinkIp]);
  });

  t.test('probes tell a reset, an ICMP error and silence apart', async (t) => {
    await loadRules(lab, `table ip lab_selftest_filter {
      chain lab_fwd {
        type filter hook forward priority filter;
        ip daddr ${server2} tcp dport 80 reject with tcp reset
        ip daddr ${server2} tcp dport 443 reject with icmp type admin-prohibited
        ip daddr ${server2} tcp dport 8080 drop
        ip daddr ${server2} udp dport 7 reject with icmp type admin-prohibited
        ip daddr ${server2} udp dport 5000 drop
      }
    }`);
    t.equal((await tcp(a.ns, server2, 80)).result, 'reset');
    t.equal((await tcp(a.ns, server2, 443)).result, 'unreachable');
    t.equal((await tcp(a.ns, server2, 8080, { timeoutMs: 800 })).result, 'timeout');
    t.equal((await udp(a.ns, server2, 7)).result, 'unreachable');
    t.equal((await udp(a.ns, server2, 5000, { timeoutMs: 800 })).result, 'timeout');
  });

  t.test('a forged source leaves the workspace', async (t) => {
    const res = await tcp(a.ns, b.ip, 80, { source: a.spoofIp });
    t.same([res.result, res.peerSaw], ['connected', a.spoofIp]);
  });

  t.test('a held connection reports a later reset', async (t) => {
    const held = await holdTcp(lab.run, a.ns, server3, 443);
    t.teardown(() => held.close());
    t.equal(held.peerSaw, lab.uplinkIp);
    t.equal(await held.check(), 'alive');
    t.equal(await held.check(), 'alive', 'twice');

    await loadRules(lab, `table ip lab_selftest_cut {
      chain lab_fwd {
        type filter hook forward priority filter - 1;
        ip daddr ${server3} tcp dport 443 reject with tcp reset
      }
    }`);
    t.equal(await held.check(), 'reset');
  });
});

t.test('destroy removes every namespace of the run', async (t) => {
  const lab = await createLab({ workspaces: ['ws_gone'], servers: false });
  const mine = () => listNetns().then((all) => all.filter((n) => n.startsWith(lab.prefix)));
  t.equal((await mine()).length, 3, 'host, internet and one workspace');

  await lab.destroy();
  t.same(await mine(), []);
  await lab.destroy();
  t.pass('a second destroy is harmless');
});

t.test('a run whose process died is swept by the next run', async (t) => {
  const prefix = `wn${randomBytes(3).toString('hex')}`;
  const deadPid = spawnSync('true').pid;
  await run('ip', ['netns', 'add', `${prefix}-host`]);
  t.teardown(() => run('ip', ['netns', 'del', `${prefix}-host`], { check: false }));
  mkdirSync('/run/workspace-netd-lab', { recursive: true });
  writeFileSync(`/run/workspace-netd-lab/${prefix}`, String(deadPid));

  t.ok((await sweepStaleRuns()).includes(prefix));
  t.notOk((await listNetns()).includes(`${prefix}-host`));
  t.notOk(existsSync(`/run/workspace-netd-lab/${prefix}`));
});

t.test('the users\' proxies tunnel CONNECT from the host', async (t) => {
  const lab = await createLab({ workspaces: ['ws_p'], proxies: true });
  t.teardown(() => lab.destroy());
  const proxies = lab.proxies;
  if (!proxies) throw new Error('the lab has no proxies');
  const target = `http://${lab.serverAddrs[0]}:8080/`;

  // curl's %{http_connect} is the proxy's answer to CONNECT; what follows is not HTTP.
  const connect = async (url: string, extra: string[] = []) => {
    const argv = ['curl', '-s', '-m', '3', '-p', '-x', url, '-o', '/dev/null',
      '-w', '%{http_connect}', ...extra, target];
    return (await nsExec(lab.host, argv, { check: false })).stdout.trim();
  };
  const { http, open, https } = proxies;
  const creds = `${http.username}:${http.password}`;

  t.equal(await connect(`http://${http.host}:${http.port}`), '407', 'credentials demanded');
  t.equal(await connect(`http://${creds}@${http.host}:${http.port}`), '200');
  t.equal(await connect(`http://${open.host}:${open.port}`), '200');
  const tls = ['--proxy-cacert', proxies.caFile];
  t.equal(await connect(`https://${creds}@${https.host}:${https.port}`, tls), '200');
});

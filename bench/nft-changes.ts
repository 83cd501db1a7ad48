/**
 * The peer of a policy change: `nft add element` / `nft delete element`, one process per
 * change, as a script driving nft would make it. Runs inside the namespace it changes
 * (started with nsenter), so that its times hold nft's own work and process start only.
 * Usage: node nft-changes.js COUNT TAP PORT; prints a JSON array of milliseconds.
 */
import { execFileSync } from 'node:child_process';

const [count, tap, port] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
if (!(count > 0 && count <= 10_000) || !/^[a-z0-9]{1,15}$/.test(tap) || !/^\d+$/.test(port)) {
  process.stderr.write('usage: nft-changes COUNT TAP PORT\n');
  process.exit(2);
}

const elements = `{ "${tap}" . tcp . ${port}, "${tap}" . udp . ${port} }`;
const times: number[] = [];
for (let i = 0; i < count; i++) {
  const verb = i % 2 === 0 ? 'add' : 'delete';
  const start = process.hrtime.bigint();
  execFileSync('nft', [verb, 'element', 'inet', 'workspace_netd', 'egress_port', elements]);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
process.stdout.write(JSON.stringify(times) + '\n');

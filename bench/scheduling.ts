/**
 * The change benchmark at one size, alone: `node dist/bench/scheduling.js [n]`, as root,
 * after `bench/run` has built the harness. Run it plainly and under `chrt -f 20` (the
 * client, the daemon and the nft peer then preempt everything else on the host) to see
 * how much of a change's p99 is the daemon's and how much the host's scheduler
 * (README: Performance). Prints each round, then the row of medians as JSON. A second
 * argument is a file for the daemon's CPU profile.
 */
import { FleetDaemon, measureChanges, NftPeer } from './change';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1000);
  const d = await FleetDaemon.start(n, '/dev/shm', process.argv[3]);
  try {
    const peer = await NftPeer.load(n);
    try {
      const row = await measureChanges(d, peer, 5, 200, 10, (line) => console.log(line));
      console.log(JSON.stringify(row));
    } finally {
      await peer.drop();
    }
  } finally {
    await d.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

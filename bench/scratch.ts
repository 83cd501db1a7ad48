/**
 * Namespaces for the benchmarks. Each is a lab run of its own (test/lab/netns.ts), so the
 * lab's exit handlers and its sweep of dead runs remove what a crash leaves; a measurement
 * that needs a fresh kernel gets its own namespace and deletes it after.
 * Nothing here touches the machine's own network namespace.
 */
import { NetnsRun } from '../test/lab/netns';
import { sleep } from './stats';

/** A namespace made for one measurement; removed by drop(), or at exit. */
export interface Scratch {
  name: string;
  /** the path NftSocket.open and nsenter take */
  path: string;
  drop(): Promise<void>;
}

/** Creates a fresh namespace, a lab run of its own, for one measurement. */
export async function scratch(role: string): Promise<Scratch> {
  const lab = new NetnsRun();
  const name = await lab.addNetns(role);
  return {
    name,
    path: `/run/netns/${name}`,
    drop: async () => {
      await lab.destroy();
      // The kernel frees a namespace's tables in a worker after the last reference goes;
      // let it finish before the next measurement shares the CPU with it.
      await sleep(300);
    },
  };
}

/**
 * `nsenter --net=PATH` + argv, for a Scratch, a namespace's name or its path: it enters
 * only the network namespace, with none of `ip netns exec`'s mount work.
 */
export function inNetns(s: Scratch | string, argv: string[]): string[] {
  const path = typeof s !== 'string' ? s.path : s.startsWith('/') ? s : `/run/netns/${s}`;
  return ['nsenter', `--net=${path}`, ...argv];
}

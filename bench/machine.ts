/**
 * The machine a benchmark ran on, noted beside every result: figures from a shared 2-core
 * virtual machine read differently from a dedicated host.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

/** What the results table says about the machine. */
export interface Machine {
  nproc: number;
  kernel: string;
  cpu: string;
  memGiB: number;
  node: string;
  nft: string;
  date: string;
}

/** Reads the machine's facts; a tool that is missing reads as 'absent'. */
export function describeMachine(): Machine {
  return {
    nproc: cpus().length,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    cpu: cpuModel(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    nft: version(['nft', '--version']),
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  };
}

function cpuModel(): string {
  const line = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('model name'));
  return line ? line.split(':')[1].trim() : 'unknown';
}

function version(argv: string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' }).trim();
  } catch {
    return 'absent';
  }
}

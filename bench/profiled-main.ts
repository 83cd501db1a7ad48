/**
 * The daemon under V8's CPU profiler, for `bench/run --profile`: starts the profiler, runs
 * dist/src/main.js, and at exit writes the profile to $WND_BENCH_PROFILE (a .cpuprofile
 * file Chrome's DevTools opens). `node --cpu-prof` would do the same, but the lab starts
 * the daemon as `node ENTRY --config FILE`, with no room for node's own flags.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const out = process.env.WND_BENCH_PROFILE;
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');

// The in-thread session answers synchronously, so the profile is written before exit.
process.on('exit', () => {
  session.post('Profiler.stop', (err, result) => {
    if (!err && out) writeFileSync(out, JSON.stringify(result.profile));
  });
});

require('../src/main');

// --threads 1,2,4 (= --cases=threads): case 4 (im-bridge → file sink) with listen.threads at each
// count, same load. Reports req/s, server CPU per request and per thread, and each count's CPU per
// request against one thread's: the contention tax of the extra threads (#22: ≤ 1.10 at 2 threads).
import fs from 'node:fs';
import path from 'node:path';
import { metrics } from '../lib/daemon.js';
import { runLoad, summarizeCase, waitQuiet } from '../lib/load.js';
import { fmt } from '../lib/report.js';
import { stopChild } from '../lib/util.js';
import { fileSink } from './4-file-sink.js';

const log = (...a) => console.error('[bench]', ...a);

/** Thread counts from --threads (set by run.js in BENCH_THREADS), default 1,2. */
export const threadCounts = () => (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 1);

async function point(ctx, threads) {
  const sinkDir = path.join(ctx.tmp, `threads-${threads}-sink`);
  const d = await ctx.daemon(`threads-${threads}`, { sinks: fileSink(sinkDir), listen: { threads } });
  try {
    const r = await runLoad({ port: d.port, serverPid: d.child.pid, onMeasureEnd: () => metrics(d.port) });
    return summarizeCase('4', `im-bridge → file sink, listen.threads: ${threads}`, r, { threads });
  } finally {
    await stopChild(d.child);
    fs.rmSync(sinkDir, { recursive: true, force: true });
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
}

export default {
  id: 'threads',
  title: 'ingest threads: case 4 by listen.threads',
  field: 'threads',
  needs: [],
  async run(ctx) {
    const rows = [];
    for (const threads of threadCounts()) {
      await waitQuiet();
      log(`threads ${threads}: case 4 with listen.threads: ${threads}`);
      try {
        rows.push(await point(ctx, threads));
        const r = rows.at(-1);
        log(`threads ${threads}: ${fmt(r.requests_per_s)} req/s, ${fmt(r.server_cpu.us_per_request)} µs/req`);
      } catch (e) {
        rows.push({ threads, unavailable: true, reason: e.message });
        log(`threads ${threads}: failed — ${e.message.split('\n')[0]}`);
      }
    }
    // Against the median of the one-thread runs (a count may be given more than once: --threads 1,2,1,2).
    const ones = rows.filter((r) => r.threads === 1 && !r.unavailable).map((r) => r.server_cpu.us_per_request).sort((a, b) => a - b);
    const one = ones[Math.floor((ones.length - 1) / 2)];
    for (const r of rows) if (!r.unavailable && one) r.cpu_per_request_vs_1_thread = +(r.server_cpu.us_per_request / one).toFixed(2);
    return { rows };
  },
};

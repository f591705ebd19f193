// Case 4h — case 4 again, open loop at HALF of case 4's max rate → p99 ack latency.
// With --baseline both trees get the same rate: half of the current tree's case 4.
import fs from 'node:fs';
import path from 'node:path';
import { metrics } from '../lib/daemon.js';
import { runLoad, summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';
import { fileSink } from './4-file-sink.js';

export default {
  id: '4h',
  title: 'im-bridge → file sink, open loop at half max',
  needs: ['daemon'],
  precondition: (ctx) => (ctx.byCase['4'] && !ctx.byCase['4'].unavailable ? undefined : 'needs case 4 (its max rate)'),
  async run(ctx) {
    const rate = Math.max(1, Math.floor(ctx.byCase['4'].requests_per_s / 2));
    const sinkDir = path.join(ctx.tmp, 'file-sink-half');
    const d = await ctx.daemon('file-half', { sinks: fileSink(sinkDir) });
    try {
      const r = await runLoad({ port: d.port, serverPid: d.child.pid, mode: 'open', rate, onMeasureEnd: () => metrics(d.port) });
      return summarizeCase('4h', `${this.title} (${rate} req/s)`, r, { daemon_metrics_at_end: r.hooks.end });
    } finally {
      await stopChild(d.child);
      fs.rmSync(sinkDir, { recursive: true, force: true });
      fs.rmSync(d.dir, { recursive: true, force: true });
    }
  },
};

// Case 2h — the naive server of case 2 (one appendFile + fsync per request) open loop at case 4h's
// rate (half of case 4's max): the p99 this disk gives a single fsync'd append at that rate, beside
// im-bridge's p99 in 4h. On a disk whose fsyncs stall now and then, both tails show the stalls.
import fs from 'node:fs';
import path from 'node:path';
import { runLoad, startPlainServer, summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';

export default {
  id: '2h',
  title: 'naive (case 2), open loop at 4h\'s rate',
  needs: [],
  precondition: (ctx) => (ctx.byCase['4'] && !ctx.byCase['4'].unavailable ? undefined : 'needs case 4 (its max rate)'),
  async run(ctx) {
    const rate = Math.max(1, Math.floor(ctx.byCase['4'].requests_per_s / 2));
    const file = path.join(ctx.tmp, 'naive-file-half.ndjson');
    const { port, child } = await startPlainServer('naive-file.js', [file]);
    try {
      return summarizeCase('2h', `${this.title} (${rate} req/s)`, await runLoad({ port, serverPid: child.pid, mode: 'open', rate }));
    } finally {
      await stopChild(child);
      fs.rmSync(file, { force: true });
    }
  },
};

// Case 4 — im-bridge: the real daemon (dist/src/cli.js) → durable queue → file sink, closed loop.
import fs from 'node:fs';
import path from 'node:path';
import { metrics } from '../lib/daemon.js';
import { runLoad, summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';

export const fileSink = (dir) => ({ out: { type: 'file', path: `${dir}/events.ndjson` } });

export default {
  id: '4',
  title: 'im-bridge: durable queue → file sink',
  needs: ['daemon'],
  async run(ctx, { profileDir } = {}) {
    const sinkDir = path.join(ctx.tmp, 'file-sink');
    const d = await ctx.daemon('file', { sinks: fileSink(sinkDir) }, { profileDir });
    try {
      const r = await runLoad({ port: d.port, serverPid: d.child.pid, onMeasureEnd: () => metrics(d.port) });
      return summarizeCase('4', this.title, r, { daemon_metrics_at_end: r.hooks.end });
    } finally {
      await stopChild(d.child);
      fs.rmSync(sinkDir, { recursive: true, force: true });
      fs.rmSync(d.dir, { recursive: true, force: true });
    }
  },
};

// Case F — a real peer: Apache Flume 1.11 (Maven Central), HTTPSource → FileChannel (one fdatasync
// per request: Flume answers 200 after the channel commit) → file_roll, same payload mix and load as
// case 4 (bench/peers/flume/README.md has the exact agent config). Flume's JIT needs a long warm-up
// before its CPU per request settles: at least FLUME_WARMUP_S seconds at full load.
import fs from 'node:fs';
import path from 'node:path';
import { countFileRoll, startFlume } from '../peers/flume/flume.js';
import { runLoad, summarizeCase, WARMUP } from '../lib/load.js';
import { freePort } from '../lib/util.js';

export const FLUME_WARMUP_S = Math.max(WARMUP, Number(process.env.BENCH_FLUME_WARMUP ?? 15));

export default {
  id: 'F',
  title: 'Apache Flume 1.11: HTTPSource → FileChannel → file_roll',
  needs: ['java'],
  async run(ctx) {
    const dir = path.join(ctx.tmp, `flume-file${ctx.suffix}`);
    const flume = await startFlume({ port: await freePort(), dir, sink: 'file' });
    try {
      const r = await runLoad({ port: Number(new URL(flume.url).port), serverPid: flume.pid, warmup: FLUME_WARMUP_S });
      return summarizeCase('F', this.title, r, { events_written: countFileRoll(flume.dir), java_warmup_s: FLUME_WARMUP_S });
    } finally {
      await flume.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

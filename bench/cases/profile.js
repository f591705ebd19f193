// --profile: case 4 (and 5 if Kafka is there) again under `node --cpu-prof`, summarized per thread.
import fs from 'node:fs';
import path from 'node:path';
import { summarize } from '../lib/cpuprofile.js';
import { ROOT } from '../lib/util.js';
import case4 from './4-file-sink.js';
import case5 from './5-kafka.js';

const log = (...a) => console.error('[bench]', ...a);

export default {
  id: 'profile',
  title: 'case 4 (and 5) under --cpu-prof',
  field: 'profile',
  needs: [],
  async run(ctx) {
    const kafkaOk = ctx.kafkaOk && !ctx.byCase['5']?.unavailable;
    const out = {};
    for (const [name, c] of [['case4', case4], ...(kafkaOk ? [['case5', case5]] : [])]) {
      const dir = path.join(ROOT, 'bench/results', `profile-${ctx.runId}-${name}`);
      fs.mkdirSync(dir, { recursive: true });
      log(`profile: ${name} under --cpu-prof → ${path.relative(ROOT, dir)}`);
      const r = await c.run(ctx, { profileDir: dir });
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
      out[name] = {
        requests_per_s_under_profiler: r.requests_per_s,
        dir: path.relative(ROOT, dir),
        threads: files.map((f) => summarize(path.join(dir, f), 20)).sort((a, b) => b.busy_s - a.busy_s),
      };
    }
    return out;
  },
};

// --sinks: the per-sink scripts bench/sinks/{kafka,nats,elasticsearch,webhook}.js, each in its own
// process (one JSON line on stdout each), at most 15 minutes each.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, spawnNode, track } from '../lib/util.js';

const log = (...a) => console.error('[bench]', ...a);

export default {
  id: 'sinks',
  title: 'the per-sink scripts (bench/sinks/)',
  field: 'sinks',
  needs: [],
  async run() {
    const results = {};
    for (const name of ['kafka', 'nats', 'elasticsearch', 'webhook']) {
      const script = path.join(ROOT, 'bench/sinks', `${name}.js`);
      if (!fs.existsSync(script)) continue;
      log(`--sinks: node bench/sinks/${name}.js`);
      const child = track(spawnNode([script]));
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      const timer = setTimeout(() => child.kill('SIGTERM'), 15 * 60_000);
      const code = await child.exited;
      clearTimeout(timer);
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      try {
        results[name] = code === 0 && line ? JSON.parse(line) : { failed: true, exit: code, tail: child.tail().slice(-1500) };
      } catch {
        results[name] = { failed: true, exit: code, tail: child.tail().slice(-1500) };
      }
    }
    return results;
  },
};

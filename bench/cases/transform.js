// The transform micro-benchmark (bench/lib/transform.js): µs/event of three declarative steps at
// delivery. Runs with the numbered cases, or alone as --cases=transform (not with --no-transform).
import path from 'node:path';
import { ROOT, spawnNode, track } from '../lib/util.js';

export default {
  id: 'transform',
  title: 'transform: three declarative steps per event (redact, hash, drop) at delivery',
  field: 'transform',
  needs: [],
  async run() {
    console.error('[bench]', this.title);
    const child = track(spawnNode([path.join(ROOT, 'bench/lib/transform.js')]));
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const code = await child.exited;
    if (code !== 0) throw new Error(`transform bench failed (${code}): ${child.tail().slice(-2000)}`);
    return JSON.parse(out.trim().split('\n').pop());
  },
};

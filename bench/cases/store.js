// The queue-store micro-benchmark (bench/lib/queue-store.js): sqlite WAL FULL vs fs append+fdatasync,
// batches 1/16/128/1024. Runs with the numbered cases (not with --no-store).
import path from 'node:path';
import { ROOT, spawnNode, track } from '../lib/util.js';

export default {
  id: 'store',
  title: 'queue-store: sqlite WAL FULL vs fs append+fdatasync, batches 1/16/128/1024',
  field: 'queue_store',
  needs: [],
  async run() {
    console.error('[bench]', this.title);
    const child = track(spawnNode([path.join(ROOT, 'bench/lib/queue-store.js')]));
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const code = await child.exited;
    const line = out.trim().split('\n').pop();
    if (code !== 0) throw new Error(`queue-store failed (${code}): ${child.tail().slice(-2000)}`);
    return JSON.parse(line);
  },
};

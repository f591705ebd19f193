// The queue-store micro-benchmark (bench/lib/queue-store.js): an event's life in three store layouts
// (SQLite schema 1, the queue's SQLite schema 2, a CRC-framed segment log), batches 8/32/128.
// Runs with the numbered cases (not with --no-store).
import path from 'node:path';
import { ROOT, spawnNode, track } from '../lib/util.js';

export default {
  id: 'store',
  title: 'queue-store: an event\'s life in three layouts (sqlite schema 1, sqlite schema 2 = the queue, segment log), batches 8/32/128',
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

/**
 * How the daemon sizes V8's heaps: how far the old generation may grow past what is live before a
 * full collection (process-wide, every thread), and the young generation of its worker threads.
 *
 * Why the old generation: after each full collection V8 lets the old generation grow to up to 4×
 * what survived before collecting again. The daemon promotes a steady stream of short-lived objects
 * (events waiting for their fsync, batches waiting for a sink), so its heap sat at 2.5–3× what was
 * live: in bench case 4 the main thread's old space held 59 MB for 19 MB live, the process peaked at
 * 197–204 MB. With growth capped at 3× (HEAP_GROWING_PERCENT = 200) the same load peaks at
 * 180–183 MB for the same CPU per request; the Kafka case at 200 instead of 246 MB for ~5 % more
 * CPU (in V8's marking threads); a 200,000-event backlog at 280 instead of 321 MB while it fills and
 * 395 instead of 463 MB while it drains. 100 % would cost 5 % of CPU in case 4 too (README,
 * Performance, "Memory").
 *
 * V8 reads this flag each time it sets the next collection's limit, so it can be set after start
 * (node cannot take it from NODE_OPTIONS). A `--heap-growing-percent` given to node on the command
 * line wins: the operator's choice is never overridden (`=0` restores V8's own heuristics).
 */
import v8 from 'node:v8';

/** Growth of the old generation past its live size before the next full GC: 200 % = at most 3×. */
export const HEAP_GROWING_PERCENT = 200;

/** Young generation of the daemon's worker threads (queue, ingest): their objects live for one commit or one request. */
export const WORKER_YOUNG_GENERATION_MB = 8;

export interface HeapGrowth {
  percent: number;
  /** Where it comes from: the daemon's default, or node's command line. */
  source: 'default' | 'command line';
}

/** The percent node's command line sets (`--heap-growing-percent=N`, `--heap_growing_percent N`), if any. */
export function commandLineHeapGrowth(execArgv: readonly string[]): number | undefined {
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!.replaceAll('_', '-');
    if (arg === '--heap-growing-percent') return Number(execArgv[i + 1]);
    if (arg.startsWith('--heap-growing-percent=')) return Number(arg.slice('--heap-growing-percent='.length));
  }
  return undefined;
}

/** Applies `percent` (HEAP_GROWING_PERCENT) unless node's command line chose a value; says which is in force. */
export function applyHeapGrowth(execArgv: readonly string[] = process.execArgv, percent = HEAP_GROWING_PERCENT): HeapGrowth {
  const chosen = commandLineHeapGrowth(execArgv);
  if (chosen !== undefined) return { percent: chosen, source: 'command line' };
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return { percent, source: 'default' };
}

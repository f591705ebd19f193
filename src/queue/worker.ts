/**
 * Queue worker thread: owns the SQLite write connection so that fsync never blocks the event
 * loop that answers HTTP requests. Protocol: `{ id, op, args }` in, `{ id, ok, result | error }` out.
 * `commitWire` is `commit` with the appends as a transferred buffer (wire.ts); the buffer goes back
 * with the answer (`buffer`), the commit's outcome whatever it is, so the event loop can reuse it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { QueueStore, type QuarantineLimits } from './store.js';
import { readWire, type Wire } from './wire.js';

type Op = 'checkpoint' | 'commit' | 'commitWire' | 'settle' | 'append' | 'read' | 'ack' | 'deadLetter' | 'quarantine' | 'sweepQuarantine' | 'stats' | 'liveStats' | 'listDeadLetters' | 'replay' | 'purgeDeadLetters' | 'close';
interface Request {
  id: number;
  op: Op;
  args: unknown[];
}

const port = parentPort!;
const { dir, checkIntegrity, quarantine } = workerData as { dir: string; checkIntegrity?: 'auto' | 'always' | 'never'; quarantine?: QuarantineLimits };

let store: QueueStore;
try {
  store = new QueueStore(dir, { checkIntegrity, quarantine });
  port.postMessage({ id: 0, ok: true, result: store.recovery });
} catch (error) {
  port.postMessage({ id: 0, ok: false, error: serialize(error) });
  process.exit(1);
}

const NOW_OPS = new Set<Op>(['commit', 'settle', 'append', 'deadLetter', 'quarantine', 'sweepQuarantine', 'replay']);

port.on('message', (request: Request) => {
  if (request.op === 'commitWire') return commitWire(request);
  try {
    const args = NOW_OPS.has(request.op) ? [...request.args, Date.now()] : request.args;
    const result = (store[request.op] as (...a: unknown[]) => unknown).apply(store, args);
    port.postMessage({ id: request.id, ok: true, result });
    if (request.op === 'close') port.close();
  } catch (error) {
    port.postMessage({ id: request.id, ok: false, error: serialize(error) });
  }
});

function commitWire(request: Request): void {
  const [wire, acks] = request.args as [Wire, Parameters<QueueStore['commit']>[1]];
  let answer: { id: number; ok: boolean; result?: unknown; error?: unknown; buffer: ArrayBuffer };
  try {
    answer = { id: request.id, ok: true, result: store.commit(readWire(wire), acks, Date.now()), buffer: wire.buffer };
  } catch (error) {
    answer = { id: request.id, ok: false, error: serialize(error), buffer: wire.buffer };
  }
  port.postMessage(answer, [wire.buffer]);
}

function serialize(error: unknown): { message: string; code?: string } {
  const e = error as { message?: string; code?: string };
  return { message: e?.message ?? String(error), code: e?.code };
}

// Issue #3 acceptance: crash safety, sink outage with flat memory, dead-letter + replay, capacity.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { CLI, REPO_ROOT, groupMessage, postCallback, readEvents, startDaemon, tempDir, waitFor, type Daemon } from '../helpers/daemon.js';

const PLUGIN = path.join(REPO_ROOT, 'test/fixtures/plugins/switchable-sink.mjs');

const fileConfig = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
routes: [ { name: all, match: { command: "*" }, to: [archive] } ]
`;

const switchableConfig = (queue = '{ dir: ./queue }') => `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: ${queue}
sinks:
  switch:
    type: plugin
    module: ${PLUGIN}
    path: ./events.ndjson
    control_dir: ./control
    batch: { max_events: 200, max_wait_ms: 5 }
    retry: { initial_backoff_ms: 50, max_backoff_ms: 1000, max_attempts: 100000 }
routes: [ { name: all, match: { command: "*" }, to: [switch] } ]
`;

/** Reads NDJSON, tolerating a torn line left by kill -9 (counted). */
function readTolerant(file: string): { events: Array<Record<string, any>>; torn: number } {
  if (!fs.existsSync(file)) return { events: [], torn: 0 };
  const events: Array<Record<string, any>> = [];
  let torn = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line));
    } catch {
      torn++;
    }
  }
  return { events, torn };
}

/**
 * Follows an NDJSON file: each call parses only what was appended since the last one and keeps
 * just id, subject and data.seq. A large backlog (100k+ events, over 512 MB) no longer fits one
 * JavaScript string, and re-reading it on every poll would take seconds.
 */
class NdjsonTail {
  readonly events: Array<{ id: string; subject: string; data: { seq: number } }> = [];
  private offset = 0;
  private partial = Buffer.alloc(0);
  constructor(private readonly file: string) {}
  read(): this['events'] {
    if (!fs.existsSync(this.file)) return this.events;
    const fd = fs.openSync(this.file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      while (this.offset < size) {
        const chunk = Buffer.alloc(Math.min(8 * 1024 * 1024, size - this.offset));
        const n = fs.readSync(fd, chunk, 0, chunk.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        const data = Buffer.concat([this.partial, chunk.subarray(0, n)]);
        let start = 0;
        for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
          if (nl > start) {
            const e = JSON.parse(data.toString('utf8', start, nl)) as { id: string; subject: string; data: { seq: number } };
            this.events.push({ id: e.id, subject: e.subject, data: { seq: e.data.seq } });
          }
          start = nl + 1;
        }
        this.partial = Buffer.from(data.subarray(start));
      }
    } finally {
      fs.closeSync(fd);
    }
    return this.events;
  }
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Posts unique group messages with `concurrency` workers until `stop()`; records which were acked. */
function load(daemonUrl: () => string, state: { next: number; acked: Set<string>; sent: number }, concurrency = 16) {
  let running = true;
  const worker = async () => {
    while (running) {
      const n = state.next++;
      const body = groupMessage(`@TGS#crash${n % 20}`, n, `crash test ${n}`);
      state.sent++;
      try {
        const answer = await postCallback(daemonUrl(), 'Group.CallbackAfterSendMsg', body);
        if (answer.status === 200) state.acked.add(`${n % 20}:${n}`);
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // daemon down: connection refused
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return async () => {
    running = false;
    await Promise.all(workers);
  };
}

t.test('kill -9 at random moments under load: every acked event is delivered', async (t) => {
  const dir = tempDir();
  let daemon: Daemon = await startDaemon({ config: fileConfig, dir });
  const state = { next: 1, acked: new Set<string>(), sent: 0 };
  const stop = load(() => daemon.url, state);
  // Each daemon is killed at a random moment (0.4–1.6 s), but never before it has acked 100 more
  // callbacks: on a busy machine a fresh daemon may ack few in 1.6 s, and the test is about kills
  // under load (the 'real load' check below used to depend on how fast the machine was).
  const ackedAtLeast = (n: number) => {
    const target = state.acked.size + n;
    return waitFor(() => state.acked.size, (acked) => acked >= target, 60_000, 5);
  };
  for (let round = 0; round < 5; round++) {
    const more = ackedAtLeast(100);
    await new Promise((r) => setTimeout(r, 400 + Math.random() * 1200));
    await more;
    await daemon.kill9();
    daemon = await startDaemon({ config: fileConfig, dir, port: daemon.port });
  }
  await ackedAtLeast(100);
  await stop();
  t.teardown(() => daemon.stop());
  const file = path.join(dir, 'events.ndjson');
  const key = (e: Record<string, any>) => `${String(e.data.conversation.groupId).slice(10)}:${e.data.seq}`;
  await waitFor(() => new Set(readTolerant(file).events.map(key)), (got) => [...state.acked].every((k) => got.has(k)), 60_000, 250).catch(() => undefined);
  const { events, torn } = readTolerant(file);
  const delivered = new Set(events.map(key));
  const missing = [...state.acked].filter((k) => !delivered.has(k));
  const byKey = new Map<string, Set<string>>();
  for (const e of events) byKey.set(key(e), (byKey.get(key(e)) ?? new Set()).add(e.id));
  const duplicates = events.length - delivered.size;
  const report = { sent: state.sent, acked: state.acked.size, delivered: delivered.size, duplicateLines: duplicates, tornLines: torn, missing: missing.length };
  t.comment(`crash test: ${JSON.stringify(report)}`);
  console.log(`# crash test report: ${JSON.stringify(report)}`);
  t.ok(state.acked.size > 500, `a real load was acked (${state.acked.size})`);
  t.same(missing, [], 'no acknowledged event lost');
  t.ok([...byKey.values()].every((ids) => ids.size === 1), 'duplicates, if any, carry the same id');
});

t.test('sink down for 60 s: backlog on disk, memory flat, everything delivered in order after', async (t) => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'control'), { recursive: true });
  const daemon = await startDaemon({ config: switchableConfig(), dir });
  t.teardown(() => daemon.stop());
  const post = (g: number, seq: number) => postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage(`@TGS#out${g}`, seq, 'x'.repeat(600)));
  const tail = new NdjsonTail(path.join(dir, 'events.ndjson'));
  for (let i = 1; i <= 500; i++) await post(i % 10, i); // warm up
  await waitFor(() => tail.read().length, (n) => n === 500);
  const before = rssMb(daemon.process.pid!);

  fs.writeFileSync(path.join(dir, 'control/down'), '');
  const started = Date.now();
  let seq = 501;
  const samples: number[] = [];
  // 60 s, and a backlog of at least 10,000 events (≥ 5 RSS samples) however slow the machine: the
  // checks below are about memory and delivery, not about how many callbacks a minute allows.
  while (Date.now() - started < 60_000 || seq - 501 < 10_000) {
    const batch = [];
    for (let k = 0; k < 50; k++, seq++) batch.push(post(seq % 10, seq));
    const answers = await Promise.all(batch);
    if (answers.some((a) => a.status !== 200)) t.fail('a callback was refused during the outage');
    if (seq % 2000 < 50) samples.push(rssMb(daemon.process.pid!));
  }
  const during = Math.max(...samples);
  const backlog = seq - 501;
  const ready = (await (await fetch(`${daemon.url}/readyz`)).json()) as { sinks: { switch: { state: string; pending: number } } };
  fs.rmSync(path.join(dir, 'control/down'));
  const events = await waitFor(() => tail.read(), (e) => e.length >= seq - 1, 120_000, 500);
  const after = rssMb(daemon.process.pid!);
  console.log(`# outage test: backlog ${backlog} events over 60 s; RSS before ${before.toFixed(1)} MB, during max ${during.toFixed(1)} MB, after ${after.toFixed(1)} MB`);
  t.ok(backlog > 5000, `a real backlog built up (${backlog} events)`);
  t.equal(ready.sinks.switch.state, 'failing', '/readyz shows the sink failing');
  // Flat = not growing with the backlog. Idle RSS before the outage is no baseline: V8 sizes its
  // heaps for the load, whatever the backlog. Compare the two halves of the outage instead.
  // Medians, not maxima: a single sample can catch V8 just before a full GC.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const half = Math.floor(samples.length / 2);
  const early = median(samples.slice(0, half));
  const late = median(samples.slice(half));
  t.ok(samples.length >= 4, `RSS sampled through the outage (${samples.length} samples)`);
  t.ok(late - early < 40, `memory stayed flat while the backlog doubled on disk (median ${early.toFixed(1)} MB in the first half, ${late.toFixed(1)} MB in the second)`);
  t.ok(during < 400, `RSS bounded during the outage (${during.toFixed(1)} MB)`);
  t.equal(new Set(events.map((e) => e.id)).size, seq - 1, 'every event delivered');
  t.equal(events.length, seq - 1, 'no duplicates');
  const byGroup = new Map<string, number[]>();
  for (const e of events) byGroup.set(e.subject, [...(byGroup.get(e.subject) ?? []), e.data.seq]);
  for (const [subject, seqs] of byGroup) t.same(seqs, [...seqs].sort((a, b) => a - b), `${subject} in order`);
});

t.test('a fatal error dead-letters one event, the rest are delivered; dlq replay delivers it later', async (t) => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'control'), { recursive: true });
  const daemon = await startDaemon({ config: switchableConfig(), dir });
  t.teardown(() => daemon.stop());
  for (let i = 1; i <= 20; i++) {
    const answer = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#dlq', i, i === 7 ? 'POISON pill' : `fine ${i}`));
    t.equal(answer.status, 200);
  }
  const file = path.join(dir, 'events.ndjson');
  await waitFor(() => readEvents(file).length, (n) => n === 19);
  const list = await waitFor(() => execFileSync(process.execPath, [CLI, 'dlq', 'list', '--config', daemon.configFile], { encoding: 'utf8' }), (s) => s.includes('SWITCH_POISON'));
  t.match(list, /event\tswitch\t[0-9a-f]{32}\tattempts=1\tSWITCH_POISON: poison event refused/);
  const dlqId = list.trim().split('\t')[0]!;
  const shown = JSON.parse(execFileSync(process.execPath, [CLI, 'dlq', 'show', dlqId, '--config', daemon.configFile], { encoding: 'utf8' }));
  t.equal(shown.body.data.seq, 7);
  const poisonId = shown.eventId;

  fs.writeFileSync(path.join(dir, 'control/accept-poison'), '');
  const replay = execFileSync(process.execPath, [CLI, 'dlq', 'replay', '--sink', 'switch', '--config', daemon.configFile], { encoding: 'utf8' });
  t.match(replay, /replayed 1 event/);
  const events = await waitFor(() => readEvents(file), (e) => e.length === 20, 60_000);
  t.equal(events[19]!.id, poisonId, 'the replayed event keeps its id');
  t.match(execFileSync(process.execPath, [CLI, 'dlq', 'list', '--config', daemon.configFile], { encoding: 'utf8' }), /empty/);
});

t.test('capacity: over queue.max_events → 503 with the reason and unready; back to 200 when drained', async (t) => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'control'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'control/down'), '');
  const daemon = await startDaemon({ config: switchableConfig('{ dir: ./queue, max_events: 50 }'), dir });
  t.teardown(() => daemon.stop());
  const statuses: number[] = [];
  for (let i = 1; i <= 60; i++) statuses.push((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#cap', i))).status);
  t.same(statuses.slice(0, 50), Array(50).fill(200));
  t.same(statuses.slice(50), Array(10).fill(503), 'never a 200 over capacity');
  const refused = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#cap', 61));
  t.match(refused.json, { ActionStatus: 'FAIL', ErrorCode: 50301, ErrorInfo: /QUEUE_FULL_EVENTS.*max_events=50/ });
  t.equal((await fetch(`${daemon.url}/readyz`)).status, 503, '/readyz unready');
  fs.rmSync(path.join(dir, 'control/down'));
  await waitFor(() => readEvents(path.join(dir, 'events.ndjson')).length, (n) => n === 50, 60_000);
  await waitFor(async () => (await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#cap', 62))).status, (s) => s === 200, 60_000);
  // Delivered events are deleted in runs (write-behind), at the latest 100 ms after commits stop:
  // readiness, which wants room for one more event, follows within that.
  t.equal(await waitFor(async () => (await fetch(`${daemon.url}/readyz`)).status, (s) => s === 200, 10_000), 200, 'ready again');
});

t.test('disk full (a real 8 MiB tmpfs): 503, no 200 for an unwritten event, recovery when space returns', async (t) => {
  const dir = tempDir();
  const mountPoint = path.join(dir, 'small');
  fs.mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    t.plan(0, `cannot mount a tmpfs here (needs root): ${(error as Error).message}`);
    return;
  }
  t.teardown(() => execFileSync('umount', ['-l', mountPoint]));
  fs.mkdirSync(path.join(dir, 'control'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'control/down'), '');
  const daemon = await startDaemon({ config: switchableConfig(`{ dir: ${mountPoint}/queue, min_free_bytes: 2097152 }`), dir });
  t.teardown(() => daemon.stop());
  const acked: number[] = [];
  let refused = 0;
  let lastError = '';
  for (let i = 1; i <= 5000 && refused < 20; i++) {
    const answer = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage(`@TGS#full${i % 5}`, i, 'y'.repeat(2000)));
    if (answer.status === 200) acked.push(i);
    else {
      t.equal(answer.status, 503, 'a full disk answers 503');
      lastError = String(answer.json?.ErrorInfo);
      refused++;
    }
  }
  t.ok(refused >= 20 && acked.length > 100, `disk filled after ${acked.length} events; then refused`);
  t.match(lastError, /QUEUE_DISK_FULL/);
  fs.rmSync(path.join(dir, 'control/down'));
  const events = await waitFor(() => readTolerant(path.join(dir, 'events.ndjson')).events, (e) => e.length >= acked.length, 60_000, 250);
  const delivered = new Set(events.map((e) => e.data.seq as number));
  t.same(acked.filter((n) => !delivered.has(n)), [], 'every acked event delivered');
  t.equal(events.length, acked.length, 'no event that got a 503 was delivered');
  const answer = await waitFor(() => postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#full0', 99999)), (a) => a.status === 200, 60_000, 250);
  t.equal(answer.status, 200, 'accepting again once space returned');
});

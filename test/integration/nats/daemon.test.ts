/**
 * The nats sink run by the real daemon (dist/), against the real NATS JetStream of the test services:
 * - 10,000 callbacks → exactly 10,000 messages in the stream, in order per conversation, although the
 *   daemon is killed with SIGKILL mid-stream and restarted (the server drops redelivered ids);
 * - NATS down for 30 s: callbacks are still acked, the backlog waits on disk, everything is delivered
 *   once NATS is back, nothing is dead-lettered.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { connect, type JsMsg, type NatsConnection } from 'nats';
import { daemonYaml, groupMessage, postCallback, sleepUntil, startDaemon, waitFor, type Daemon } from '../../helpers/daemon.js';
import { QueueStore } from '../../../src/queue/store.js';
import { natsUrl, requireService, serviceControl, uniqueName } from '../../helpers/services.js';

const GROUPS = 50;

function bridgeConfig(stream: string, prefix: string): string {
  return daemonYaml({
    sinks: {
      out: {
        type: 'nats',
        servers: [natsUrl()],
        subject: `${prefix}.{{data.family}}.{{data.conversation.groupId}}`,
        stream,
        create_stream: { storage: 'file', duplicate_window_ms: 600000 },
        reconnect_wait_ms: 250,
        batch: { max_events: 500, max_wait_ms: 20 },
        retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 },
      },
    },
  });
}

/**
 * Posts `perGroup` messages to each of GROUPS groups; each group's messages go one after the other (so
 * the ingest order of a conversation is its seq order), and a message is re-sent until it is acked
 * with 200, as the IM backend does. `daemon()` gives the current daemon (it may be restarted meanwhile).
 */
async function postAll(daemon: () => Daemon, groupPrefix: string, fromSeq: number, perGroup: number, onAck: () => void): Promise<void> {
  await Promise.all(
    Array.from({ length: GROUPS }, async (_, g) => {
      for (let seq = fromSeq; seq < fromSeq + perGroup; seq++) {
        for (;;) {
          const res = await postCallback(daemon().url, 'Group.CallbackAfterSendMsg', groupMessage(`${groupPrefix}${g}`, seq)).catch(() => ({ status: 0 }));
          if (res.status === 200) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        onAck();
      }
    }),
  );
}

async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await nc.jetstreamManager();
  return (await jsm.streams.info(stream)).state.messages;
}

async function readStream(nc: NatsConnection, stream: string): Promise<JsMsg[]> {
  const total = await streamCount(nc, stream);
  const consumer = await nc.jetstream().consumers.get(stream);
  const out: JsMsg[] = [];
  while (out.length < total) {
    const batch = await consumer.fetch({ max_messages: Math.min(1000, total - out.length), expires: 5000 });
    for await (const m of batch) out.push(m);
  }
  return out;
}

function checkStream(t: Checks, msgs: JsMsg[], prefix: string, groupPrefix: string, perGroup: number): void {
  const ids = new Set(msgs.map((m) => m.headers!.get('Nats-Msg-Id')));
  t.equal(ids.size, msgs.length, 'every message id is unique (no duplicates)');
  const bySubject = new Map<string, number[]>();
  for (const m of msgs) {
    const seqs = bySubject.get(m.subject) ?? [];
    seqs.push((m.json() as { seq: number }).seq);
    bySubject.set(m.subject, seqs);
  }
  t.equal(bySubject.size, GROUPS, 'one subject per conversation');
  let ordered = 0;
  for (let g = 0; g < GROUPS; g++) {
    const seqs = bySubject.get(`${prefix}.group.${groupPrefix}${g}`) ?? [];
    if (seqs.length === perGroup && seqs.every((s, i) => s === i + 1)) ordered++;
    else t.fail(`group ${g}: ${seqs.length} messages, first out of order at ${seqs.findIndex((s, i) => s !== i + 1)}`);
  }
  t.equal(ordered, GROUPS, 'every conversation complete and in order');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Checks = { equal: (...args: any[]) => boolean; fail: (...args: any[]) => boolean };

function deadLetters(dir: string): number {
  const db = new Database(path.join(dir, 'queue', 'queue.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Events on disk still pending for sink out, as a second process (the CLI) sees them. */
function pendingOnDisk(dir: string): number {
  const store = new QueueStore(path.join(dir, 'queue'), { readonly: true });
  try {
    return store.stats().sinks.find((s) => s.sink === 'out')?.depth ?? 0;
  } finally {
    store.close();
  }
}

t.test('nats sink through the daemon', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  const nc = await connect({ servers: natsUrl(), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const streams: string[] = [];
  t.teardown(async () => {
    const jsm = await nc.jetstreamManager().catch(() => undefined);
    for (const s of streams) await jsm?.streams.delete(s).catch(() => undefined);
    await nc.close();
  });

  t.test('10,000 callbacks, kill -9 mid-stream: 10,000 messages, no duplicates, ordered per conversation', { timeout: 600_000 }, async (t) => {
    const stream = uniqueName('nats-kill').replace(/-/g, '_').toUpperCase();
    streams.push(stream);
    const prefix = uniqueName('nk');
    const groupPrefix = `g${Date.now().toString(36)}-`;
    let daemon = await startDaemon({ config: bridgeConfig(stream, prefix) });
    t.teardown(() => daemon.stop());
    await daemon.waitForLog('NATS_STREAM_CREATED');

    let acked = 0;
    const perGroup = 10_000 / GROUPS;
    const posting = postAll(() => daemon, groupPrefix, 1, perGroup, () => acked++);
    await waitFor(() => acked, (n) => n >= 4000, 300_000, 20);
    const inStreamBeforeKill = await streamCount(nc, stream);
    await daemon.kill9();
    t.comment(`killed with ${acked} callbacks acked, ${inStreamBeforeKill} messages in the stream`);
    await new Promise((r) => setTimeout(r, 500));
    daemon = await daemon.restart();
    await posting;
    t.equal(acked, 10_000, 'every callback acked (re-sent until 200)');

    const total = await waitFor(() => streamCount(nc, stream), (n) => n >= 10_000, 300_000, 250);
    await new Promise((r) => setTimeout(r, 1500)); // anything still redelivered must be dropped as duplicate
    t.equal(await streamCount(nc, stream), 10_000, `exactly 10,000 messages in the stream (saw ${total})`);
    checkStream(t, await readStream(nc, stream), prefix, groupPrefix, perGroup);
    await waitFor(() => pendingOnDisk(daemon.dir), (n) => n === 0, 60_000, 250);
    t.equal(deadLetters(daemon.dir), 0, 'nothing dead-lettered');
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text().catch(() => '');
    const dups = /im_bridge_sink_plugin_events_total\{[^}]*name="jetstream_duplicates"[^}]*\} (\d+)/.exec(metrics);
    t.comment(`duplicates dropped by the server after the restart: ${dups?.[1] ?? 0}`);
  });

  t.test('NATS down for 30 s: backlog on disk, all delivered after it returns', { timeout: 600_000 }, async (t) => {
    const stream = uniqueName('nats-outage').replace(/-/g, '_').toUpperCase();
    streams.push(stream);
    const prefix = uniqueName('no');
    const groupPrefix = `o${Date.now().toString(36)}-`;
    const daemon = await startDaemon({ config: bridgeConfig(stream, prefix) });
    t.teardown(() => daemon.stop());
    await daemon.waitForLog('NATS_STREAM_CREATED');

    let acked = 0;
    await postAll(() => daemon, groupPrefix, 1, 20, () => acked++);
    await waitFor(() => streamCount(nc, stream), (n) => n === 20 * GROUPS, 60_000, 100);
    // The stream can hold a batch before the daemon has its PubAck and has recorded the delivery: wait
    // until nothing is pending, or a batch in that window stays on disk and is counted in the backlog
    // below (a race that a busy machine widens).
    await waitFor(() => pendingOnDisk(daemon.dir), (n) => n === 0, 60_000, 100);

    let restarted = false;
    try {
      await serviceControl('nats', 'stop');
      const downAt = Date.now();
      await daemon.waitForLog('NATS_DISCONNECTED', 30_000);
      await postAll(() => daemon, groupPrefix, 21, 40, () => acked++);
      t.equal(acked, 60 * GROUPS, 'callbacks are acked while NATS is down');
      const backlog = pendingOnDisk(daemon.dir);
      t.equal(backlog, 40 * GROUPS, 'the backlog waits in the on-disk queue');
      const ready = await fetch(`${daemon.url}/readyz`);
      t.comment(`readyz while NATS is down: ${ready.status}`);
      await sleepUntil(downAt + 30_000);
      t.equal(pendingOnDisk(daemon.dir), 40 * GROUPS, 'still all on disk after 30 s, nothing lost or dead-lettered');
      t.equal(deadLetters(daemon.dir), 0);
      await serviceControl('nats', 'start');
      restarted = true;
    } finally {
      if (!restarted) await serviceControl('nats', 'start');
    }
    await daemon.waitForLog('NATS_RECONNECTED', 60_000);
    const nc2 = await connect({ servers: natsUrl() });
    t.teardown(() => nc2.close());
    await waitFor(() => streamCount(nc2, stream), (n) => n >= 60 * GROUPS, 180_000, 250);
    await waitFor(() => pendingOnDisk(daemon.dir), (n) => n === 0, 60_000, 250);
    t.equal(await streamCount(nc2, stream), 60 * GROUPS, 'everything delivered exactly once');
    checkStream(t, await readStream(nc2, stream), prefix, groupPrefix, 60);
    t.equal(deadLetters(daemon.dir), 0, 'nothing dead-lettered');
    const retries = daemon.logs.filter((l) => l.code === 'SINK_WRITE_RETRY').length;
    t.comment(`${retries} retry log lines during the outage`);
  });
});

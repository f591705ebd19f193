/**
 * Issue 18, "a poison event fails alone", for the nats sink through the real daemon (dist/) and the
 * real NATS JetStream of the test services: among 100 good callbacks of the same and of other
 * conversations, one event whose subject the server cannot take (a 5,002-character GroupId of 2,501
 * `|tokens` tokens: a publish line over nats-server's max_control_line would close the connection)
 * and one message over the server's max_payload, in a conversation shared with good events. The 100
 * are stored exactly once, the two are dead-lettered at their first attempt with their codes, no
 * retry is counted and the connection never drops.
 */
import t from 'tap';
import { connect, type JsMsg, type NatsConnection } from 'nats';
import { daemonYaml, groupMessage, postCallback, startDaemon, waitFor } from '../../helpers/daemon.js';
import { deadLetters, metricSum, postInOrder } from '../../helpers/observe.js';
import { natsUrl, requireService, uniqueName } from '../../helpers/services.js';

async function readStream(nc: NatsConnection, stream: string): Promise<JsMsg[]> {
  const total = (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
  const consumer = await nc.jetstream().consumers.get(stream);
  const out: JsMsg[] = [];
  while (out.length < total) {
    const batch = await consumer.fetch({ max_messages: Math.min(1000, total - out.length), expires: 5000 });
    for await (const m of batch) out.push(m);
  }
  return out;
}

t.test('nats through the daemon: a subject over the caps and a message over max_payload fail alone; the 100 good ones are stored once', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  const nc = await connect({ servers: natsUrl() });
  t.teardown(() => nc.close());
  const jsm = await nc.jetstreamManager();
  const stream = uniqueName('poison').replace(/-/g, '_').toUpperCase();
  const prefix = uniqueName('np');
  t.teardown(() => jsm.streams.delete(stream).catch(() => undefined));
  const maxPayload = nc.info!.max_payload;

  const daemon = await startDaemon({
    config: daemonYaml({
      sinks: {
        out: {
          type: 'nats',
          servers: [natsUrl()],
          // |tokens over a group id: a sender-controlled value that can make a subject of any length
          subject: `${prefix}.{{data.family}}.{{data.conversation.groupId|tokens}}`,
          stream,
          create_stream: { storage: 'memory', duplicate_window_ms: 600000 },
          reconnect_wait_ms: 250,
          batch: { max_events: 500, max_wait_ms: 50 },
          retry: { initial_backoff_ms: 100, max_backoff_ms: 1000, max_attempts: 20 },
        },
      },
    }),
  });
  t.teardown(() => daemon.stop());

  const command = 'Group.CallbackAfterSendMsg';
  // 50 good events in the conversation the oversized poison belongs to, 50 in five others.
  const good = [
    ...Array.from({ length: 50 }, (_, i) => ({ command, body: groupMessage('@TGS#shared', i + 1) })),
    ...Array.from({ length: 50 }, (_, i) => ({ command, body: groupMessage(`@TGS#other${i % 5}`, Math.floor(i / 5) + 1) })),
  ].sort((a, b) => (a.body.MsgSeq as number) - (b.body.MsgSeq as number));
  const longGroup = '@TGS#' + '.x'.repeat(2500); // 5,005 characters, 2,501 tokens with |tokens
  const tooLong = { command, body: groupMessage(longGroup, 1, 'poison: subject') };
  const tooBig = { command, body: groupMessage('@TGS#shared', 1000, 'z'.repeat(maxPayload + 1000)) };
  t.ok(longGroup.length >= 5000, `GroupId of ${longGroup.length} characters`);

  // The poisons go in the middle of the stream of callbacks, so they share batches with good ones.
  const first = await postInOrder(daemon.url, good.slice(0, 50));
  const poisons = await Promise.all([tooLong, tooBig].map((p) => postCallback(daemon.url, p.command, p.body)));
  const rest = await postInOrder(daemon.url, good.slice(50));
  t.same([...first, ...rest].filter((s) => s !== 200), [], 'the 100 good callbacks acked');
  t.same(poisons.map((p) => p.status), [200, 200], 'the two poison callbacks acked (they are valid callbacks)');

  const rows = await waitFor(() => deadLetters(daemon.dir, { sink: 'out' }), (r) => r.length >= 2, 60_000, 200);
  const delivered = await waitFor(
    async () => metricSum(await (await fetch(`${daemon.url}/metrics`)).text(), 'im_bridge_events_delivered_total', { sink: 'out' }),
    (n) => n >= 100,
    60_000,
    200,
  );
  t.equal(delivered, 100, 'the host counted 100 delivered');
  t.same(rows.map((r) => r.error_code).sort(), ['NATS_MESSAGE_TOO_LARGE', 'NATS_SUBJECT_TOO_LONG'], 'both poisons dead-lettered with their codes');
  t.same(rows.map((r) => r.attempts), [1, 1], 'at their first attempt: never retried');
  t.match(rows.find((r) => r.error_code === 'NATS_SUBJECT_TOO_LONG')!.error, /exceeds max_subject_bytes 1024/);
  t.match(rows.find((r) => r.error_code === 'NATS_MESSAGE_TOO_LARGE')!.error, new RegExp(`max_payload of ${maxPayload} bytes`));
  t.equal(rows.find((r) => r.error_code === 'NATS_MESSAGE_TOO_LARGE')!.subject, 'group/@TGS#shared', 'the oversized poison shares its conversation with 50 good events');

  const msgs = await readStream(nc, stream);
  t.equal(msgs.length, 100, 'exactly 100 messages in the stream');
  const ids = new Set(msgs.map((m) => m.headers!.get('Nats-Msg-Id')));
  t.equal(ids.size, 100, 'each good event once');
  t.notOk(rows.some((r) => ids.has(r.event_id!)), 'no poison in the stream');
  const shared = msgs.filter((m) => m.subject === `${prefix}.group.@TGS#shared`).map((m) => (m.json() as { seq: number }).seq);
  t.same(shared, Array.from({ length: 50 }, (_, i) => i + 1), 'the shared conversation complete and in order');

  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  t.equal(metricSum(metrics, 'im_bridge_events_retried_total', { sink: 'out' }), 0, 'zero retries counted');
  t.equal(metricSum(metrics, 'im_bridge_sink_plugin_events_total', { sink: 'out', name: 'jetstream_duplicates' }), 0, 'nothing was published twice');
  t.equal(metricSum(metrics, 'im_bridge_events_dead_lettered_total', { sink: 'out', code: 'NATS_SUBJECT_TOO_LONG' }), 1);
  t.equal(metricSum(metrics, 'im_bridge_events_dead_lettered_total', { sink: 'out', code: 'NATS_MESSAGE_TOO_LARGE' }), 1);
  const codes = new Set(daemon.logs.map((l) => l.code));
  for (const code of ['NATS_DISCONNECTED', 'NATS_CONNECTION_CLOSED', 'SINK_WRITE_RETRY']) t.notOk(codes.has(code), `no ${code} logged`);
  t.ok(daemon.logs.filter((l) => l.code === 'EVENT_DEAD_LETTERED').length >= 2, 'the dead letters are logged');
});

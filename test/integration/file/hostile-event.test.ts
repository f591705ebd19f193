/**
 * Issue 18, "a poison event fails alone", for the file sink through the real daemon (dist/). The file
 * sink names no file or path after an event field and writes any event as one JSON line, so it has no
 * poison of its own: a hostile event (lone UTF-16 surrogates, `..`, `/`, `\`, NUL and a newline in
 * the group id, the sender and the text) among 100 good ones of the same and of other conversations
 * is written like them. 101 lines, each once, nothing dead-lettered, no retry counted, no other file.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { daemonYaml, groupMessage, postCallback, readEvents, startDaemon, waitFor } from '../../helpers/daemon.js';
import { deadLetters, metricSum, postInOrder } from '../../helpers/observe.js';

t.test('file sink through the daemon: a hostile event among 100 good ones is written once, on one line; nothing fails', async (t) => {
  const daemon = await startDaemon({
    config: daemonYaml({
      sinks: {
        out: {
          type: 'file',
          path: '${DIR}/out/events.ndjson',
          batch: { max_events: 500, max_wait_ms: 50 },
          retry: { initial_backoff_ms: 100, max_backoff_ms: 1000, max_attempts: 20 },
        },
      },
    }),
  });
  t.teardown(() => daemon.stop());
  const command = 'Group.CallbackAfterSendMsg';
  const good = [
    ...Array.from({ length: 50 }, (_, i) => ({ command, body: groupMessage('@TGS#shared', i + 1) })),
    ...Array.from({ length: 50 }, (_, i) => ({ command, body: groupMessage(`@TGS#other${i % 5}`, Math.floor(i / 5) + 1) })),
  ].sort((a, b) => (a.body.MsgSeq as number) - (b.body.MsgSeq as number));
  const hostile = '../..\\/\ud800x\u0000\n%2e%2e';
  const hostileGroup = { command, body: { ...groupMessage(`@TGS#${hostile}`, 1, hostile), From_Account: hostile } };
  const hostileSender = { command, body: { ...groupMessage('@TGS#shared', 1000, hostile), From_Account: `mallory${hostile}` } };

  const first = await postInOrder(daemon.url, good.slice(0, 50));
  const odd = await Promise.all([hostileGroup, hostileSender].map((p) => postCallback(daemon.url, p.command, p.body)));
  const rest = await postInOrder(daemon.url, good.slice(50));
  t.same([...first, ...rest].filter((s) => s !== 200), [], 'the 100 good callbacks acked');
  t.same(odd.map((p) => p.status), [200, 200], 'the hostile callbacks acked');

  const file = path.join(daemon.dir, 'out', 'events.ndjson');
  const events = await waitFor(() => readEvents(file), (e) => e.length >= 102, 60_000, 100);
  const metrics = await waitFor(
    async () => (await fetch(`${daemon.url}/metrics`)).text(),
    (m) => metricSum(m, 'im_bridge_events_delivered_total', { sink: 'out' }) >= 102,
    30_000,
    100,
  );
  t.equal(events.length, 102, '102 lines: one per event, each parses as JSON');
  t.equal(fs.readFileSync(file, 'utf8').split('\n').length, 103, 'no event spans two lines (the NUL and newline stay escaped)');
  t.equal(new Set(events.map((e) => e.id)).size, 102, 'each event once');
  const written = events.find((e) => e.data.conversation?.groupId === `@TGS#${hostile}`);
  t.ok(written, 'the hostile group id is written as it was received, lone surrogate included');
  t.equal(written!.data.sender, hostile);
  t.equal(events.find((e) => e.data.sender === `mallory${hostile}`)?.subject, 'group/@TGS#shared', 'the hostile sender shares its conversation with 50 good events');
  t.same(fs.readdirSync(path.join(daemon.dir, 'out')), ['events.ndjson'], 'no other file created');

  t.equal(metricSum(metrics, 'im_bridge_events_retried_total', { sink: 'out' }), 0, 'zero retries counted');
  t.equal(metricSum(metrics, 'im_bridge_events_dead_lettered_total', { sink: 'out' }), 0, 'nothing dead-lettered');
  t.equal(deadLetters(daemon.dir).length, 0, 'the dead_letters table is empty');
  t.notOk(daemon.logs.some((l) => l.code === 'SINK_WRITE_RETRY' || l.code === 'EVENT_DEAD_LETTERED'), 'no retry or dead letter logged');
});

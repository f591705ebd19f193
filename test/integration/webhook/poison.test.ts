/**
 * Issue 18, "a poison event fails alone", for the webhook sink (finding 7): a URL template over
 * sender-controlled fields, and events whose value has no URL encoding (a lone UTF-16 surrogate:
 * valid JSON, and encodeURIComponent throws URIError on it).
 * - Through the real daemon (dist/) and a real node:http receiver: among 100 good callbacks of the
 *   same and of other conversations, the poisons are dead-lettered at their first attempt with
 *   WEBHOOK_URL_TEMPLATE; each good event reaches the receiver exactly once; no retry is counted.
 * - The conformance kit with that poison, in every encoding.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import plugin from '../../../plugins/webhook/index.js';
import { formatConformanceReport, runSinkConformance } from '../../../src/sink/conformance.js';
import { daemonYaml, groupMessage, postCallback, startDaemon, waitFor } from '../../helpers/daemon.js';
import { deadLetters, metricSum, postInOrder } from '../../helpers/observe.js';

async function receiver() {
  const requests: Array<{ id: string; url: string; body: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ id: String(req.headers['webhook-id']), url: req.url!, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    /** Event ids that arrived: webhook-id in structured/binary mode, the ids in the body in batch mode. */
    ids(): string[] {
      return requests.flatMap((r) => (r.id.startsWith('batch_') ? (JSON.parse(r.body) as Array<{ id: string }>).map((e) => e.id) : [r.id]));
    },
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

t.test('webhook through the daemon: lone surrogates in templated fields fail their events alone; the 100 good ones arrive once', async (t) => {
  const rx = await receiver();
  t.teardown(() => rx.close());
  const daemon = await startDaemon({
    config: daemonYaml({
      sinks: {
        out: {
          type: 'webhook',
          url: `${rx.origin}/g/{{data.conversation.groupId}}/{{data.sender}}`,
          timeout_ms: 5000,
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
  // Finding 7's poison (a lone surrogate in the GroupId), and one in the sender of the shared conversation.
  const badGroup = { command, body: groupMessage('@TGS#\ud800x', 1, 'poison: group') };
  const badSender = { command, body: { ...groupMessage('@TGS#shared', 1000, 'poison: sender'), From_Account: 'mallory\udbff' } };
  t.match(JSON.stringify(badGroup.body), /\\ud800/, 'sent as the JSON escape \\ud800 (valid JSON)');

  const first = await postInOrder(daemon.url, good.slice(0, 50));
  const poisons = await Promise.all([badGroup, badSender].map((p) => postCallback(daemon.url, p.command, p.body)));
  const rest = await postInOrder(daemon.url, good.slice(50));
  t.same([...first, ...rest].filter((s) => s !== 200), [], 'the 100 good callbacks acked');
  t.same(poisons.map((p) => p.status), [200, 200], 'the poison callbacks acked');

  const rows = await waitFor(() => deadLetters(daemon.dir, { sink: 'out' }), (r) => r.length >= 2, 60_000, 200);
  await waitFor(() => rx.requests.length, (n) => n >= 100, 60_000, 100);
  const delivered = await waitFor(
    async () => metricSum(await (await fetch(`${daemon.url}/metrics`)).text(), 'im_bridge_events_delivered_total', { sink: 'out' }),
    (n) => n >= 100,
    60_000,
    200,
  );
  t.equal(delivered, 100, 'the host counted 100 delivered');
  t.same(rows.map((r) => r.error_code), ['WEBHOOK_URL_TEMPLATE', 'WEBHOOK_URL_TEMPLATE'], 'both poisons dead-lettered with WEBHOOK_URL_TEMPLATE');
  t.same(rows.map((r) => r.attempts), [1, 1], 'at their first attempt');
  t.ok(rows.every((r) => /lone UTF-16 surrogate/.test(r.error)), `the reason is said: ${rows[0]!.error}`);
  t.equal(rows.filter((r) => r.subject === 'group/@TGS#shared').length, 1, 'one poison shares its conversation with 50 good events');

  t.equal(rx.requests.length, 100, 'exactly 100 requests reached the receiver');
  t.equal(new Set(rx.ids()).size, 100, 'one per good event');
  const shared = rx.requests.filter((r) => r.url.startsWith('/g/%40TGS%23shared/')).map((r) => (JSON.parse(r.body) as { data: { seq: number } }).data.seq);
  t.same(shared, Array.from({ length: 50 }, (_, i) => i + 1), 'the shared conversation complete and in order');

  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  t.equal(metricSum(metrics, 'im_bridge_events_retried_total', { sink: 'out' }), 0, 'zero retries counted');
  t.equal(metricSum(metrics, 'im_bridge_events_dead_lettered_total', { sink: 'out', code: 'WEBHOOK_URL_TEMPLATE' }), 2);
  const codes = new Set(daemon.logs.map((l) => l.code));
  t.notOk(codes.has('SINK_WRITE_RETRY'), 'no SINK_WRITE_RETRY logged');
  t.notOk(daemon.logs.some((l) => String(l.errorCode ?? '').includes('SINK_UNEXPECTED_ERROR')), 'no SINK_UNEXPECTED_ERROR');
});

t.test('conformance kit with a lone-surrogate poison, in every encoding', async (t) => {
  for (const encoding of ['structured', 'binary', 'batch'] as const) {
    const rx = await receiver();
    t.teardown(() => rx.close());
    const report = await runSinkConformance(plugin, {
      config: { url: `${rx.origin}/hook/{{data.sender}}/{{subject}}`, encoding, timeout_ms: 5000 },
      verify: async () => new Set(rx.ids()),
      unreachableConfig: { url: 'http://127.0.0.1:9/hook', timeout_ms: 500 },
      poison: (e) => ({ ...e, data: { ...e.data, sender: 'mallory\ud800' } }),
    });
    t.ok(report.passed, `${encoding}: ${formatConformanceReport(report)}`);
    t.match(report.checks.find((c) => c.name.startsWith('a poison event'))?.detail, /WEBHOOK_URL_TEMPLATE/, `${encoding}: the poison failed alone with its code`);
  }
});

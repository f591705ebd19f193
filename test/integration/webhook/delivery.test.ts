/**
 * webhook sink end to end: the real daemon (dist/) → a real node:http receiver started here.
 * 5,000 callbacks → 5,000 signed requests, each verified with the standardwebhooks library;
 * then a receiver that fails the first two attempts of every request: everything still arrives,
 * retries carry the same webhook-id, and every conversation arrives in order.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Webhook } from 'standardwebhooks';
import { daemonYaml, groupMessage, postMany, startDaemon, waitFor } from '../../helpers/daemon.js';

const SECRET = 'whsec_' + Buffer.from('integration-secret-for-webhooks!').toString('base64');
const OLD_SECRET = 'whsec_' + Buffer.from('the-previous-secret-being-rotated').toString('base64');

interface Hit {
  id: string;
  subject: string;
  seq: number;
  status: number;
  verified: boolean;
}

async function receiver(decide: (id: string, attempt: number) => number) {
  const verifier = new Webhook(SECRET);
  const oldVerifier = new Webhook(OLD_SECRET);
  const hits: Hit[] = [];
  const attempts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id']);
      let verified = false;
      let event: { id: string; subject: string; data: { seq: number } } | undefined;
      try {
        event = verifier.verify(body, req.headers as Record<string, string>) as typeof event;
        oldVerifier.verify(body, req.headers as Record<string, string>);
        verified = event!.id === id;
      } catch {
        verified = false;
      }
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      const status = verified ? decide(id, attempt) : 401;
      hits.push({ id, subject: event?.subject ?? '?', seq: event?.data.seq ?? -1, status, verified });
      res.writeHead(status).end(status >= 300 ? 'try again' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/im-events`;
  return {
    url,
    hits,
    attempts,
    accepted: () => hits.filter((h) => h.status < 300),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

type Retry = { initial_backoff_ms: number; max_backoff_ms: number; max_attempts: number };

function config(url: string, retry: Retry): string {
  return daemonYaml({
    sinks: {
      out: {
        type: 'webhook',
        url,
        encoding: 'structured',
        timeout_ms: 5000,
        max_connections: 16,
        signing: { secrets: [SECRET, OLD_SECRET] },
        batch: { max_events: 500, max_wait_ms: 20 },
        max_in_flight: 4,
        retry,
      },
    },
  });
}

/** `groups` conversations × `perGroup` messages, interleaved as a busy IM app would send them. */
function callbacks(prefix: string, groups: number, perGroup: number) {
  const items: Array<{ command: string; body: unknown }> = [];
  for (let seq = 1; seq <= perGroup; seq++) {
    for (let g = 0; g < groups; g++) items.push({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`${prefix}${g}`, seq) });
  }
  return items;
}

/** Every request of a subject came after all earlier messages of that subject were accepted. */
function orderViolations(hits: Hit[]): number {
  const acceptedUpTo = new Map<string, number>();
  let violations = 0;
  for (const h of hits) {
    const done = acceptedUpTo.get(h.subject) ?? 0;
    if (h.seq !== done + 1) violations++;
    if (h.status < 300) acceptedUpTo.set(h.subject, h.seq);
  }
  return violations;
}

t.test('5,000 events → 5,000 signed requests, each verifiable with the standardwebhooks library', async (t) => {
  const rx = await receiver(() => 204);
  t.teardown(() => rx.close());
  const daemon = await startDaemon({ config: config(rx.url, { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 }) });
  t.teardown(() => daemon.stop());

  const statuses = await postMany(daemon.url, callbacks('wh-a-', 100, 50), 32);
  t.equal(statuses.filter((s) => s === 200).length, 5000, 'all callbacks acknowledged');
  await waitFor(() => rx.hits.length, (n) => n >= 5000, 120_000, 200);
  await new Promise((r) => setTimeout(r, 1000)); // nothing more should arrive

  t.equal(rx.hits.length, 5000, 'exactly 5,000 requests');
  t.equal(rx.hits.filter((h) => h.verified).length, 5000, 'every request verifies with both rotated secrets');
  t.equal(new Set(rx.hits.map((h) => h.id)).size, 5000, '5,000 distinct webhook-ids');
  t.equal(orderViolations(rx.hits), 0, 'each conversation is sent strictly in order, the next message only after the previous one was accepted');
  t.notOk(daemon.logs.some((l) => l.code === 'EVENT_DEAD_LETTERED' || l.code === 'SINK_WRITE_RETRY'), 'no retry, no dead letter');
});

t.test('a receiver failing the first two attempts of every request still gets everything, same webhook-id on retries', async (t) => {
  const rx = await receiver((_id, attempt) => (attempt === 1 ? 500 : attempt === 2 ? 503 : 200));
  t.teardown(() => rx.close());
  const daemon = await startDaemon({ config: config(rx.url, { initial_backoff_ms: 50, max_backoff_ms: 400, max_attempts: 1000 }) });
  t.teardown(() => daemon.stop());

  const started = Date.now();
  const statuses = await postMany(daemon.url, callbacks('wh-b-', 1000, 5), 32);
  t.equal(statuses.filter((s) => s === 200).length, 5000, 'all callbacks acknowledged');
  await waitFor(() => rx.accepted().length, (n) => n >= 5000, 300_000, 250);
  t.comment(`5,000 events × 3 attempts delivered in ${Date.now() - started} ms`);
  await new Promise((r) => setTimeout(r, 1000));

  const accepted = rx.accepted();
  t.equal(accepted.length, 5000, 'every event accepted exactly once');
  t.equal(new Set(accepted.map((h) => h.id)).size, 5000);
  t.equal(rx.hits.length, 15_000, '3 requests per event: two failures, then success');
  t.ok([...rx.attempts.values()].every((n) => n === 3), 'every webhook-id seen exactly 3 times (the id is stable across retries)');
  t.ok(rx.hits.every((h) => h.verified), 'every attempt is signed (fresh timestamp, same id)');
  t.equal(orderViolations(rx.hits), 0, 'each conversation is sent strictly in order, the next message only after the previous one was accepted');
  const retried = daemon.logs.filter((l) => l.code === 'SINK_WRITE_RETRY');
  t.ok(retried.length > 0, `host logged ${retried.length} retries`);
  t.ok(
    retried.some((l) => l.errorCode === 'WEBHOOK_HTTP_500') && retried.some((l) => l.errorCode === 'WEBHOOK_HTTP_503'),
    'retries carry the receiver status',
  );
  t.notOk(daemon.logs.some((l) => l.code === 'EVENT_DEAD_LETTERED'), 'nothing dead-lettered');
});

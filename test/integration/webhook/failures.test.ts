/**
 * webhook sink failure handling through the real daemon: a 410 receiver (dead-lettered with the
 * status and a body excerpt), a 429 receiver with Retry-After (the sink waits), and a receiver
 * that never answers (timeouts and retries with bounded sockets and bounded daemon RSS; then
 * everything is delivered once it answers again).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import t from 'tap';
import { daemonYaml, groupMessage, postMany, startDaemon, waitFor } from '../../helpers/daemon.js';
import { deadLetters, metric } from '../../helpers/observe.js';

type Handler = (id: string, req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * A receiver that counts, besides sockets, the requests in flight: received and neither answered nor
 * given up by the sink (its socket ended or closed). That is what `max_connections` bounds.
 *
 * Why requests and not sockets: a timed-out request's socket is destroyed and its slot reused at once,
 * and this server sees the old socket's 'close' only a loop turn or more after the replacement's
 * 'connection' — a sampler can count both. A request in flight cannot race that way: the sink sends the
 * old socket's FIN before it connects the new one and writes the new request, so the FIN's EOF is
 * readable no later than the new request's bytes; counting in `setImmediate` (after the whole poll
 * batch) therefore never sees the replacement's request before the old one's end. The bound is
 * order-based, not time-based, and holds on a busy machine; a sink that opened more than
 * `max_connections` requests would still break it.
 */
async function receiver(initial: Handler) {
  let handler = initial;
  const requests: Array<{ id: string; at: number }> = [];
  const sockets = new Set<Socket>();
  const inFlight = new Set<http.IncomingMessage>();
  let maxSockets = 0;
  let maxInFlight = 0;
  const onSocket = new Map<Socket, http.IncomingMessage>(); // the request a socket carries now
  const server = http.createServer((req, res) => {
    onSocket.set(req.socket, req);
    res.once('finish', () => inFlight.delete(req));
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      requests.push({ id, at: Date.now() });
      if (!req.socket.destroyed && !req.socket.readableEnded) {
        inFlight.add(req);
        setImmediate(() => (maxInFlight = Math.max(maxInFlight, inFlight.size)));
      }
      handler(id, req, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    maxSockets = Math.max(maxSockets, sockets.size);
    const ended = () => {
      const req = onSocket.get(socket);
      if (req) inFlight.delete(req);
      onSocket.delete(socket);
    };
    socket.on('end', ended).on('error', ended);
    socket.on('close', () => (ended(), sockets.delete(socket)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests,
    openSockets: () => sockets.size,
    maxSockets: () => maxSockets,
    inFlight: () => inFlight.size,
    maxInFlight: () => maxInFlight,
    setHandler: (h: Handler) => (handler = h),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

type Retry = { initial_backoff_ms: number; max_backoff_ms: number; max_attempts: number };

function config(url: string, extra: Record<string, number>, retry: Retry = { initial_backoff_ms: 100, max_backoff_ms: 1000, max_attempts: 1000 }): string {
  return daemonYaml({ sinks: { out: { type: 'webhook', url, ...extra, batch: { max_events: 100, max_wait_ms: 20 }, retry } } });
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return Math.round(kb / 1024);
}

t.test('a receiver answering 410: every event dead-lettered with WEBHOOK_HTTP_410, the status and a body excerpt, no retry', async (t) => {
  const rx = await receiver((_id, _req, res) => res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'endpoint removed', pad: 'z'.repeat(10_000) })));
  t.teardown(() => rx.close());
  const daemon = await startDaemon({ config: config(rx.url, { timeout_ms: 5000 }) });
  t.teardown(() => daemon.stop());
  const statuses = await postMany(daemon.url, Array.from({ length: 50 }, (_, i) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`gone-${i % 5}`, Math.floor(i / 5) + 1) })), 8);
  t.equal(statuses.filter((s) => s === 200).length, 50);
  const rows = await waitFor(() => deadLetters(daemon.dir, { sink: 'out' }), (r) => r.length >= 50, 60_000, 200);
  t.equal(rows.length, 50, 'all 50 events dead-lettered');
  t.ok(rows.every((r) => r.error_code === 'WEBHOOK_HTTP_410'), 'code WEBHOOK_HTTP_410');
  t.ok(rows.every((r) => r.error.startsWith('HTTP 410 from http://127.0.0.1:') && r.error.includes('endpoint removed')), 'message has the status and a body excerpt');
  t.ok(rows.every((r) => r.error.length < 1000), `excerpt bounded (${rows[0]!.error.length} chars)`);
  // Each conversation's first event was sent (and refused); the later ones were held back, then sent on their own turn.
  t.equal(rx.requests.length, 50, 'each event sent once: a fatal answer is not retried');
  t.equal(new Set(rx.requests.map((r) => r.id)).size, 50);
  t.ok(daemon.logs.filter((l) => l.code === 'EVENT_DEAD_LETTERED').length >= 50, 'dead letters logged by the host');
});

t.test('a receiver answering 429 with Retry-After: 2: the sink waits at least 2 s, then delivers with the same webhook-id', async (t) => {
  const seen = new Map<string, number>();
  const rx = await receiver((id, _req, res) => {
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    if (n === 1) res.writeHead(429, { 'retry-after': '2' }).end('slow down');
    else res.writeHead(200).end();
  });
  t.teardown(() => rx.close());
  const daemon = await startDaemon({ config: config(rx.url, { timeout_ms: 5000 }, { initial_backoff_ms: 50, max_backoff_ms: 100, max_attempts: 100 }) });
  t.teardown(() => daemon.stop());
  await postMany(daemon.url, [1, 2, 3].map((seq) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage('throttled', seq) })), 1);
  await waitFor(() => [...seen.values()].filter((n) => n >= 2).length, (n) => n >= 3, 60_000, 100);
  for (const id of seen.keys()) {
    const times = rx.requests.filter((r) => r.id === id).map((r) => r.at);
    t.ok(times[1]! - times[0]! >= 1990, `${id.slice(0, 8)}: retried ${times[1]! - times[0]!} ms after the 429 (backoff alone would be ≤ 100 ms)`);
  }
  const retry = daemon.logs.find((l) => l.code === 'SINK_WRITE_RETRY' && l.errorCode === 'WEBHOOK_HTTP_429');
  t.ok(retry && (retry.retryInMs as number) >= 2000, `host scheduled the retry in ${retry?.retryInMs} ms`);
  t.equal(deadLetters(daemon.dir, { sink: 'out' }).length, 0);
});

t.test('a receiver that never answers: timeouts and retries, bounded sockets and RSS; all delivered once it answers', async (t) => {
  const held: http.ServerResponse[] = [];
  const rx = await receiver((_id, _req, res) => {
    held.push(res); // never answered
  });
  t.teardown(() => rx.close());
  const maxConnections = 8;
  const daemon = await startDaemon({
    config: config(rx.url, { timeout_ms: 500, max_connections: maxConnections, write_timeout_ms: 10000 }, { initial_backoff_ms: 100, max_backoff_ms: 500, max_attempts: 100000 }),
  });
  t.teardown(() => daemon.stop());
  const pid = daemon.process.pid!;
  const total = 2000;
  const statuses = await postMany(daemon.url, Array.from({ length: total }, (_, i) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`hang-${i % 200}`, Math.floor(i / 200) + 1) })), 16);
  t.equal(statuses.filter((s) => s === 200).length, total);

  const samples: Array<{ s: number; sockets: number; inFlight: number; rssMb: number; requests: number }> = [];
  const started = Date.now();
  for (let s = 0; s <= 30; s += 2) {
    await new Promise((r) => setTimeout(r, Math.max(0, started + s * 1000 - Date.now())));
    samples.push({ s, sockets: rx.openSockets(), inFlight: rx.inFlight(), rssMb: rssMb(pid), requests: rx.requests.length });
  }
  for (const x of samples) t.comment(`t=${String(x.s).padStart(2)}s open sockets=${x.sockets} requests in flight=${x.inFlight} rss=${x.rssMb}MB requests so far=${x.requests}`);
  t.comment(`max open sockets on the receiver: ${rx.maxSockets()}, max requests in flight: ${rx.maxInFlight()}`);

  const timeouts = daemon.logs.filter((l) => l.code === 'SINK_WRITE_RETRY' && l.errorCode === 'WEBHOOK_TIMEOUT').length;
  t.ok(timeouts >= 10, `${timeouts} retries after WEBHOOK_TIMEOUT`);
  t.ok(samples.at(-1)!.requests > samples[1]!.requests, 'requests keep being retried');
  // What the sink guarantees: never more than max_connections requests in flight (see receiver()).
  t.ok(rx.maxInFlight() >= 1, 'requests were held open by the receiver');
  t.ok(rx.maxInFlight() <= maxConnections, `requests in flight: peak ${rx.maxInFlight()} ≤ max_connections ${maxConnections}`);
  // Sockets: a closing socket and its replacement may be counted at the same instant (see receiver()).
  t.ok(rx.maxSockets() <= 2 * maxConnections, `sockets bounded: peak ${rx.maxSockets()} ≤ 2 × max_connections (closing + replacement)`);
  const warm = samples.filter((x) => x.s >= 6).map((x) => x.rssMb);
  t.ok(Math.max(...warm) <= warm[0]! + 40, `no RSS growth after warm-up (${warm.join(', ')} MB)`);
  t.ok(Math.max(...warm) < 250, 'RSS bounded');
  t.equal(deadLetters(daemon.dir, { sink: 'out' }).length, 0, 'nothing dead-lettered');

  // The receiver comes back: every event arrives.
  rx.setHandler((_id, _req, res) => res.writeHead(204).end());
  for (const res of held.splice(0)) if (!res.destroyed) res.destroy();
  await waitFor(() => metric(daemon.url, 'im_bridge_events_delivered_total', { sink: 'out' }), (n) => n >= total, 120_000, 500);
  t.equal(new Set(rx.requests.map((r) => r.id)).size, total, `all ${total} events reached the receiver`);
});

/**
 * Faults, through the real daemon (dist/):
 * - Elasticsearch stopped for 30 s while callbacks keep coming: every event is indexed after it returns;
 * - the node answering 429, injected by a small HTTP proxy between the sink and Elasticsearch (the
 *   test node's write queue size cannot be changed at runtime): first whole `_bulk` requests refused
 *   with 429, then items of forwarded requests reported as 429; backoff, no loss, nothing dead-lettered.
 * This file stops the shared Elasticsearch; .taprc runs test files one at a time.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { daemonYaml, groupMessage, postMany, sleepUntil, startDaemon, waitFor } from '../../helpers/daemon.js';
import { elasticsearchUrl, requireService, serviceControl, uniqueName } from '../../helpers/services.js';

const ES = elasticsearchUrl();

async function es(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(ES + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

async function count(pattern: string): Promise<number> {
  try {
    await es('POST', `/${pattern}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
    return (await es('GET', `/${pattern}/_count?ignore_unavailable=true&allow_no_indices=true`)).count ?? 0;
  } catch {
    return -1;
  }
}

function config(nodes: string, prefix: string): string {
  return daemonYaml({
    sinks: {
      es: {
        type: 'elasticsearch',
        nodes: [nodes],
        index: `${prefix}-{{yyyy.MM.dd}}`,
        request_timeout_ms: 5000,
        template: { name: prefix, priority: 300, number_of_replicas: 0 },
        batch: { max_events: 500, max_wait_ms: 20 },
        retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000 },
        write_timeout_ms: 10000,
      },
    },
  });
}

/** The daemon's recent warnings and errors, for a failure message. */
function recentProblems(logs: Array<Record<string, unknown>>): string {
  return logs
    .filter((l) => typeof l.level === 'string' ? l.level !== 'info' : true)
    .slice(-15)
    .map((l) => JSON.stringify(l).slice(0, 400))
    .join('\n');
}

function messages(tag: string, from: number, n: number): Array<{ command: string; body: unknown }> {
  return Array.from({ length: n }, (_, k) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`@TGS#${tag}g${(from + k) % 20}`, from + k, `outage test ${from + k}`) }));
}

t.test('Elasticsearch down for 30 s: every event indexed after it returns', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const prefix = uniqueName('im-outage');
  const tag = prefix.replace(/-/g, '').slice(-10);
  const daemon = await startDaemon({ config: config(ES, prefix) });
  let stopped = false;
  t.teardown(async () => {
    if (stopped) await serviceControl('elasticsearch', 'start');
    await daemon.stop();
    await es('DELETE', `/${prefix}-*`);
    await es('DELETE', `/_index_template/${prefix}`);
  });
  await daemon.waitForLog('ES_TEMPLATE_INSTALLED', 60_000);

  const first = await postMany(daemon.url, messages(tag, 0, 2000), 16);
  t.equal(first.filter((s) => s === 200).length, 2000);
  await waitFor(() => count(`${prefix}-*`), (n) => n >= 2000, 120_000, 500);

  // Stop while callbacks are still arriving: some batches are in flight when the node goes away.
  const during = postMany(daemon.url, messages(tag, 2000, 3000), 4);
  await serviceControl('elasticsearch', 'stop');
  stopped = true;
  const downAt = Date.now();
  t.equal((await during).filter((s) => s === 200).length, 3000, 'callbacks acknowledged while Elasticsearch is down');
  const late = await postMany(daemon.url, messages(tag, 5000, 1000), 16);
  t.equal(late.filter((s) => s === 200).length, 1000);
  await daemon.waitForLog('SINK_WRITE_RETRY', 60_000);
  await sleepUntil(downAt + 30_000);
  t.ok(Date.now() - downAt >= 30_000, 'down for 30 s');
  await serviceControl('elasticsearch', 'start');
  stopped = false;

  await waitFor(() => count(`${prefix}-*`), (n) => n >= 6000, 180_000, 1000).catch(async (error: Error) => {
    const shards = await fetch(`${ES}/_cat/shards/${prefix}-*?v`).then((r) => r.text(), (e: Error) => e.message);
    throw new Error(`${error.message}\nshards:\n${shards}\ndaemon warnings:\n${recentProblems(daemon.logs)}`);
  });
  t.equal(await count(`${prefix}-*`), 6000, 'all 6,000 events indexed, none twice');
  t.equal(daemon.logs.filter((l) => l.code === 'EVENT_DEAD_LETTERED').length, 0, 'nothing dead-lettered');
  const retries = daemon.logs.filter((l) => l.code === 'SINK_WRITE_RETRY').map((l) => String(l.errorCode));
  t.ok(retries.length > 0, `retried ${retries.length} times: ${[...new Set(retries)].join(', ')}`);
  t.ok(daemon.logs.some((l) => l.code === 'SINK_RECOVERED'), 'the sink reports recovery');
});

t.test('429 from the node (injected by a proxy): backoff, no loss', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;
  const prefix = uniqueName('im-429');
  const tag = prefix.replace(/-/g, '').slice(-10);
  const target = new URL(ES);
  const REFUSE_WHOLE = 6; // first _bulk requests: 429 for the request
  const REFUSE_ITEMS = 6; // next _bulk requests: forwarded, every other item reported as 429
  let bulks = 0;
  let whole429 = 0;
  let item429 = 0;
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const isBulk = req.method === 'POST' && (req.url ?? '').split('?')[0]!.endsWith('/_bulk');
      const n = isBulk ? ++bulks : 0;
      if (isBulk && n <= REFUSE_WHOLE) {
        whole429++;
        res.writeHead(429, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
        res.end(JSON.stringify({ error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation (injected)' }, status: 429 }));
        return;
      }
      const headers = { ...req.headers };
      delete headers['accept-encoding'];
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
        const out: Buffer[] = [];
        r.on('data', (c: Buffer) => out.push(c));
        r.on('end', () => {
          let body = Buffer.concat(out);
          const h = { ...r.headers };
          if (isBulk && n <= REFUSE_WHOLE + REFUSE_ITEMS && r.statusCode === 200) {
            const parsed = JSON.parse(body.toString()) as { errors: boolean; items: Array<Record<string, { status: number; error?: unknown }>> };
            parsed.items.forEach((item, i) => {
              if (i % 2 === 1) {
                const op = Object.keys(item)[0]!;
                item[op] = { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of primary operation (injected)' } };
                item429++;
              }
            });
            parsed.errors = parsed.items.length > 1 || parsed.errors;
            body = Buffer.from(JSON.stringify(parsed));
            delete h['content-length'];
          }
          res.writeHead(r.statusCode ?? 502, h);
          res.end(body);
        });
      });
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as AddressInfo).port;
  const daemon = await startDaemon({ config: config(`http://127.0.0.1:${port}`, prefix) });
  t.teardown(async () => {
    await daemon.stop();
    proxy.close();
    await es('DELETE', `/${prefix}-*`);
    await es('DELETE', `/_index_template/${prefix}`);
  });
  const statuses = await postMany(daemon.url, messages(tag, 0, 4000), 16);
  t.equal(statuses.filter((s) => s === 200).length, 4000);
  await waitFor(() => count(`${prefix}-*`), (n) => n >= 4000, 180_000, 1000).catch((error: Error) => {
    throw new Error(`${error.message}\ndaemon warnings:\n${recentProblems(daemon.logs)}`);
  });
  t.equal(await count(`${prefix}-*`), 4000, 'all 4,000 events indexed');
  t.equal(whole429, REFUSE_WHOLE, 'whole requests refused with 429');
  t.ok(item429 > 0, `${item429} items refused with 429`);
  t.equal(daemon.logs.filter((l) => l.code === 'EVENT_DEAD_LETTERED').length, 0, 'nothing dead-lettered');
  const retries = daemon.logs.filter((l) => l.code === 'SINK_WRITE_RETRY');
  t.ok(retries.length >= REFUSE_WHOLE, `${retries.length} retries with backoff`);
  t.ok(retries.every((l) => l.errorCode === 'ES_REJECTED_EXECUTION_EXCEPTION'), 'all for 429');
  t.ok(retries.some((l) => Number(l.retryInMs) > 0), 'with a backoff delay');
});

// Issue #22 "every core": listen.threads runs several HTTP ingest threads on one port (SO_REUSEPORT)
// in one process, with one queue writer. Each test opens a new connection per request, so the
// kernel spreads them over the threads; the metrics say which thread answered.
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import t from 'tap';
import { CLI, freePort, groupMessage, readEvents, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';

const TOKEN = 'threads-token-1';
const config = (threads: number, token = TOKEN) => `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback, threads: ${threads} }
apps: [ { sdk_app_id: 1400000000, token: ${token} } ]
queue: { dir: ./queue }
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
routes: [ { name: all, match: { command: "*" }, to: [archive] } ]
`;

/** One POST on a connection of its own (agent: false): the kernel picks the thread per connection. */
function postFresh(port: number, body: string, token: string | undefined, command = 'Group.CallbackAfterSendMsg'): Promise<{ status: number; json: Record<string, unknown> }> {
  const query = new URLSearchParams({ SdkAppid: '1400000000', CallbackCommand: command, contenttype: 'json' });
  if (token !== undefined) {
    const time = String(Math.floor(Date.now() / 1000));
    query.set('Sign', createHash('sha256').update(token + time).digest('hex'));
    query.set('RequestTime', time);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/im/callback?${query}`, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

/** Counter values by label from the Prometheus text. */
function counter(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\} ([0-9.e+]+)$`, 'gm');
  for (const m of text.matchAll(re)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
  return out;
}

t.test('three threads: every good callback delivered once, a hostile one refused alone, all threads used, metrics summed', async (t) => {
  const daemon = await startDaemon({ config: config(3) });
  t.teardown(() => daemon.stop());
  const started = await daemon.waitForLog('BRIDGE_STARTED');
  t.equal(started.threads, 3, 'BRIDGE_STARTED names the thread count');

  const good = Array.from({ length: 300 }, (_, i) => JSON.stringify(groupMessage('@TGS#threads', i + 1)));
  // A duplicate key (poison among good ones), and a forged signature.
  const hostile = '{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#threads","GroupId":"@TGS#other","MsgSeq":9999}';
  const results = (await inBatches([...good.slice(0, 150), hostile, ...good.slice(150)], 24, (body) => postFresh(daemon.port, body, TOKEN))) as Array<{ status: number; json: Record<string, unknown> }>;
  const forged = await postFresh(daemon.port, good[0]!, 'not-the-token');

  const poison = results[150]!;
  t.equal(poison.status, 400, 'the hostile body is refused');
  t.match(poison.json.ErrorInfo, /^BODY_DUPLICATE_KEY: /, 'with its code');
  t.equal(forged.status, 401, 'a forged signature is refused');
  const goodResults = results.filter((_, i) => i !== 150);
  t.same(goodResults.filter((r) => r.status !== 200 || r.json.ActionStatus !== 'OK'), [], 'every good callback is answered OK');

  const file = path.join(daemon.dir, 'events.ndjson');
  const events = await waitFor(() => readEvents(file), (e) => e.length >= 300);
  t.equal(events.length, 300, 'the file sink has the 300 good events');
  t.equal(new Set(events.map((e) => e.id)).size, 300, 'each once');
  t.same([...new Set(events.map((e) => e.data.seq))].sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i + 1), 'all of them, nothing of the hostile body');

  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  const perThread = counter(metrics, 'im_bridge_ingest_thread_requests_total', 'thread');
  t.same([...perThread.keys()].sort(), ['0', '1', '2'], `requests per thread: ${JSON.stringify(Object.fromEntries(perThread))}`);
  t.ok([...perThread.values()].every((n) => n > 0), 'every thread answered some');
  t.equal([...perThread.values()].reduce((a, b) => a + b, 0), 302, 'and together all 302');
  const byStatus = counter(metrics, 'im_bridge_requests_total', 'status');
  t.equal(byStatus.get('200'), 300, 'im_bridge_requests_total sums the threads: 300 × 200');
  t.equal(byStatus.get('400'), 1, '1 × 400');
  t.equal(byStatus.get('401'), 1, '1 × 401');
  await waitFor(async () => counter(await (await fetch(`${daemon.url}/metrics`)).text(), 'im_bridge_requests_quarantined_total', 'x'), () => true);
  const quarantined = /^im_bridge_requests_quarantined_total ([0-9]+)$/m.exec(await (await fetch(`${daemon.url}/metrics`)).text());
  t.equal(Number(quarantined?.[1]), 1, 'the hostile body was quarantined through the main thread\'s queue');
  t.ok(daemon.logs.some((l) => l.code === 'BODY_DUPLICATE_KEY'), 'its refusal is logged (by whichever thread took it, through the main logger)');

  // /readyz on the callback port, asked of every thread: the main thread's report.
  const ready = await Promise.all(Array.from({ length: 12 }, () => fetch(`${daemon.url}/readyz`, { headers: { connection: 'close' } }).then((r) => r.json() as Promise<Record<string, unknown>>)));
  t.ok(ready.every((r) => r.ready === true && typeof r.sinks === 'object'), 'every thread answers /readyz with the full report');
});

t.test('a reload reaches every thread: the new token is accepted and the old one refused on all of them', async (t) => {
  const daemon = await startDaemon({ config: config(2) });
  t.teardown(() => daemon.stop());
  fs.writeFileSync(daemon.configFile, config(2, 'threads-token-2').replaceAll('${PORT}', String(daemon.port)));
  const reload = spawnSync(process.execPath, [CLI, 'reload', '--config', daemon.configFile], { cwd: daemon.dir, encoding: 'utf8' });
  t.equal(reload.status, 0, `reload: ${reload.stdout}${reload.stderr}`);
  const bodies = Array.from({ length: 40 }, (_, i) => JSON.stringify(groupMessage('@TGS#reload', i + 1)));
  const fresh = (await inBatches(bodies, 20, (b) => postFresh(daemon.port, b, 'threads-token-2'))) as Array<{ status: number }>;
  t.same(fresh.map((r) => r.status), bodies.map(() => 200), 'the new token is accepted on every connection');
  const stale = (await inBatches(bodies, 20, (b) => postFresh(daemon.port, b, TOKEN))) as Array<{ status: number }>;
  t.same(stale.map((r) => r.status), bodies.map(() => 401), 'the old one is refused on every connection');
  const perThread = counter(await (await fetch(`${daemon.url}/metrics`)).text(), 'im_bridge_ingest_thread_requests_total', 'thread');
  t.ok((perThread.get('0') ?? 0) > 0 && (perThread.get('1') ?? 0) > 0, `both threads took part: ${JSON.stringify(Object.fromEntries(perThread))}`);
});

t.test('SIGTERM during load: exit 0, every acknowledged event in the sink', async (t) => {
  const daemon = await startDaemon({ config: config(2) });
  const acked: number[] = [];
  let seq = 0;
  let stopping = false;
  const senders = Array.from({ length: 8 }, async () => {
    while (!stopping) {
      const n = ++seq;
      try {
        const r = await postFresh(daemon.port, JSON.stringify(groupMessage('@TGS#drain', n)), TOKEN);
        if (r.status === 200) acked.push(n);
      } catch {
        // Refused connections once the listeners are closed.
      }
    }
  });
  await waitFor(() => acked.length, (n) => n >= 200);
  const code = await daemon.stop(30_000);
  stopping = true;
  await Promise.all(senders);
  t.equal(code, 0, code === 0 ? 'exit 0' : `exit 0, got ${code}: ${daemon.stdout().slice(-3000)}`);
  const delivered = new Set(readEvents(path.join(daemon.dir, 'events.ndjson')).map((e) => e.data.seq as number));
  t.same(acked.filter((n) => !delivered.has(n)), [], `all ${acked.length} acknowledged events were delivered`);
  t.ok(daemon.logs.some((l) => l.code === 'BRIDGE_STOPPED'), 'BRIDGE_STOPPED');
});

t.test('a port another process holds: LISTEN_FAILED before any thread binds it', async (t) => {
  const port = await freePort();
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
  t.teardown(() => holder.close());
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'bridge.yaml'), config(2).replaceAll('${PORT}', String(port)));
  const run = spawnSync(process.execPath, [CLI, 'run', '--config', path.join(dir, 'bridge.yaml')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  t.not(run.status, 0, 'the daemon does not start');
  t.match(run.stdout + run.stderr, /LISTEN_FAILED/, 'and says why, with the code');
});

// Issue #11 acceptance: metrics add up under load, SIGTERM during a burst, SIGHUP reload, systemd unit.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { REPO_ROOT, groupMessage, postCallback, readEvents, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';

const base = (sinks: string, routes: string) => `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000, token: ops-token } ]
queue: { dir: ./queue }
sinks:
${sinks}
routes:
${routes}
shutdown_timeout_ms: 10000
`;

function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}
const sum = (m: Map<string, number>, prefix: string, filter = '') =>
  [...m].filter(([k]) => k.startsWith(prefix) && k.includes(filter)).reduce((a, [, v]) => a + v, 0);

t.test('metrics add up during load: requests = accepted + rejected; enqueued = delivered + queued + dead-lettered', async (t) => {
  const daemon = await startDaemon({
    config: base('  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }', '  - { name: all, match: { command: "*" }, to: [archive] }'),
  });
  t.teardown(() => daemon.stop());
  let running = true;
  let sent = 0;
  let accepted200 = 0;
  const workers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; running; i++) {
      const bad = i % 10 === 0;
      const answer = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', bad ? { GroupId: 'x', MsgBody: 'x' } : groupMessage(`@TGS#m${w}`, i), { token: bad && i % 20 === 0 ? 'wrong' : 'ops-token' });
      if (answer.status === 200) accepted200++;
      sent++;
    }
  });
  // Three snapshots during the load, each taken once traffic (accepted and rejected) has been
  // counted and has moved on since the previous one: spaced by requests, not by 700 ms sleeps.
  const scrape = async () => parseMetrics(await (await fetch(`${daemon.url}/metrics`)).text());
  const snapshots: Array<Map<string, number>> = [];
  for (let k = 0; k < 3; k++) {
    const previous = k === 0 ? 0 : sum(snapshots[k - 1]!, 'im_bridge_requests_total{');
    snapshots.push(
      await waitFor(
        scrape,
        (m) => sum(m, 'im_bridge_requests_total{') >= previous + 100 && sum(m, 'im_bridge_requests_total{', 'status="200"') > 0 && sum(m, 'im_bridge_requests_rejected_total{') > 0,
        60_000,
        200,
      ),
    );
  }
  running = false;
  await Promise.all(workers);
  for (const m of snapshots) {
    const requests = sum(m, 'im_bridge_requests_total{');
    const accepted = sum(m, 'im_bridge_requests_total{', 'status="200"');
    const rejected = sum(m, 'im_bridge_requests_rejected_total{');
    t.ok(requests > 0 && accepted > 0 && rejected > 0, `traffic seen (${requests})`);
    t.equal(requests, accepted + rejected, `requests ${requests} = accepted ${accepted} + rejected ${rejected}`);
  }
  await waitFor(() => readEvents(path.join(daemon.dir, 'events.ndjson')).length, (n) => n === accepted200, 60_000).catch(() => undefined);
  const final = parseMetrics(await (await fetch(`${daemon.url}/metrics`)).text());
  const enqueued = final.get('im_bridge_events_enqueued_total{sink="archive"}') ?? 0;
  const delivered = final.get('im_bridge_events_delivered_total{sink="archive"}') ?? 0;
  const queued = final.get('im_bridge_queue_depth_events{sink="archive"}') ?? 0;
  const dead = sum(final, 'im_bridge_events_dead_lettered_total{sink="archive"');
  t.equal(enqueued, delivered + queued + dead, `enqueued ${enqueued} = delivered ${delivered} + queued ${queued} + dead-lettered ${dead}`);
  t.equal(final.get('im_bridge_requests_total{command="Group.CallbackAfterSendMsg",status="200"}'), enqueued, 'every accepted callback was enqueued once');
  t.ok(final.has('im_bridge_ack_latency_seconds_count'), 'ack latency histogram');
  t.ok(final.has('im_bridge_sink_up{sink="archive"}'), 'sink health gauge');
  t.ok([...final.keys()].some((k) => k.startsWith('im_bridge_process_resident_memory_bytes')), 'process metrics');
});

t.test('SIGTERM during a burst: exit 0 in time, and after restart every acknowledged event is delivered', async (t) => {
  const dir = tempDir();
  const config = base('  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }', '  - { name: all, match: { command: "*" }, to: [archive] }');
  const daemon = await startDaemon({ config, dir });
  const acked = new Set<number>();
  let n = 0;
  let running = true;
  const workers = Array.from({ length: 16 }, async () => {
    while (running) {
      const seq = ++n;
      try {
        const answer = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage(`@TGS#term${seq % 4}`, seq), { token: 'ops-token' });
        if (answer.status === 200) acked.add(seq);
        else if (answer.status !== 503) t.fail(`unexpected status ${answer.status} while draining`);
      } catch {
        running = false; // the listener is closed
      }
    }
  });
  await waitFor(() => acked.size, (n) => n >= 300, 60_000, 20); // a burst is under way
  const started = Date.now();
  const code = await daemon.stop(15_000);
  const took = Date.now() - started;
  running = false;
  await Promise.all(workers);
  t.equal(code, 0, 'exit code 0');
  t.ok(took < 10_000 + 2000, `exited within shutdown_timeout_ms (${took} ms)`);
  const restarted = await startDaemon({ config, dir, port: daemon.port });
  t.teardown(() => restarted.stop());
  const events = await waitFor(() => readEvents(path.join(dir, 'events.ndjson')), (e) => [...acked].every((s) => e.some((x) => x.data.seq === s)), 60_000, 250);
  const seqs = new Set(events.map((e) => e.data.seq as number));
  t.same([...acked].filter((s) => !seqs.has(s)), [], `all ${acked.size} acknowledged events delivered`);
  t.equal(events.length, seqs.size, 'no duplicates after a graceful restart');
});

t.test('SIGHUP: a new route and sink apply under load without a failed request; a broken config changes nothing', async (t) => {
  const sinkA = '  a: { type: file, path: ./a.ndjson, batch: { max_wait_ms: 5 } }';
  const routeA = '  - { name: to-a, match: { command: "*" }, to: [a] }';
  const daemon = await startDaemon({ config: base(sinkA, routeA) });
  t.teardown(() => daemon.stop());
  let running = true;
  const failures: number[] = [];
  let seq = 0;
  let answered = 0;
  const workers = Array.from({ length: 8 }, async () => {
    while (running) {
      const answer = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#hup', ++seq), { token: 'ops-token' });
      if (answer.status !== 200) failures.push(answer.status);
      answered++;
    }
  });
  // "Under load": wait for answered requests, not for fixed sleeps (a busy machine may answer none in 500 ms).
  const moreAnswers = (n: number) => {
    const from = answered;
    return waitFor(() => answered, (a) => a >= from + n, 60_000, 20);
  };
  await moreAnswers(50);
  fs.writeFileSync(
    daemon.configFile,
    base(`${sinkA}\n  b: { type: file, path: ./b.ndjson, batch: { max_wait_ms: 5 } }`, `${routeA}\n  - { name: to-b, match: { command: "Group.*" }, to: [b] }`).replace('${PORT}', String(daemon.port)),
  );
  daemon.process.kill('SIGHUP');
  await daemon.waitForLog('CONFIG_RELOADED', 60_000);
  const readyz = async () => (await (await fetch(`${daemon.url}/readyz`)).json()) as { generation: number; sinks: Record<string, unknown> };
  const ready = await waitFor(readyz, (r) => r.generation === 2 && Boolean(r.sinks.b), 60_000, 100).catch(readyz);
  t.equal(ready.generation, 2, '/readyz reports generation 2');
  t.ok(ready.sinks.b, 'the new sink runs');
  // Events flow to the new sink while the load goes on (checked below, once the load has stopped).
  await waitFor(() => readEvents(path.join(daemon.dir, 'b.ndjson')).length, (n) => n > 0, 60_000, 100);
  await moreAnswers(50);

  fs.writeFileSync(daemon.configFile, 'apps: [ { sdk_app_id: 1400000000 } ]\nsinks:\n  a: { type: file, path: ./a.ndjson, colour: blue }\n');
  daemon.process.kill('SIGHUP');
  const refused = await daemon.waitForLog('CONFIG_RELOAD_REJECTED', 60_000);
  t.equal(refused.line, 3, 'the log names the line');
  t.match(String(refused.err), /bridge\.yaml:3:\d+: sinks\.a\.colour: unknown key/);
  await moreAnswers(50); // requests go on being answered after the rejected reload
  running = false;
  await Promise.all(workers);
  t.same(failures, [], `no failed request during reloads (${seq} sent)`);
  const after = (await (await fetch(`${daemon.url}/readyz`)).json()) as { generation: number };
  t.equal(after.generation, 2, 'a broken config changes nothing');
  const b = await waitFor(() => readEvents(path.join(daemon.dir, 'b.ndjson')), (e) => e.length > 0);
  t.ok(b.length > 0, 'events flow to the new sink');
  const a = await waitFor(() => readEvents(path.join(daemon.dir, 'a.ndjson')), (e) => e.length === seq, 60_000);
  t.equal(a.length, seq, 'the old sink got every event across the reloads');
});

t.test('systemd unit passes systemd-analyze verify', async (t) => {
  const which = spawnSync('systemd-analyze', ['--version']);
  if (which.error) {
    if (process.env.CI === 'true') t.fail('systemd-analyze is not installed');
    else t.plan(0, 'systemd-analyze is not installed');
    return;
  }
  const run = spawnSync('systemd-analyze', ['verify', path.join(REPO_ROOT, 'config/systemd/im-bridge.service')], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  t.equal(run.stderr.trim(), '', 'no warnings');
});

/**
 * Every byte on disk counts (issue 19), through the real daemon on a small tmpfs (a plain temporary
 * directory where tmpfs cannot be mounted): 10,000 quarantinable requests and 10,000 unmatched events
 * stay within queue.quarantine_max_bytes and queue.dead_letter_max_bytes; acknowledged dead letters are
 * never evicted, quarantined requests are (counted); once the dead-letter budget is full, callbacks get
 * a truthful 503 QUEUE_FULL_DEAD_LETTERS and /readyz agrees; `dlq purge` brings ingest back.
 * And /readyz turns unready before the queue refuses typical callbacks at max_bytes.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CLI, groupMessage, postCallback, postMany, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';
import { metric } from '../helpers/observe.js';

const MiB = 1024 * 1024;

/** A tmpfs of `sizeMb` when this process may mount one, else a plain temporary directory. */
function smallDisk(t: { teardown(fn: () => void): void }, sizeMb: number): { dir: string; tmpfs: boolean } {
  const dir = tempDir('im-bridge-budget-');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir]).status === 0;
  t.teardown(() => {
    if (mounted) spawnSync('umount', ['-l', dir]);
  });
  return { dir, tmpfs: mounted };
}

function duBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? duBytes(p) : fs.statSync(p).size;
  }
  return total;
}

async function readyz(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: await res.json() };
}

t.test('10,000 quarantinable requests and 10,000 unmatched events: disk within budgets, truthful 503, /readyz agrees, purge recovers', async (t) => {
  const disk = smallDisk(t, 160);
  t.comment(disk.tmpfs ? `tmpfs of 160 MiB at ${disk.dir}` : `no tmpfs (not permitted here): plain directory ${disk.dir}`);
  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue, max_bytes: ${8 * MiB}, dead_letter_max_bytes: ${4 * MiB}, quarantine_max_bytes: ${1 * MiB}, min_free_bytes: ${8 * MiB} }
log: { level: info }
sinks:
  out: { type: file, path: \${DIR}/events.ndjson }
routes:
  - { name: groups, match: { command: "Group.*" }, to: [out] }
`;
  const daemon = await startDaemon({ config, dir: disk.dir });
  t.teardown(() => daemon.stop());
  const pad = 'x'.repeat(2000);

  // 10 KB each: the ~50/s the quarantine keeps exceed its 1 MiB bound within seconds.
  const bigPad = 'z'.repeat(10_000);
  const invalid = Array.from({ length: 10_000 }, (_, i) => ({ command: 'Group.CallbackAfterSendMsg', body: { ...groupMessage('@TGS#bad', 1), MsgSeq: `not a number ${i}`, Pad: bigPad } }));
  const invalidStatuses = await postMany(daemon.url, invalid, 32);
  t.equal(invalidStatuses.filter((s) => s === 400).length, 10_000, '10,000 × 400');

  const unmatched = Array.from({ length: 10_000 }, (_, i) => ({ command: `Junk.Cmd${i % 50}`, body: { Pad: pad, n: i } }));
  const unmatchedStatuses = await postMany(daemon.url, unmatched, 32);
  const accepted = unmatchedStatuses.filter((s) => s === 200).length;
  const refused = unmatchedStatuses.filter((s) => s === 503).length;
  t.equal(accepted + refused, 10_000, `unmatched: ${accepted} × 200 (kept as dead letters), ${refused} × 503`);
  t.ok(refused > 0, 'the dead-letter budget filled up');
  const unmatchedLines = daemon.logs.filter((l) => l.code === 'EVENT_UNMATCHED_DEAD_LETTERED').length;
  t.ok(unmatchedLines >= 1 && unmatchedLines <= 200, `${accepted} unmatched events, ${unmatchedLines} log lines (aggregated per second, not one per event)`);

  // A real callback now: a truthful 503 that says why, and /readyz agrees.
  const real = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#real', 1));
  t.equal(real.status, 503);
  t.match(String(real.json?.ErrorInfo), /QUEUE_FULL_DEAD_LETTERS: dead-letter store is full/);
  const ready = await readyz(daemon.url);
  t.equal(ready.status, 503, '/readyz agrees');
  t.equal(ready.body.queue.code, 'QUEUE_FULL_DEAD_LETTERS');

  const stats = spawnSync(process.execPath, [CLI, 'queue', 'stats', '--config', daemon.configFile], { encoding: 'utf8' });
  t.comment(stats.stdout.trim());
  const dead = Number(/dead letters: (\d+) event\(s\), (\d+) bytes/.exec(stats.stdout)?.[2]);
  const quarantinedBytes = Number(/quarantined requests: \d+, (\d+) bytes/.exec(stats.stdout)?.[1]);
  t.ok(dead <= 4 * MiB + 64 * 4096, `dead-letter bytes ${dead} within the 4 MiB budget (+ one batch)`);
  t.ok(quarantinedBytes <= 1 * MiB, `quarantined bytes ${quarantinedBytes} within the 1 MiB bound`);
  t.equal(Number(/dead letters: (\d+)/.exec(stats.stdout)?.[1]), accepted, 'every acknowledged unmatched event is kept (none evicted)');
  const evicted = await waitFor(() => metric(daemon.url, 'im_bridge_requests_quarantine_evicted_total'), (n) => n > 0, 30_000, 500);
  t.ok(evicted > 0, `${evicted} quarantined requests evicted, counted`);
  t.ok(daemon.logs.some((l) => l.code === 'QUARANTINE_EVICTED'), 'and logged');
  t.equal(await metric(daemon.url, 'im_bridge_dead_letters_stored', { kind: 'event' }), accepted, 'the gauge shows the kept dead letters');
  const used = duBytes(path.join(disk.dir, 'queue'));
  t.ok(used <= (8 + 4 + 1) * MiB + 24 * MiB, `queue directory ${(used / MiB).toFixed(1)} MiB ≤ budgets (13 MiB) + WAL slack (24 MiB)`);
  t.notOk(daemon.logs.some((l) => String(l.reason ?? '').includes('QUEUE_DISK_FULL')), 'the budgets hit before the disk did');

  // An operator purges: ingest comes back by itself.
  const purge = spawnSync(process.execPath, [CLI, 'dlq', 'purge', '--all', '--config', daemon.configFile], { encoding: 'utf8' });
  t.equal(purge.status, 0, purge.stderr);
  await waitFor(() => readyz(daemon.url), (r) => r.status === 200, 30_000, 250);
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#real', 2))).status, 200, 'ingest accepts again');
});

t.test('/readyz turns unready before the queue refuses typical callbacks at max_bytes', async (t) => {
  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback, body_limit_bytes: ${256 * 1024} }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue, max_bytes: ${2 * MiB} }
log: { level: info }
sinks:
  stuck: { type: webhook, url: "http://127.0.0.1:9/nothing", retry: { max_attempts: 100000 } }
routes:
  - { name: all, match: { command: "*" }, to: [stuck] }
`;
  const daemon = await startDaemon({ config });
  t.teardown(() => daemon.stop());
  const text = 'y'.repeat(40 * 1024);
  let readyWhenRefused: number | undefined;
  let unreadyWhileAccepting = 0;
  for (let seq = 1; seq <= 200; seq++) {
    const before = (await readyz(daemon.url)).status;
    const res = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#fill', seq, text));
    if (res.status === 503) {
      t.match(String(res.json?.ErrorInfo), /QUEUE_FULL_BYTES/);
      readyWhenRefused = before;
      break;
    }
    t.equal(res.status, 200);
    if (before === 503) unreadyWhileAccepting++;
  }
  t.equal(readyWhenRefused, 503, '/readyz was already 503 when the first typical callback was refused');
  t.ok(unreadyWhileAccepting <= 8, `unready for the last ${unreadyWhileAccepting} callbacks that still fit (headroom of one 256 KiB body)`);
});

// Issue 25 "lost callbacks": through the real daemon (dist/), 1,000 group messages over 20 groups
// with 50 never delivered, and a restart in the middle: the gaps are reported with the right ranges
// on /readyz, /metrics, the log and `im-bridge gaps list`, and the state survives the restart.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { CLI, groupMessage, postMany, startDaemon, waitFor } from '../helpers/daemon.js';

const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
gaps: { grace_ms: 1500, flush_interval_ms: 100 }
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
routes: [ { name: all, match: { command: "*" }, to: [archive] } ]
`;

/** The 50 undelivered messages: a fixed, irregular pattern (single seqs and runs) in seqs 2..49. */
function dropped(): Set<string> {
  const out = new Set<string>();
  for (let i = 0; out.size < 50; i++) {
    const group = (i * 7) % 20;
    const seq = 2 + ((i * 13 + (i % 3)) % 48);
    out.add(`g${group}:${seq}`);
    if (i % 5 === 0 && seq < 49 && out.size < 50) out.add(`g${group}:${seq + 1}`);
  }
  return out;
}

function expectedRanges(missing: Set<string>) {
  const rows: Array<{ groupId: string; from: number; to: number }> = [];
  for (let g = 0; g < 20; g++) {
    for (let seq = 2; seq <= 49; seq++) {
      if (!missing.has(`g${g}:${seq}`)) continue;
      const last = rows.at(-1);
      if (last && last.groupId === `g${g}` && last.to === seq - 1) last.to = seq;
      else rows.push({ groupId: `g${g}`, from: seq, to: seq });
    }
  }
  return rows;
}

async function readyz(url: string): Promise<Record<string, any>> {
  return (await (await fetch(`${url}/readyz`)).json()) as Record<string, any>;
}

t.test('1,000 messages, 50 lost, a restart in the middle: gaps reported with the right ranges', async (t) => {
  const missing = dropped();
  t.equal(missing.size, 50);
  const items = (seqs: number[]) => {
    const out: Array<{ command: string; body: unknown }> = [];
    for (const seq of seqs) for (let g = 0; g < 20; g++) if (!missing.has(`g${g}:${seq}`)) out.push({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(`g${g}`, seq) });
    return out;
  };
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  let daemon = await startDaemon({ config });
  t.teardown(() => daemon.stop());
  let statuses = await postMany(daemon.url, items(range(1, 25)), 16);
  t.ok(statuses.every((s) => s === 200), 'first half accepted');
  daemon = await daemon.restart();
  t.match(daemon.logs.find((l) => l.code === 'GAPS_OPENED'), { conversations: 20 }, 'state read back at start');
  statuses = await postMany(daemon.url, items(range(26, 50)), 16);
  t.ok(statuses.every((s) => s === 200), 'second half accepted');
  t.equal(items(range(1, 50)).length, 950);

  const expected = expectedRanges(missing);
  const report = await waitFor(() => readyz(daemon.url), (r) => r.gaps?.missing === 50 && r.gaps?.pending === 0, 30_000);
  t.match(report.gaps, { enabled: true, openGaps: expected.length, missing: 50, conversations: 20 });
  t.equal(report.ready, true, 'gaps do not make the daemon unready');

  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  t.match(metrics, new RegExp(`^im_bridge_group_seq_missing_messages 50$`, 'm'));
  t.match(metrics, /^im_bridge_group_seq_gaps_total \d+$/m);
  const lines = daemon.logs.filter((l) => l.code === 'GROUP_SEQ_GAP');
  t.ok(lines.length > 0 && lines.every((l) => /^g\d+$/.test(String(l.groupId)) && Number(l.to) >= Number(l.from)), 'a log line per gap with group and range (rate-limited)');

  await waitFor(() => cliList(daemon.configFile), (r) => r.length === expected.length, 10_000);
  const listed = (await cliList(daemon.configFile)).map((r) => ({ groupId: r.groupId, from: r.from, to: r.to }));
  const order = (a: { groupId: string; from: number }, b: { groupId: string; from: number }) => Number(a.groupId.slice(1)) - Number(b.groupId.slice(1)) || a.from - b.from;
  t.same(listed.sort(order), expected.sort(order), 'gaps list: every range');
  const one = await cli(['gaps', 'list', '--config', daemon.configFile, '--group', expected[0]!.groupId]);
  t.equal(one.status, 0);
  t.match(one.stdout, new RegExp(`\\t${expected[0]!.groupId}\\t-\\t${expected[0]!.from}`));

  // The lost callbacks arrive late (Tencent's retry, a replay): the gaps close.
  const late = [...missing].map((k) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(k.split(':')[0]!, Number(k.split(':')[1])) }));
  statuses = await postMany(daemon.url, late, 8);
  t.ok(statuses.every((s) => s === 200), `late callbacks accepted (${JSON.stringify(statuses.filter((s) => s !== 200))} ${JSON.stringify(daemon.logs.filter((l) => l.level === 'error' || l.level === 'warn').slice(-5))})`);
  const closed = await waitFor(() => readyz(daemon.url), (r) => r.gaps?.missing === 0, 10_000);
  t.equal(closed.gaps.openGaps, 0);
  t.match(await (await fetch(`${daemon.url}/metrics`)).text(), /^im_bridge_group_seq_gaps_closed_seqs_total\{how="late_callback"\} 50$/m);
  await daemon.stop();
  t.same(await cliList(daemon.configFile), [], 'nothing open after the stop');
});

/**
 * The CLI, run without blocking this process. A spawnSync stalls the test's event loop for seconds
 * on a busy machine; a keep-alive connection the daemon closes meanwhile (uWS: idle 8–12 s) can then
 * be reused by fetch before it has seen the close, and the late callback fails with status 0.
 */
async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

async function cliList(configFile: string): Promise<Array<Record<string, any>>> {
  const r = await cli(['gaps', 'list', '--json', '--config', configFile]);
  if (r.status !== 0) throw new Error(`gaps list exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<Record<string, any>>;
}

// Issue 25: `im-bridge gaps backfill` by hand, against the REST simulator, with the daemon stopped;
// refused (exit 1) while the daemon holds the queue. The queued events reach the sink at the next start.
import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { CLI, groupMessage, postMany, readEvents, startDaemon, waitFor } from '../../helpers/daemon.js';
import { TencentRestSim, restMessageFor } from '../../helpers/tencent-rest-sim.js';

const APP = '1400000000';
const KEY = '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e';

/** Asynchronous: the simulator answers from this process, which must not block while the CLI runs. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, IM_SDK_SECRET: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

t.test('gaps backfill by hand: refused while the daemon runs, then fetches, queues and closes the gaps', async (t) => {
  const sim = new TencentRestSim({ sdkAppId: APP, secretKey: KEY, admins: ['administrator'] });
  const simUrl = await sim.start();
  t.teardown(() => sim.stop());
  const lost = new Set(['a:3', 'a:4', 'b:7', 'b:9']);
  const items: Array<{ command: string; body: unknown }> = [];
  for (let seq = 1; seq <= 10; seq++) {
    for (const g of ['a', 'b']) {
      const body = groupMessage(g, seq);
      sim.store(g, restMessageFor(body));
      if (!lost.has(`${g}:${seq}`)) items.push({ command: 'Group.CallbackAfterSendMsg', body });
    }
  }
  sim.delete('b', 9);
  const daemon = await startDaemon({
    env: { IM_SDK_SECRET: KEY },
    config: `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps:
  - sdk_app_id: ${APP}
    backfill: { identifier: administrator, secret_key: "\${IM_SDK_SECRET}", api_host: "${simUrl}", interval_ms: 3600000 }
queue: { dir: ./queue }
gaps: { grace_ms: 60000, flush_interval_ms: 100 }
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
routes: [ { name: all, match: { command: "*" }, to: [archive] } ]
`,
  });
  t.teardown(() => daemon.stop());
  t.ok((await postMany(daemon.url, items, 8)).every((s) => s === 200));
  await waitFor(() => readEvents(path.join(daemon.dir, 'events.ndjson')).length, (n) => n === 16);

  let r = await cli(['gaps', 'backfill', '--config', daemon.configFile]);
  t.equal(r.code, 1, 'refused while the daemon holds the queue');
  t.match(r.stderr, /holds .*queue.*backfills reported gaps .* by itself/);
  t.equal(sim.requests.length, 0);
  await daemon.stop();

  r = await cli(['gaps', 'list', '--pending', '--json', '--config', daemon.configFile]);
  t.same(JSON.parse(r.stdout).map((x: Record<string, unknown>) => [x.groupId, x.from, x.to, x.state]), [['a', 3, 4, 'pending'], ['b', 7, 7, 'pending'], ['b', 9, 9, 'pending']], 'still within grace');

  r = await cli(['gaps', 'backfill', '--json', '--group', 'b', '--config', daemon.configFile]);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { ranges: 2, backfilled: 1, placeholders: 1, failed: 0, stillMissing: 2 }, 'only group b; seq 9 deleted at Tencent');
  r = await cli(['gaps', 'backfill', '--config', daemon.configFile]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /1 range\(s\): 2 message\(s\) queued/);
  t.same(JSON.parse((await cli(['gaps', 'list', '--pending', '--json', '--config', daemon.configFile])).stdout), [], 'nothing open');

  const again = await daemon.restart();
  t.teardown(() => again.stop());
  const events = await waitFor(() => readEvents(path.join(again.dir, 'events.ndjson')), (e) => e.length === 19);
  const backfilled = events.filter((e) => e.imorigin === 'backfill').map((e) => `${e.data.conversation.groupId}:${e.data.seq}`).sort();
  t.same(backfilled, ['a:3', 'a:4', 'b:7'], 'delivered at the next start, marked');
  t.equal(new Set(events.map((e) => e.id)).size, 19);
});

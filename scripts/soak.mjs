// Soak test (`npm run soak`): a steady callback rate for SOAK_SECONDS (default 600) into a daemon
// whose sink flaps (down 30 s, up 30 s); samples RSS and open file descriptors; at the end checks
// that every acknowledged event was delivered. Prints figures and exits non-zero on loss or growth.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// `npm run soak -- --ingest` (issue 19): the ingest flood of test/e2e/hardening-ingest.test.ts at full
// size — 1,000 connections uploading 4 MiB slowly, half with a valid Sign, for 30 s — instead of the
// suite's smaller one. It asserts the RSS bound and that signed callbacks keep getting 200.
if (process.argv.includes('--ingest')) {
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync('npx', ['tap', '--grep=flood', '--reporter=tap', 'test/e2e/hardening-ingest.test.ts'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, HARDENING_FLOOD_CONNECTIONS: process.env.HARDENING_FLOOD_CONNECTIONS ?? '1000', HARDENING_FLOOD_SECONDS: process.env.HARDENING_FLOOD_SECONDS ?? '30' },
  });
  process.exit(run.status ?? 1);
}
const seconds = Number(process.env.SOAK_SECONDS ?? 600);
const rate = Number(process.env.SOAK_RATE ?? 500); // callbacks per second
const flapMs = Number(process.env.SOAK_FLAP_MS ?? 30_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-soak-'));
fs.mkdirSync(path.join(dir, 'control'));
const port = 20000 + Math.floor(Math.random() * 20000);
fs.writeFileSync(
  path.join(dir, 'bridge.yaml'),
  `listen: { host: 127.0.0.1, port: ${port}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000, token: soak } ]
queue: { dir: ./queue }
log: { level: warn }
sinks:
  flappy:
    type: plugin
    module: ${path.join(root, 'test/fixtures/plugins/switchable-sink.mjs')}
    path: ./events.ndjson
    control_dir: ./control
    retry: { initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 1000000 }
routes: [ { name: all, match: { command: "*" }, to: [flappy] } ]
`,
);
const daemon = spawn(process.execPath, [path.join(root, 'dist/src/cli.js'), 'run', '--config', path.join(dir, 'bridge.yaml')], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
const proc = (file) => fs.readFileSync(`/proc/${daemon.pid}/${file}`, 'utf8');
const sample = () => ({ rssMb: Number(/VmRSS:\s+(\d+)/.exec(proc('status'))[1]) / 1024, fds: fs.readdirSync(`/proc/${daemon.pid}/fd`).length });
const sign = (t) => `Sign=${cryptoHash('soak' + t)}&RequestTime=${t}`;
import { createHash } from 'node:crypto';
function cryptoHash(s) {
  return createHash('sha256').update(s).digest('hex');
}

await new Promise((r) => setTimeout(r, 2000));
const acked = new Set();
let sent = 0;
let refused = 0;
let seq = 0;
const samples = [];
const started = Date.now();
let down = false;
const flap = setInterval(() => {
  down = !down;
  if (down) fs.writeFileSync(path.join(dir, 'control/down'), '');
  else fs.rmSync(path.join(dir, 'control/down'), { force: true });
}, flapMs);
const sampler = setInterval(() => samples.push({ t: Math.round((Date.now() - started) / 1000), down, ...sample() }), 10_000);

const url = `http://127.0.0.1:${port}/im/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterSendMsg`;
while (Date.now() - started < seconds * 1000) {
  const tick = Date.now();
  const t = Math.floor(tick / 1000);
  const batch = [];
  for (let i = 0; i < rate / 10; i++) {
    const n = ++seq;
    const body = JSON.stringify({ GroupId: `@TGS#soak${n % 100}`, Type: 'Public', From_Account: 'u', MsgSeq: n, MsgTime: t, Random: n, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `soak ${n}` } }] });
    sent++;
    batch.push(
      fetch(`${url}&${sign(t)}`, { method: 'POST', body }).then(
        async (r) => {
          await r.text();
          if (r.status === 200) acked.add(n);
          else refused++;
        },
        () => refused++,
      ),
    );
  }
  await Promise.all(batch);
  await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
}
clearInterval(flap);
clearInterval(sampler);
fs.rmSync(path.join(dir, 'control/down'), { force: true });
const deadline = Date.now() + 120_000;
let delivered = new Set();
while (Date.now() < deadline) {
  delivered = new Set(
    fs
      .readFileSync(path.join(dir, 'events.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).data.seq),
  );
  if ([...acked].every((n) => delivered.has(n))) break;
  await new Promise((r) => setTimeout(r, 1000));
}
const lines = fs.readFileSync(path.join(dir, 'events.ndjson'), 'utf8').split('\n').filter(Boolean).length;
const lost = [...acked].filter((n) => !delivered.has(n)).length;
daemon.kill('SIGTERM');
const rss = samples.map((s) => s.rssMb);
const fds = samples.map((s) => s.fds);
const firstHalf = rss.slice(1, Math.ceil(rss.length / 2));
const secondHalf = rss.slice(Math.ceil(rss.length / 2));
const avg = (a) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
const report = {
  seconds,
  ratePerSecond: rate,
  flapSeconds: flapMs / 1000,
  sent,
  acked: acked.size,
  refused,
  delivered: delivered.size,
  lost,
  duplicateLines: lines - delivered.size,
  rssMb: { min: Math.min(...rss).toFixed(1), max: Math.max(...rss).toFixed(1), firstHalfAvg: avg(firstHalf).toFixed(1), secondHalfAvg: avg(secondHalf).toFixed(1) },
  fds: { min: Math.min(...fds), max: Math.max(...fds) },
  samples,
};
console.log(JSON.stringify(report, null, 2));
const grew = avg(secondHalf) - avg(firstHalf) > 50 || Math.max(...fds) - Math.min(...fds) > 50;
process.exit(lost === 0 && !grew ? 0 : 1);

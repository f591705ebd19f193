#!/usr/bin/env node
// im-bridge benchmark: `npm run bench` (builds, then runs this). Each case is a file in bench/cases/
// exporting { id, title, needs, run(ctx) } (see bench/README.md); this file only reads the flags, runs
// the selected cases in order, writes the results JSON (bench/results/) and prints the report
// (bench/lib/report.js). Same machine, same run, same payload mix, same concurrency for every case.
//
// Flags:  --cases=1,1u,1t,2,3,4,4h,2h,5,5t,F,Fk  run a subset (F, Fk: Apache Flume 1.11, bench/peers/flume)        --no-store    skip the queue-store benchmark
//         --cases=transform      only the transform micro-benchmark (seconds)   --no-transform  skip it
//         --profile              also run case 4 (and 5 if available) under `node --cpu-prof`, summarize
//         --sinks                also run bench/sinks/{kafka,nats,elasticsearch,webhook}.js
//         --scaling (= --cases=scale)    case 4 vs case 1 by connections (1/16/64/256) and body size
//         --backlog (= --cases=backlog)  RSS while 1 M events pile up behind a dead webhook sink, then drain
//         --threads 1,2,4 (= --cases=threads)  case 4 with listen.threads at each count (default 1,2)
//         (--scaling / --backlog / --threads alone run only themselves; with --cases=... they add to that selection)
//         --baseline <dir>       also run the daemon cases (4, 4h, 5, 5t) against the checkout <dir>
//                                (built, with node_modules), interleaved, and print both with the ratio
//         --repeat=N             run each numbered case N times (with --baseline: current, baseline, ×N)
// Env:    BENCH_SECONDS=10  BENCH_WARMUP=2  BENCH_CONNECTIONS=64  BENCH_MIX=...  BENCH_POOL=2000
//         KAFKA_BROKERS (default: test/services/.env)  BENCH_STORE_SECONDS=2
//         BENCH_SCALE_SECONDS=5  BENCH_SCALE_WARMUP=1  BENCH_SCALE_BIG_CONNECTIONS=16 (1 MB point)
//         BENCH_BACKLOG_EVENTS=1000000  BENCH_BACKLOG_CONNECTIONS=64  BENCH_BACKLOG_DRAIN_SECONDS=120 (0: no drain)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_APPS, cliOf, startDaemon } from './lib/daemon.js';
import { BROKERS, closeKafka, kafkaReachable } from './lib/kafka.js';
import { CONNECTIONS, MIX, PATH, POOL_SIZE, SECONDS, WARMUP, waitQuiet } from './lib/load.js';
import { buildPool, describePool, parseMix } from './lib/payloads.js';
import { comparison, fmt, notes, printReport, ratios } from './lib/report.js';
import { ROOT, gitInfo, killTracked } from './lib/util.js';

const args = process.argv.slice(2);
const flag = (name) => args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
const flagValue = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);

const CLASSIC = ['1', '1u', '1t', '2', '3', '4', '4h', '2h', '5', '5t', 'F', 'Fk'];
const CASES = new Set((flagValue('cases') ?? (flag('scaling') || flag('backlog') || flag('threads') ? '' : CLASSIC.join(','))).split(',').filter(Boolean));
if (flag('threads')) {
  CASES.add('threads');
  if (flagValue('threads')) process.env.BENCH_THREADS = flagValue('threads');
}
if (flag('scaling')) CASES.add('scale');
if (flag('backlog')) CASES.add('backlog');
const ANY_CLASSIC = CLASSIC.some((k) => CASES.has(k));
// The micro-benchmarks go with the numbered cases; transform also alone as --cases=transform.
if (!flag('no-store') && ANY_CLASSIC) CASES.add('store');
if (flag('no-store')) CASES.delete('store');
if (!flag('no-transform') && ANY_CLASSIC) CASES.add('transform');
if (flag('no-transform')) CASES.delete('transform');
if (flag('profile')) CASES.add('profile');
if (flag('sinks')) CASES.add('sinks');
const BASELINE = flagValue('baseline') && path.resolve(flagValue('baseline'));
const REPEAT = Math.max(1, Number(flagValue('repeat') ?? 1));
// The order cases run in (a numbered case may use an earlier one's result: 4h and 2h use 4's rate).
const ORDER = ['store', 'transform', '1', '1u', '1t', '2', '4', '4h', '2h', 'F', '3', '5', '5t', 'Fk', 'threads', 'scale', 'backlog', 'profile', 'sinks'];
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-'));
const log = (...a) => console.error('[bench]', ...a);

async function loadCases() {
  const dir = path.join(ROOT, 'bench/cases');
  const all = await Promise.all(fs.readdirSync(dir).filter((f) => f.endsWith('.js')).map(async (f) => (await import(path.join(dir, f))).default));
  const byId = Object.fromEntries(all.map((c) => [c.id, c]));
  return ORDER.filter((id) => CASES.has(id)).map((id) => byId[id]);
}

async function main() {
  for (const root of [ROOT, BASELINE].filter(Boolean)) if (!fs.existsSync(cliOf(root))) throw new Error(`${cliOf(root)} not found: build first (npm run build${root === ROOT ? '' : ` in ${root}`}, or npx tsc -p tsconfig.build.json --noEmitOnError false)`);
  const startedAt = new Date();
  const pool = buildPool(MIX ? parseMix(MIX) : undefined, POOL_SIZE);
  const cpus = os.cpus();
  const result = {
    bench: 'im-bridge',
    started_at: startedAt.toISOString(),
    git: gitInfo(),
    ...(BASELINE ? { baseline: { dir: BASELINE, git: gitInfo(BASELINE) } } : {}),
    node: process.version,
    machine: { cpu_model: cpus[0]?.model, cores: cpus.length, mem_mb: Math.round(os.totalmem() / 2 ** 20), loadavg_at_start: os.loadavg().map((x) => +x.toFixed(2)), tmpdir: os.tmpdir() },
    params: { seconds: SECONDS, warmup_seconds: WARMUP, connections: CONNECTIONS, pipelining: 1, signed: true, payload: describePool(pool), kafka_brokers: BROKERS, kafka_partitions: 6, ...(REPEAT > 1 ? { repeat: REPEAT } : {}) },
    notes: notes(CASES, cpus.length),
    cases: [],
  };
  const kafka = ['3', '5', '5t', 'Fk', 'profile'].some((k) => CASES.has(k)) ? await kafkaReachable() : { ok: false };
  const byCase = {};
  const trees = [{ tree: 'current', root: ROOT }, ...(BASELINE ? [{ tree: 'baseline', root: BASELINE }] : [])];
  const tagged = BASELINE || REPEAT > 1;
  const ctxFor = ({ tree, root }, rep = 1) => ({
    tree, root, rep, tmp: TMP, byCase, kafkaOk: kafka.ok,
    runId: `${startedAt.getTime().toString(36)}-${process.pid}`,
    suffix: tagged ? `-${tree[0]}${rep}` : '', // topics etc. of one run of a case
    daemon: (name, { sinks, queue, listen }, { profileDir } = {}) =>
      startDaemon({ root, dir: fs.mkdtempSync(path.join(TMP, `${name}-`)), config: { comment: 'written by bench/run.js', listen: { path: PATH, ...listen }, apps: BENCH_APPS, queue, sinks }, nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] }),
  });
  const runCase = async (c, ctx) => {
    log(`case ${c.id}${ctx.tree === 'baseline' ? ' (baseline)' : ''}: warm-up ${WARMUP}s, measure ${SECONDS}s, ${CONNECTIONS} connections`);
    let r;
    const idleBusy = await waitQuiet();
    try {
      r = c.needs.includes('kafka') && !kafka.ok ? { case: c.id, unavailable: true, reason: kafka.reason } : await c.run(ctx);
      if (r.machine) r.machine.busy_cores_before_case = idleBusy;
    } catch (e) {
      r = { case: c.id, unavailable: true, reason: e.message };
    }
    if (tagged) Object.assign(r, { tree: ctx.tree, rep: ctx.rep });
    const id = `${c.id}${ctx.tree === 'baseline' ? ' (baseline)' : ''}`;
    if (r.unavailable) log(`case ${id}: unavailable — ${r.reason.split('\n')[0]}`);
    else log(`case ${id}: ${fmt(r.requests_per_s)} req/s, p99 ${fmt(r.latency_ms.p99, 2)} ms, server ${fmt(r.server_cpu.cores, 2)} cores, loadgen ${fmt(r.loadgen_cpu.cores, 2)} cores${r.events_per_s ? `, ${fmt(r.events_per_s)} events/s` : ''}${r.loadgen_send_slip_ms ? `, load generator's own send delay p99 ${fmt(r.loadgen_send_slip_ms.p99, 2)} ms` : ''}`);
    return r;
  };

  for (const c of await loadCases()) {
    if (c.field) {
      if (c.id === 'profile') result.ratios = ratios(byCase);
      try {
        result[c.field] = await c.run(ctxFor(trees[0]));
      } catch (e) {
        result[c.field] = { failed: true, reason: e.message };
        log(`${c.id}: failed — ${e.message.split('\n')[0]}`);
      }
      continue;
    }
    const unmet = c.precondition?.(ctxFor(trees[0]));
    if (unmet) {
      byCase[c.id] = { case: c.id, unavailable: true, reason: unmet };
      continue;
    }
    // Interleaved: current, baseline, current, baseline… (only the daemon cases depend on the tree).
    const runs = [];
    for (let rep = 1; rep <= REPEAT; rep++) for (const t of c.needs.includes('daemon') ? trees : trees.slice(0, 1)) runs.push(await runCase(c, ctxFor(t, rep)));
    result.cases.push(...runs);
    const mine = runs.filter((r) => r.tree !== 'baseline');
    const ok = mine.filter((r) => !r.unavailable).sort((a, b) => a.requests_per_s - b.requests_per_s);
    byCase[c.id] = ok.length ? ok[Math.floor((ok.length - 1) / 2)] : mine[0];
  }
  result.ratios ??= ratios(byCase);
  if (BASELINE) result.comparison = comparison(result.cases.filter((r) => r.tree), { dir: BASELINE, commit: result.baseline.git.commit });

  const resultsDir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  printReport(result, { anyClassic: ANY_CLASSIC, file: path.relative(ROOT, file) });
}

async function cleanup() {
  killTracked();
  await closeKafka();
  fs.rmSync(TMP, { recursive: true, force: true });
}

process.once('SIGINT', () => cleanup().finally(() => process.exit(130)));
// `timeout` and CI send SIGTERM: kill the daemons too, or they keep running (and using CPU) after us.
process.once('SIGTERM', () => cleanup().finally(() => process.exit(143)));
main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(cleanup);

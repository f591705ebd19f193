#!/usr/bin/env node
// im-bridge benchmark: `npm run bench` (builds, then runs this). Same machine, same run, same payload
// mix (bench/lib/payloads.js, all requests signed), same concurrency for every case:
//   1 ceiling        bare hyper-express handler: read body, JSON.parse, answer OK        (child process)
//   2 naive-file     node:http, per request FileHandle.appendFile + fsync, then answer   (child process)
//   3 naive-kafka    node:http, per request await kafkajs producer.send(acks all)        (child process)
//   4 im-bridge      the real daemon (dist/src/cli.js) → durable queue → file sink
//   4h im-bridge     case 4 again, open loop at HALF of case 4's max rate → p99
//   5 im-bridge      the real daemon → kafka sink → real Kafka; rate until the last record is in the topic
//   5t im-bridge     case 5 with the sink's host key `thread: true` (kafkajs in a worker thread); info only
// plus the queue-store micro-benchmark (bench/lib/queue-store.js) and the transform micro-benchmark
// (bench/lib/transform.js: µs/event of three declarative steps at delivery). The load generator runs in its own
// process (bench/lib/loadgen.js). See bench/README.md.
//
// Flags:  --cases=1,2,3,4,4h,5,5t  run a subset        --no-store    skip the queue-store benchmark
//         --cases=transform      only the transform micro-benchmark (seconds)   --no-transform  skip it
//         --profile              also run case 4 (and 5 if available) under `node --cpu-prof`, summarize
//         --sinks                also run bench/{kafka,nats,elasticsearch,webhook}.mjs if present
//         --scaling (= --cases=scale)    case 4 vs case 1 by connections (1/16/64/256) and body size
//         --backlog (= --cases=backlog)  RSS while 1 M events pile up behind a dead webhook sink, then drain
//         (--scaling / --backlog alone run only themselves; with --cases=... they add to that selection)
// Env:    BENCH_SECONDS=10  BENCH_WARMUP=2  BENCH_CONNECTIONS=64  BENCH_MIX=...  BENCH_POOL=2000
//         KAFKA_BROKERS (default: test/services/.env)  BENCH_STORE_SECONDS=2
//         BENCH_SCALE_SECONDS=5  BENCH_SCALE_WARMUP=1  BENCH_SCALE_BIG_CONNECTIONS=16 (1 MB point)
//         BENCH_BACKLOG_EVENTS=1000000  BENCH_BACKLOG_CONNECTIONS=64  BENCH_BACKLOG_DRAIN_SECONDS=120 (0: no drain)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { Monitor, findPids, machineCpu, procCpu, procMem } from './lib/proc.js';
import { buildPool, describePool, parseMix, TOKEN, SDK_APP_ID } from './lib/payloads.js';
import { summarize } from './lib/cpuprofile.js';
import { ROOT, freePort, sleep, spawnNode, waitListening, stopChild, gitInfo, promSum, kafkaBrokers } from './lib/util.js';

const args = process.argv.slice(2);
const flag = (name) => args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
const flagValue = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const POOL_SIZE = Number(process.env.BENCH_POOL ?? 2000);
const MIX = process.env.BENCH_MIX ?? '';
const CLASSIC_CASES = ['1', '2', '3', '4', '4h', '5', '5t'];
// --scaling / --backlog on their own run only themselves; next to --cases=... they add to it.
const CASES = new Set((flagValue('cases') ?? (flag('scaling') || flag('backlog') ? '' : CLASSIC_CASES.join(','))).split(',').filter(Boolean));
if (flag('scaling')) CASES.add('scale');
if (flag('backlog')) CASES.add('backlog');
const ANY_CLASSIC = CLASSIC_CASES.some((k) => CASES.has(k));
const SCALE_SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 5);
const SCALE_WARMUP = Number(process.env.BENCH_SCALE_WARMUP ?? 1);
const SCALE_BIG_CONNECTIONS = Number(process.env.BENCH_SCALE_BIG_CONNECTIONS ?? 16);
const BACKLOG_EVENTS = Number(process.env.BENCH_BACKLOG_EVENTS ?? 1_000_000);
const BACKLOG_CONNECTIONS = Number(process.env.BENCH_BACKLOG_CONNECTIONS ?? 64);
const BACKLOG_DRAIN_SECONDS = Number(process.env.BENCH_BACKLOG_DRAIN_SECONDS ?? 120);
const PROFILE = flag('profile');
const SINKS = flag('sinks');
// The queue-store micro-benchmark goes with the numbered cases, not with a --scaling/--backlog-only run.
const STORE = !flag('no-store') && ANY_CLASSIC;
// The transform micro-benchmark is quick: it goes with the numbered cases, or alone as --cases=transform.
const TRANSFORM = !flag('no-transform') && (ANY_CLASSIC || CASES.has('transform'));
const BROKERS = kafkaBrokers();
const QUIET_CORES = Number(process.env.BENCH_QUIET_CORES ?? 0.3);
const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT ?? 60);
const PATH = '/im/callback';
const CLI = path.join(ROOT, 'dist/src/cli.js');
const LOADGEN = path.join(ROOT, 'bench/lib/loadgen.js');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-'));
const RUN_ID = `${Date.now().toString(36)}-${process.pid}`;

const log = (...a) => console.error('[bench]', ...a);
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Other processes on this 2-core machine (other engineers' benches, tsc, Elasticsearch...) skew
 * results. Before each case, wait (at most BENCH_QUIET_WAIT s) until the machine is nearly idle
 * (< BENCH_QUIET_CORES busy cores over 1 s); the busy level found is recorded either way.
 */
async function waitQuiet(maxWaitS = QUIET_WAIT_S) {
  const deadline = Date.now() + maxWaitS * 1000;
  let busy;
  let waited = false;
  for (;;) {
    const a = machineCpu();
    await sleep(1000);
    const b = machineCpu();
    busy = +((b.busy - a.busy) / ((b.total - a.total) / os.cpus().length)).toFixed(2);
    if (busy <= QUIET_CORES || Date.now() > deadline) break;
    if (!waited) log(`machine busy (${busy} cores used by other processes); waiting up to ${maxWaitS}s for it to calm down`);
    waited = true;
  }
  return busy;
}

// ---------------------------------------------------------------------------------------------
// Load run: spawn the load generator, watch server (+ loadgen, + broker) CPU/RSS over the window.

// connections/seconds/warmup default to the main cases' settings; payloadBytes, maxRequests, progressMs
// and onProgress serve --scaling and --backlog (see loadgen.js).
async function runLoad({ port, serverPid, mode = 'closed', rate, extraPids = {}, onMeasureStart, onMeasureEnd, connections = CONNECTIONS, seconds = SECONDS, warmup = WARMUP, payloadBytes, maxRequests, progressMs, stallSeconds, onProgress }) {
  const cfg = { url: `http://127.0.0.1:${port}`, path: PATH, mode, rate, connections, warmupSeconds: warmup, seconds, token: TOKEN, mix: MIX || undefined, poolSize: POOL_SIZE, payloadBytes, maxRequests, progressMs, stallSeconds };
  const gen = track(spawnNode([LOADGEN, JSON.stringify(cfg)]));
  const pids = [serverPid, gen.pid, ...Object.values(extraPids)];
  const monitor = new Monitor(pids);
  let result;
  let measureStartHook;
  let measureEndHook;
  const rl = readline.createInterface({ input: gen.stdout });
  rl.on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (msg.event === 'measure_start') {
      monitor.start();
      measureStartHook = onMeasureStart?.();
    } else if (msg.event === 'measure_end') {
      monitor.stopped = monitor.stop();
      measureEndHook = onMeasureEnd?.();
    } else if (msg.event === 'progress') onProgress?.(msg);
    else if (msg.event === 'result') result = msg;
  });
  const code = await gen.exited;
  if (code !== 0 || !result) throw new Error(`load generator failed (${code}):\n${gen.tail().slice(-3000)}`);
  const mon = monitor.stopped;
  const server = mon.perPid[serverPid];
  const loadgen = mon.perPid[gen.pid];
  const extras = Object.fromEntries(Object.entries(extraPids).map(([k, pid]) => [k, mon.perPid[pid]]));
  const accounted = (server.cpu_cores ?? 0) + (loadgen.cpu_cores ?? 0) + Object.values(extras).reduce((s, e) => s + (e.cpu_cores ?? 0), 0);
  return {
    load: result,
    server,
    loadgen: { ...loadgen, cpu_cores_self_reported: result.loadgen_cpu.cores },
    extras,
    machine: { busy_cores: mon.machine_busy_cores, other_cores: +Math.max(0, mon.machine_busy_cores - accounted).toFixed(2), cores: os.cpus().length },
    hooks: { start: await measureStartHook, end: await measureEndHook },
  };
}

function summarizeCase(name, label, r, extra = {}) {
  const l = r.load;
  const serverCpuS = (r.server.cpu_user_s ?? 0) + (r.server.cpu_sys_s ?? 0);
  return {
    case: name,
    label,
    requests_per_s: l.requests_per_s,
    mb_per_s: l.mb_per_s,
    avg_body_bytes: l.avg_body_bytes,
    latency_ms: l.latency_ms,
    ok: l.ok,
    failed: l.non200 + l.errors,
    statuses: l.statuses,
    error_samples: l.error_samples,
    server_cpu: { user_s: r.server.cpu_user_s, sys_s: r.server.cpu_sys_s, cores: r.server.cpu_cores, us_per_request: l.ok ? Math.round((serverCpuS * 1e6) / l.ok) : null },
    server_peak_rss_mb: r.server.peak_rss_hwm_mb,
    server_max_sampled_rss_mb: r.server.rss_max_sampled_mb,
    loadgen_cpu: { user_s: r.loadgen.cpu_user_s, sys_s: r.loadgen.cpu_sys_s, cores: r.loadgen.cpu_cores },
    loadgen_peak_rss_mb: r.loadgen.peak_rss_hwm_mb,
    others_cpu_cores: Object.fromEntries(Object.entries(r.extras).map(([k, v]) => [k, v?.cpu_cores])),
    machine: r.machine,
    loadgen_send_slip_ms: l.send_slip_ms,
    params: { mode: l.mode, connections: l.connections, target_rate: l.target_rate, warmup_s: l.warmup_s ?? WARMUP, measured_s: l.window_s },
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// Servers

async function startPlainServer(script, extraArgs) {
  const port = await freePort();
  const child = track(spawnNode([path.join(ROOT, 'bench/lib/servers', script), String(port), ...extraArgs]));
  await waitListening(child, port);
  return { port, child };
}

// queueExtra: more keys of the queue block, e.g. "max_events: 5000000" for --backlog.
function daemonConfig(port, dir, sinkYaml, queueExtra = '') {
  return `# written by bench/run.js
listen: { host: 127.0.0.1, port: ${port}, path: ${PATH} }
apps:
  - sdk_app_id: ${SDK_APP_ID}
    token: "${TOKEN}"
queue: { dir: ${dir}/queue${queueExtra ? `, ${queueExtra}` : ''} }
sinks:
${sinkYaml}
routes:
  - { name: all, match: { command: "*" }, to: [out] }
`;
}

async function startDaemon(name, sinkYaml, { profileDir, queueExtra } = {}) {
  const dir = fs.mkdtempSync(path.join(TMP, `${name}-`));
  const port = await freePort();
  const configFile = path.join(dir, 'bridge.yaml');
  fs.writeFileSync(configFile, daemonConfig(port, dir, sinkYaml, queueExtra));
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = track(spawnNode([...nodeArgs, CLI, 'run', '--config', configFile], { cwd: dir }));
  await waitListening(child, port);
  return { port, child, dir };
}

async function metrics(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return {
      enqueued: promSum(text, 'im_bridge_events_enqueued_total'),
      delivered: promSum(text, 'im_bridge_events_delivered_total'),
      dead_lettered: promSum(text, 'im_bridge_events_dead_lettered_total'),
      queue_depth: promSum(text, 'im_bridge_queue_depth_events'),
      rejected: promSum(text, 'im_bridge_requests_rejected_total'),
    };
  } catch (e) {
    return { error: e.message };
  }
}

const fileSinkYaml = (dir) => `  out:\n    type: file\n    path: ${dir}/events.ndjson\n`;
const kafkaSinkYaml = (topic, thread = false) => `  out:\n    type: kafka\n    brokers: [${BROKERS.join(', ')}]\n    topic: ${topic}\n${thread ? '    thread: true\n' : ''}`;

// ---------------------------------------------------------------------------------------------
// Kafka helpers

let kafka;
let admin;
async function kafkaAdmin() {
  if (admin) return admin;
  kafka = new Kafka({ clientId: 'im-bridge-bench', brokers: BROKERS, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 2 } });
  const a = kafka.admin();
  await a.connect();
  admin = a;
  return admin;
}
const createdTopics = [];
async function createTopic(name) {
  await (await kafkaAdmin()).createTopics({ topics: [{ topic: name, numPartitions: 6 }], waitForLeaders: true });
  createdTopics.push(name);
}
async function topicCount(topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}
function brokerPid() {
  return findPids(/kafka\.Kafka/)[0];
}

// ---------------------------------------------------------------------------------------------
// Cases

async function case1() {
  const { port, child } = await startPlainServer('ceiling.js', [PATH]);
  try {
    return summarizeCase('1', 'ceiling: bare hyper-express (read body, JSON.parse, OK)', await runLoad({ port, serverPid: child.pid }));
  } finally {
    await stopChild(child);
  }
}

async function case2() {
  const file = path.join(TMP, 'naive-file.ndjson');
  const { port, child } = await startPlainServer('naive-file.js', [file]);
  try {
    return summarizeCase('2', 'naive: node:http + appendFile + fsync per request', await runLoad({ port, serverPid: child.pid }));
  } finally {
    await stopChild(child);
    fs.rmSync(file, { force: true });
  }
}

async function case3() {
  const topic = `bench-naive-${RUN_ID}`;
  await createTopic(topic);
  const { port, child } = await startPlainServer('naive-kafka.js', [BROKERS.join(','), topic]);
  try {
    const broker = brokerPid();
    const r = await runLoad({ port, serverPid: child.pid, extraPids: broker ? { kafka_broker: broker } : {} });
    return summarizeCase('3', 'naive broker: node:http + await producer.send(acks all) per request', r, { events_per_s: r.load.requests_per_s, topic });
  } finally {
    await stopChild(child);
  }
}

async function case4({ profileDir } = {}) {
  const d = await startDaemon('file', fileSinkYaml(TMP + '/file-sink'), { profileDir });
  try {
    const r = await runLoad({ port: d.port, serverPid: d.child.pid, onMeasureEnd: () => metrics(d.port) });
    return summarizeCase('4', 'im-bridge: durable queue → file sink', r, { daemon_metrics_at_end: r.hooks.end });
  } finally {
    await stopChild(d.child);
    fs.rmSync(TMP + '/file-sink', { recursive: true, force: true });
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
}

async function case4h(maxRate) {
  const rate = Math.max(1, Math.floor(maxRate / 2));
  const d = await startDaemon('file-half', fileSinkYaml(TMP + '/file-sink-half'));
  try {
    const r = await runLoad({ port: d.port, serverPid: d.child.pid, mode: 'open', rate, onMeasureEnd: () => metrics(d.port) });
    return summarizeCase('4h', `im-bridge → file sink, open loop at half max (${rate} req/s)`, r, { daemon_metrics_at_end: r.hooks.end });
  } finally {
    await stopChild(d.child);
    fs.rmSync(TMP + '/file-sink-half', { recursive: true, force: true });
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
}

// thread: the same with the sink's host key `thread: true` (case 5t, kafkajs in a worker thread).
async function case5({ profileDir, thread = false } = {}) {
  const key = thread ? '5t' : '5';
  const label = thread ? 'im-bridge → kafka sink (thread: true) → Kafka (end to end)' : 'im-bridge → kafka sink → Kafka (end to end)';
  const topic = `bench-bridge-${RUN_ID}${thread ? '-thread' : ''}${profileDir ? '-prof' : ''}`;
  await createTopic(topic);
  let d;
  try {
    d = await startDaemon('kafka', kafkaSinkYaml(topic, thread), { profileDir });
  } catch (e) {
    return { case: key, label, unavailable: true, reason: `daemon with a kafka sink did not start: ${e.message.slice(0, 1500)}` };
  }
  try {
    const broker = brokerPid();
    let c0;
    let t0;
    const r = await runLoad({
      port: d.port,
      serverPid: d.child.pid,
      extraPids: broker ? { kafka_broker: broker } : {},
      onMeasureStart: async () => {
        t0 = performance.now();
        c0 = await topicCount(topic);
      },
    });
    const tAcked = performance.now();
    const target = r.load.total_ok_including_warmup;
    // Wait for the last acknowledged record to be in the topic; give up after 30 s without progress.
    let count = await topicCount(topic);
    let last = count;
    let lastProgress = performance.now();
    while (count < target) {
      await sleep(25);
      count = await topicCount(topic);
      if (count > last) {
        last = count;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > 30_000) break;
    }
    const tDone = performance.now();
    const m = await metrics(d.port);
    const complete = count >= target;
    const e2e = Math.round((count - c0) / ((tDone - t0) / 1000));
    const s = summarizeCase(key, label, r, {
      topic,
      events_acked_total: target,
      events_in_topic: count,
      complete,
      events_per_s: complete ? e2e : null,
      events_per_s_partial: complete ? undefined : e2e,
      drain_after_last_ack_ms: Math.round(tDone - tAcked),
      daemon_metrics_at_end: m,
    });
    if (!complete) {
      s.unavailable = true;
      s.reason = `only ${count} of ${target} acknowledged events reached the topic (no progress for 30 s); daemon metrics ${JSON.stringify(m)}; daemon log tail: ${d.child.tail().slice(-1500)}`;
    }
    return s;
  } finally {
    await stopChild(d.child);
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
}

async function storeBench() {
  const child = track(spawnNode([path.join(ROOT, 'bench/lib/queue-store.js')]));
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const code = await child.exited;
  const line = out.trim().split('\n').pop();
  if (code !== 0) throw new Error(`queue-store failed (${code}): ${child.tail().slice(-2000)}`);
  return JSON.parse(line);
}

async function transformBench() {
  const child = track(spawnNode([path.join(ROOT, 'bench/lib/transform.js')]));
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const code = await child.exited;
  if (code !== 0) throw new Error(`transform bench failed (${code}): ${child.tail().slice(-2000)}`);
  return JSON.parse(out.trim().split('\n').pop());
}

async function sinkScripts() {
  const results = {};
  for (const name of ['kafka', 'nats', 'elasticsearch', 'webhook']) {
    const script = path.join(ROOT, 'bench', `${name}.mjs`);
    if (!fs.existsSync(script)) continue;
    log(`--sinks: node bench/${name}.mjs`);
    const child = track(spawnNode([script]));
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const timer = setTimeout(() => child.kill('SIGTERM'), 15 * 60_000);
    const code = await child.exited;
    clearTimeout(timer);
    const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    try {
      results[name] = code === 0 && line ? JSON.parse(line) : { failed: true, exit: code, tail: child.tail().slice(-1500) };
    } catch {
      results[name] = { failed: true, exit: code, tail: child.tail().slice(-1500) };
    }
  }
  return results;
}

async function profileRuns(kafkaOk) {
  const out = {};
  for (const [name, fn] of [['case4', case4], ...(kafkaOk ? [['case5', case5]] : [])]) {
    const dir = path.join(ROOT, 'bench/results', `profile-${RUN_ID}-${name}`);
    fs.mkdirSync(dir, { recursive: true });
    log(`profile: ${name} under --cpu-prof → ${path.relative(ROOT, dir)}`);
    const r = await fn({ profileDir: dir });
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    out[name] = {
      requests_per_s_under_profiler: r.requests_per_s,
      dir: path.relative(ROOT, dir),
      threads: files.map((f) => summarize(path.join(dir, f), 20)).sort((a, b) => b.busy_s - a.busy_s),
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// --scaling: case 4 (im-bridge → file sink, same config) and case 1 (ceiling) at the same points,
// a fresh server per point (so its peak RSS is that point's), BENCH_SCALE_SECONDS per point.

const MB = 2 ** 20;
const sizeLabel = (b) => (b >= MB ? `${b / MB} MB` : `${b / 1024} KB`);

function scalePoints() {
  return [
    ...[1, 16, 64, 256].map((c) => ({ point: `${c} conn`, connections: c, payloadBytes: undefined })),
    // 1 MB bodies: 64 × 1 MB in flight says more about the box's memory than about scaling; 16 already saturate.
    ...[512, 4096, 65536, MB].map((b) => ({ point: sizeLabel(b), connections: b >= MB ? SCALE_BIG_CONNECTIONS : 64, payloadBytes: b })),
  ];
}

async function scalePoint(p) {
  const load = { connections: p.connections, seconds: SCALE_SECONDS, warmup: SCALE_WARMUP, payloadBytes: p.payloadBytes };
  const label = `${p.connections} conn, ${p.payloadBytes ? `~${sizeLabel(p.payloadBytes)} bodies` : 'payload mix'}`;
  // The machine may be shared: wait for it to be quiet, but at most 15 s per point so the sweep stays short.
  const busyBefore = await waitQuiet(Math.min(QUIET_WAIT_S, 15));
  let ceiling;
  const c = await startPlainServer('ceiling.js', [PATH]);
  try {
    ceiling = summarizeCase('1', `ceiling, ${label}`, await runLoad({ port: c.port, serverPid: c.child.pid, ...load }));
  } finally {
    await stopChild(c.child);
  }
  let bridge;
  const sinkDir = path.join(TMP, 'scale-sink');
  const d = await startDaemon('scale', fileSinkYaml(sinkDir));
  try {
    const r = await runLoad({ port: d.port, serverPid: d.child.pid, ...load, onMeasureEnd: () => metrics(d.port) });
    bridge = summarizeCase('4', `im-bridge → file sink, ${label}`, r, { daemon_metrics_at_end: r.hooks.end });
  } finally {
    await stopChild(d.child);
    fs.rmSync(sinkDir, { recursive: true, force: true });
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
  const ratio = bridge.requests_per_s && ceiling.requests_per_s ? +(bridge.requests_per_s / ceiling.requests_per_s).toFixed(2) : null;
  return { ...p, payload: p.payloadBytes ? sizeLabel(p.payloadBytes) : 'mix', busy_cores_before: busyBefore, bridge, ceiling, ratio };
}

async function scaling() {
  const rows = [];
  for (const p of scalePoints()) {
    log(`scale ${p.point}: ceiling then im-bridge, ${p.connections} connections, warm-up ${SCALE_WARMUP}s + ${SCALE_SECONDS}s`);
    try {
      const r = await scalePoint(p);
      rows.push(r);
      log(`scale ${p.point}: im-bridge ${fmt(r.bridge.requests_per_s)} req/s (${r.bridge.failed} failed), ceiling ${fmt(r.ceiling.requests_per_s)} req/s, ratio ${fmt(r.ratio, 2)}`);
    } catch (e) {
      rows.push({ ...p, unavailable: true, reason: e.message });
      log(`scale ${p.point}: failed — ${e.message.split('\n')[0]}`);
    }
  }
  return { seconds: SCALE_SECONDS, warmup_seconds: SCALE_WARMUP, daemon_sink: 'file (case 4 config)', rows };
}

// ---------------------------------------------------------------------------------------------
// --backlog: BENCH_BACKLOG_EVENTS events of the normal mix posted while the only sink (webhook, batch
// encoding) points at a port where nothing listens: connection refused is retriable, and with a huge
// retry.max_attempts nothing is dead-lettered, so every event stays queued. The daemon's VmRSS is read
// once a second next to the load generator's count of acknowledged (= queued) events. Then a receiver
// starts on that port and the drain is watched for at most BENCH_BACKLOG_DRAIN_SECONDS.
// If the daemon stops answering for 60 s the fill ends there and the report says so (stalled).

const BACKLOG_MARKS = [0.1, 0.25, 0.5, 0.75, 1];

async function backlog() {
  const n = BACKLOG_EVENTS;
  const sinkPort = await freePort(); // nothing listens here until the drain phase
  const sinkYaml = `  out:
    type: webhook
    url: http://127.0.0.1:${sinkPort}/events
    encoding: batch
    retry: { initial_backoff_ms: 200, max_backoff_ms: 5000, max_attempts: 1000000000 }
`;
  // Room for the backlog: ~1.3 KB bodies become ~3 KB stored events (normalized + raw), the 1 % of 74 KB ones more.
  const queueExtra = `max_events: ${Math.max(10_000_000, 2 * n)}, max_bytes: ${64 * 2 ** 30}`;
  const busyBefore = await waitQuiet();
  const d = await startDaemon('backlog', sinkYaml, { queueExtra });
  const pid = d.child.pid;
  let receiver;
  try {
    const samples = [];
    const t0 = performance.now();
    const sample = (phase, p) => {
      const mem = procMem(pid);
      samples.push({ phase, t_s: +((performance.now() - t0) / 1000).toFixed(1), queued: p.ok, failed: p.failed, rss_mb: +(mem.rssMb ?? 0).toFixed(1) });
    };
    sample('fill', { ok: 0, failed: 0 });
    const cpu0 = procCpu(pid);
    let nextLog = Math.min(100_000, n);
    log(`backlog: posting ${fmt(n)} events (${BACKLOG_CONNECTIONS} connections, closed loop) into a daemon whose only sink is down`);
    const r = await runLoad({
      port: d.port,
      serverPid: pid,
      connections: BACKLOG_CONNECTIONS,
      warmup: 0,
      seconds: Math.max(600, n / 500), // a cap only: the fill ends when the n-th request is answered
      maxRequests: n,
      progressMs: 1000,
      stallSeconds: 60,
      onProgress: (p) => {
        sample('fill', p);
        if (p.ok < nextLog) return;
        nextLog += 100_000;
        log(`backlog: ${fmt(p.ok)} queued, RSS ${fmt(samples.at(-1).rss_mb)} MB${p.failed ? `, ${fmt(p.failed)} failed` : ''}`);
      },
    });
    const fillS = (performance.now() - t0) / 1000;
    const cpu1 = procCpu(pid);
    sample('fill', { ok: r.load.total_ok_including_warmup, failed: r.load.total_failed_including_warmup });
    // A few idle seconds: does RSS come down (or keep growing) once ingest stops and only retries run?
    for (let i = 0; i < 5; i++) {
      await sleep(1000);
      sample('idle', { ok: r.load.total_ok_including_warmup, failed: r.load.total_failed_including_warmup });
    }
    const tScrape = performance.now();
    const afterFill = await metrics(d.port);
    afterFill.scrape_ms = Math.round(performance.now() - tScrape); // /metrics runs the queue stats query (full scan)
    const fillSamples = samples.filter((s) => s.phase === 'fill');
    const at = (frac) => fillSamples.find((s) => s.queued >= frac * n) ?? null;
    const marks = BACKLOG_MARKS.map((f) => ({ queued_target: Math.round(f * n), ...(at(f) ?? {}) }));
    const m25 = at(0.25);
    const mEnd = at(1);
    const growth = m25 && mEnd ? +(mEnd.rss_mb - m25.rss_mb).toFixed(1) : null;
    const out = {
      events_target: n,
      connections: BACKLOG_CONNECTIONS,
      sink: `webhook to 127.0.0.1:${sinkPort} (nothing listening), encoding batch, retry max_attempts 1e9, max_backoff_ms 5000`,
      busy_cores_before: busyBefore,
      fill: {
        complete: r.load.total_ok_including_warmup >= n,
        stalled: Boolean(r.load.stalled),
        in_flight_at_end: r.load.in_flight_at_end ?? 0,
        seconds: +fillS.toFixed(1),
        requests_per_s: Math.round(r.load.total_ok_including_warmup / fillS),
        ok: r.load.total_ok_including_warmup,
        failed: r.load.total_failed_including_warmup,
        statuses: r.load.statuses,
        error_samples: r.load.error_samples,
        latency_ms: r.load.latency_ms,
        server_cpu_cores: cpu0 && cpu1 ? +((cpu1.user - cpu0.user + cpu1.sys - cpu0.sys) / fillS).toFixed(2) : null,
        machine: r.machine,
        loadgen_cpu_cores: r.loadgen.cpu_cores,
      },
      rss_at: marks,
      rss_max_during_fill_mb: Math.max(...fillSamples.map((s) => s.rss_mb)),
      rss_after_idle_mb: samples.at(-1).rss_mb,
      rss_growth_25pct_to_100pct_mb: growth,
      flat: growth === null ? null : growth < 20,
      flat_rule: 'RSS at 100 % of the backlog minus RSS at 25 % < 20 MB',
      peak_rss_hwm_mb: Math.round(procMem(pid).hwmMb ?? 0),
      daemon_metrics_after_fill: afterFill,
    };
    if (BACKLOG_DRAIN_SECONDS > 0) {
      out.drain = await drainBacklog(d, pid, sinkPort, afterFill.queue_depth ?? n, (p) => sample('drain', p));
      receiver = out.drain.receiverChild;
      delete out.drain.receiverChild;
      const drainRss = samples.filter((x) => x.phase === 'drain').map((x) => x.rss_mb);
      out.drain.rss_max_mb = drainRss.length ? Math.max(...drainRss) : null;
      out.drain.rss_at_end_mb = drainRss.at(-1) ?? null;
    }
    out.samples = samples;
    return out;
  } finally {
    await stopChild(d.child);
    if (receiver) await stopChild(receiver);
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
}

/** The sink comes back: start a receiver on its port, watch delivery and RSS once a second. */
async function drainBacklog(d, pid, sinkPort, queued, sample) {
  log(`backlog: receiver up on ${sinkPort}; draining ${fmt(queued)} events for at most ${BACKLOG_DRAIN_SECONDS}s`);
  const child = track(spawnNode([path.join(ROOT, 'bench/lib/servers/receiver.js'), String(sinkPort)]));
  await waitListening(child, sinkPort);
  const stats = async () => (await fetch(`http://127.0.0.1:${sinkPort}/stats`, { signal: AbortSignal.timeout(5000) })).json();
  const t0 = performance.now();
  const cpu0 = procCpu(pid);
  let got = { events: 0, requests: 0, bytes: 0 };
  let firstS = null;
  let lastLog = 0;
  while (performance.now() - t0 < BACKLOG_DRAIN_SECONDS * 1000) {
    await sleep(1000);
    got = await stats().catch(() => got);
    const t = (performance.now() - t0) / 1000;
    if (got.events > 0 && firstS === null) firstS = t;
    sample({ ok: queued - got.events, failed: 0 });
    if (t - lastLog >= 10) {
      lastLog = t;
      log(`backlog drain: ${fmt(got.events)} of ${fmt(queued)} received after ${fmt(t)}s, RSS ${fmt(procMem(pid).rssMb)} MB`);
    }
    if (got.events >= queued) break;
  }
  const s = (performance.now() - t0) / 1000;
  const cpu1 = procCpu(pid);
  const m = await metrics(d.port);
  return {
    receiverChild: child,
    seconds: +s.toFixed(1),
    complete: got.events >= queued,
    received_events: got.events,
    received_requests: got.requests,
    received_mb: +(got.bytes / MB).toFixed(1),
    first_delivery_after_s: firstS === null ? null : +firstS.toFixed(1),
    events_per_s: Math.round(got.events / s),
    events_per_s_after_first: firstS === null ? null : Math.round(got.events / Math.max(0.001, s - firstS)),
    server_cpu_cores: cpu0 && cpu1 ? +((cpu1.user - cpu0.user + cpu1.sys - cpu0.sys) / s).toFixed(2) : null,
    daemon_metrics_at_end: m,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (x, d = 0) => (x === null || x === undefined ? '–' : typeof x === 'number' ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : String(x));

function table(rows) {
  const head = ['case', 'req/s', 'events/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'fail', 'srv CPU', 'µs/req', 'srv peak RSS', 'loadgen CPU', 'other CPU', 'notes'];
  const body = rows.map((r) =>
    r.unavailable && r.requests_per_s === undefined
      ? [r.case, '–', '–', '–', '–', '–', '–', '–', '–', '–', '–', '–', `UNAVAILABLE: ${r.reason.split('\n')[0].slice(0, 110)}`]
      : [
          r.case,
          fmt(r.requests_per_s),
          fmt(r.events_per_s ?? (r.case === '3' ? r.requests_per_s : null)),
          fmt(r.latency_ms.p50, 2),
          fmt(r.latency_ms.p99, 2),
          fmt(r.latency_ms.p999, 2),
          fmt(r.failed),
          `${fmt(r.server_cpu.cores, 2)} cores`,
          fmt(r.server_cpu.us_per_request),
          `${fmt(r.server_peak_rss_mb)} MB`,
          `${fmt(r.loadgen_cpu.cores, 2)} cores`,
          `${fmt(r.machine.other_cores, 2)}${r.others_cpu_cores?.kafka_broker !== undefined ? ` (+broker ${fmt(r.others_cpu_cores.kafka_broker, 2)})` : ''}`,
          `${r.label}${r.unavailable ? ` — INCOMPLETE: ${r.reason.slice(0, 80)}` : ''}`,
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === cells.length - 1 ? String(c) : String(c).padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function scaleTable(sc) {
  const head = ['point', 'conn', 'body B', 'req/s', 'MB/s', 'p50 ms', 'p99 ms', 'fail', 'srv CPU', 'µs/req', 'peak RSS', 'ceiling req/s', 'ceil MB/s', 'ceil µs/req', 'ratio', 'other CPU'];
  const body = sc.rows.map((r) =>
    r.unavailable
      ? [r.point, r.connections, '–', `FAILED: ${r.reason.split('\n')[0].slice(0, 100)}`]
      : [
          r.point,
          r.connections,
          fmt(r.bridge.avg_body_bytes),
          fmt(r.bridge.requests_per_s),
          fmt(r.bridge.mb_per_s, 1),
          fmt(r.bridge.latency_ms.p50, 2),
          fmt(r.bridge.latency_ms.p99, 2),
          fmt(r.bridge.failed + r.ceiling.failed),
          `${fmt(r.bridge.server_cpu.cores, 2)} cores`,
          fmt(r.bridge.server_cpu.us_per_request),
          `${fmt(r.bridge.server_peak_rss_mb)} MB`,
          fmt(r.ceiling.requests_per_s),
          fmt(r.ceiling.mb_per_s, 1),
          fmt(r.ceiling.server_cpu.us_per_request),
          fmt(r.ratio, 2),
          fmt(Math.max(r.bridge.machine.other_cores, r.ceiling.machine.other_cores), 2),
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => String(c ?? '').padStart(widths[i])).join('  ');
  return [
    `Scaling (--scaling): im-bridge → file sink (case 4 config) vs ceiling (case 1), fresh server per point, warm-up ${sc.warmup_seconds}s + ${sc.seconds}s each, closed loop`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    'req/s, MB/s (request bodies), p50/p99, srv CPU, µs/req, peak RSS (VmHWM) are im-bridge\'s; ratio = im-bridge req/s ÷ ceiling req/s; fail counts both servers; other CPU = max of the two runs.',
  ].join('\n');
}

function backlogReport(b) {
  if (b.failed) return `Backlog (--backlog): FAILED — ${b.reason.slice(0, 600)}`;
  const f = b.fill;
  const lines = [
    `Backlog (--backlog): ${fmt(b.events_target)} events of the payload mix, ${b.connections} connections closed loop, only sink down (${b.sink})`,
    ...(f.complete ? [] : [`  FILL INCOMPLETE: ${f.stalled ? `the daemon stopped answering (no answer for 60 s, ${f.in_flight_at_end} requests in flight)` : 'time cap reached'}; figures below cover what got in`]),
    `  fill: ${fmt(f.ok)} acknowledged (${fmt(f.failed)} failed) in ${fmt(f.seconds, 1)} s = ${fmt(f.requests_per_s)} req/s, p50 ${fmt(f.latency_ms.p50, 2)} ms, p99 ${fmt(f.latency_ms.p99, 2)} ms, p99.9 ${fmt(f.latency_ms.p999, 2)} ms, max ${fmt(f.latency_ms.max, 0)} ms; daemon ${fmt(f.server_cpu_cores, 2)} cores, other CPU ${fmt(f.machine.other_cores, 2)}`,
    // A counter without any sample yet is absent from /metrics: that is a zero.
    b.daemon_metrics_after_fill.error
      ? `  daemon after fill: /metrics failed (${b.daemon_metrics_after_fill.error})`
      : `  daemon after fill: queue depth ${fmt(b.daemon_metrics_after_fill.queue_depth)}, delivered ${fmt(b.daemon_metrics_after_fill.delivered ?? 0)}, dead-lettered ${fmt(b.daemon_metrics_after_fill.dead_lettered ?? 0)} (/metrics took ${fmt(b.daemon_metrics_after_fill.scrape_ms)} ms: it runs the queue stats query)`,
    `  RSS (VmRSS, sampled 1/s) at ${b.rss_at.map((m) => `${fmt(m.queued_target)}: ${m.rss_mb === undefined ? '–' : `${fmt(m.rss_mb, 1)} MB`}`).join(', ')}`,
    `  RSS max during fill ${fmt(b.rss_max_during_fill_mb, 1)} MB, after 5 s idle ${fmt(b.rss_after_idle_mb, 1)} MB, VmHWM ${fmt(b.peak_rss_hwm_mb)} MB; growth 25 % → 100 % of the backlog ${fmt(b.rss_growth_25pct_to_100pct_mb, 1)} MB → ${b.flat === null ? 'n/a' : b.flat ? 'FLAT' : 'NOT FLAT'} (${b.flat_rule})`,
  ];
  if (b.drain) {
    const d = b.drain;
    lines.push(
      `  drain (receiver started on the sink's port): ${fmt(d.received_events)} events received in ${fmt(d.seconds, 1)} s (${d.complete ? 'complete' : `cap reached, ${fmt((100 * d.received_events) / b.events_target, 1)} %`}), first delivery after ${fmt(d.first_delivery_after_s, 1)} s, ${fmt(d.events_per_s_after_first)} events/s after it; daemon ${fmt(d.server_cpu_cores, 2)} cores; RSS max ${fmt(d.rss_max_mb, 1)} MB, at end ${fmt(d.rss_at_end_mb, 1)} MB; daemon: depth ${fmt(d.daemon_metrics_at_end.queue_depth)}, delivered ${fmt(d.daemon_metrics_at_end.delivered ?? 0)}, dead-lettered ${fmt(d.daemon_metrics_at_end.dead_lettered ?? 0)}`,
    );
  }
  return lines.join('\n');
}

function ratios(byCase) {
  const c = (k) => byCase[k];
  const ok = (k) => c(k) && !c(k).unavailable;
  const ratio = (a, b) => (a && b ? +(a / b).toFixed(2) : null);
  const out = [];
  const add = (name, value, target, pass, note) => out.push({ name, value, target, pass: value === null ? null : pass, note });
  const r41 = ok('4') && ok('1') ? ratio(c('4').requests_per_s, c('1').requests_per_s) : null;
  add('4/1 im-bridge vs bare hyper-express (req/s)', r41, '≥ 0.6', r41 >= 0.6);
  const cpu41 = ok('4') && ok('1') ? ratio(c('1').server_cpu.us_per_request, c('4').server_cpu.us_per_request) : null;
  add('  (info) 4/1 by server CPU per request (µs/req 1 ÷ µs/req 4)', cpu41, '≥ 0.6', cpu41 >= 0.6, 'what 4/1 would be if each server had the cores to itself and were CPU-bound');
  const r42 = ok('4') && ok('2') ? ratio(c('4').requests_per_s, c('2').requests_per_s) : null;
  add('4/2 im-bridge vs naive appendFile+fsync (req/s)', r42, '≥ 3', r42 >= 3);
  const p99 = ok('4h') ? c('4h').latency_ms.p99 : null;
  add('p99 ack latency at half max rate (ms)', p99, '≤ 10', p99 !== null && p99 <= 10);
  const e5 = ok('5') ? c('5').events_per_s : null;
  add('5 end to end into Kafka (events/s)', e5, '≥ 20000', e5 >= 20_000, c('5')?.unavailable ? `unavailable: ${c('5').reason.split('\n')[0].slice(0, 200)}` : undefined);
  const r53 = ok('5') && ok('3') ? ratio(c('5').events_per_s, c('3').events_per_s) : null;
  add('5/3 im-bridge→Kafka vs naive producer.send (events/s)', r53, '≥ 3', r53 >= 3);
  const rss = ['4', '4h', '5'].filter(ok).map((k) => c(k).server_peak_rss_mb ?? 0);
  const maxRss = rss.length ? Math.max(...rss) : null;
  add('im-bridge peak RSS under load (MB, VmHWM, cases 4/4h/5)', maxRss, '≤ 200', maxRss !== null && maxRss <= 200);
  return out;
}

function ratioTable(rs) {
  const w = Math.max(...rs.map((r) => r.name.length));
  return rs.map((r) => `${r.name.padEnd(w)}  ${fmt(r.value, 2).padStart(9)}  target ${r.target.padEnd(8)} ${r.pass === null ? 'n/a' : r.pass ? 'PASS' : 'MISS'}${r.note ? `  (${r.note})` : ''}`).join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} not found: build first (npm run build, or npx tsc -p tsconfig.build.json --noEmitOnError false)`);
  const startedAt = new Date();
  const pool = buildPool(MIX ? parseMix(MIX) : undefined, POOL_SIZE);
  const cpus = os.cpus();
  const result = {
    bench: 'im-bridge',
    started_at: startedAt.toISOString(),
    git: gitInfo(),
    node: process.version,
    machine: { cpu_model: cpus[0]?.model, cores: cpus.length, mem_mb: Math.round(os.totalmem() / 2 ** 20), loadavg_at_start: os.loadavg().map((x) => +x.toFixed(2)), tmpdir: os.tmpdir() },
    params: { seconds: SECONDS, warmup_seconds: WARMUP, connections: CONNECTIONS, pipelining: 1, signed: true, payload: describePool(pool), kafka_brokers: BROKERS, kafka_partitions: 6 },
    notes: [
      `Server, load generator${CASES.has('3') || CASES.has('5') || CASES.has('5t') ? ', Kafka broker' : ''} and anything else on the machine share ${cpus.length} cores: a server can use at most what the load generator leaves. "srv CPU" = user+sys of the server process over the measured window (/proc/<pid>/stat); "µs/req" = server CPU per answered request (comparable across cases whatever the contention); "other CPU" = machine-wide busy minus server, load generator (and broker).`,
      'Latency = load generator send → last response byte, requests sent in the measured window only. Case 4h is open loop (fixed arrival rate), latency from the scheduled send time; loadgen_send_slip_ms says how late the generator itself sent (its own CPU starvation, counted in that latency).',
      'Peak RSS = VmHWM of the server process (lifetime peak, includes warm-up).',
    ],
    cases: [],
  };
  const byCase = {};
  const run = async (key, fn) => {
    if (!CASES.has(key)) return;
    log(`case ${key}: warm-up ${WARMUP}s, measure ${SECONDS}s, ${CONNECTIONS} connections`);
    let r;
    const idleBusy = await waitQuiet();
    try {
      r = await fn();
      if (r.machine) r.machine.busy_cores_before_case = idleBusy;
    } catch (e) {
      r = { case: key, unavailable: true, reason: e.message };
    }
    byCase[key] = r;
    result.cases.push(r);
    if (r.unavailable) log(`case ${key}: unavailable — ${r.reason.split('\n')[0]}`);
    else log(`case ${key}: ${fmt(r.requests_per_s)} req/s, p99 ${fmt(r.latency_ms.p99, 2)} ms, server ${fmt(r.server_cpu.cores, 2)} cores, loadgen ${fmt(r.loadgen_cpu.cores, 2)} cores${r.events_per_s ? `, ${fmt(r.events_per_s)} events/s` : ''}${r.loadgen_send_slip_ms ? `, load generator's own send delay p99 ${fmt(r.loadgen_send_slip_ms.p99, 2)} ms` : ''}`);
  };

  let kafkaOk = false;
  let kafkaReason;
  if (CASES.has('3') || CASES.has('5') || CASES.has('5t') || PROFILE) {
    try {
      await kafkaAdmin();
      kafkaOk = true;
    } catch (e) {
      kafkaReason = `Kafka at ${BROKERS.join(',')} not reachable (${e.message}); start it with npm run services:up`;
    }
  }

  if (STORE) {
    log('queue-store: sqlite WAL FULL vs fs append+fdatasync, batches 1/16/128/1024');
    try {
      result.queue_store = await storeBench();
    } catch (e) {
      result.queue_store = { failed: true, reason: e.message };
    }
  }
  if (TRANSFORM) {
    log('transform: three declarative steps per event (redact, hash, drop) at delivery');
    try {
      result.transform = await transformBench();
    } catch (e) {
      result.transform = { failed: true, reason: e.message };
    }
  }
  await run('1', case1);
  await run('2', case2);
  await run('4', case4);
  if (CASES.has('4h')) {
    if (byCase['4'] && !byCase['4'].unavailable) await run('4h', () => case4h(byCase['4'].requests_per_s));
    else byCase['4h'] = { case: '4h', unavailable: true, reason: 'needs case 4 (its max rate)' };
  }
  await run('3', kafkaOk ? case3 : async () => ({ case: '3', unavailable: true, reason: kafkaReason }));
  await run('5', kafkaOk ? case5 : async () => ({ case: '5', unavailable: true, reason: kafkaReason }));
  await run('5t', kafkaOk ? () => case5({ thread: true }) : async () => ({ case: '5t', unavailable: true, reason: kafkaReason }));

  if (CASES.has('scale')) {
    log(`scaling: ${scalePoints().length} points × (ceiling + im-bridge), warm-up ${SCALE_WARMUP}s + ${SCALE_SECONDS}s each`);
    result.scaling = await scaling();
  }
  if (CASES.has('backlog')) {
    try {
      result.backlog = await backlog();
    } catch (e) {
      result.backlog = { failed: true, reason: e.message };
      log(`backlog: failed — ${e.message.split('\n')[0]}`);
    }
  }

  result.ratios = ratios(byCase);
  if (PROFILE) result.profile = await profileRuns(kafkaOk && !byCase['5']?.unavailable);
  if (SINKS) result.sinks = await sinkScripts();

  const resultsDir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');

  const p = result.params;
  console.log(`\nim-bridge bench — ${result.git.commit?.slice(0, 10) ?? '?'}${result.git.dirty_files ? ` (+${result.git.dirty_files} uncommitted files)` : ''}, node ${result.node}, ${result.machine.cpu_model} × ${result.machine.cores} cores`);
  console.log(`${ANY_CLASSIC ? `${p.connections} keep-alive connections (pipelining 1), warm-up ${p.warmup_seconds}s + ${p.seconds}s measured per case, ` : ''}all requests signed; payload mix ${Object.entries(p.payload.kinds).map(([k, v]) => `${k} ${Math.round(v.share * 100)}% (~${v.avg_bytes} B)`).join(', ')}; avg body ${p.payload.avg_body_bytes} B\n`);
  if (ANY_CLASSIC) {
    console.log(table(result.cases));
    console.log(`\nNOTE: ${result.notes[0]}`);
    console.log('\nTargets (design.md §8):');
    console.log(ratioTable(result.ratios));
  }
  if (result.scaling) console.log(`\n${scaleTable(result.scaling)}`);
  if (result.backlog) console.log(`\n${backlogReport(result.backlog)}`);
  if (result.queue_store?.rows) {
    console.log('\nQueue store: ~1 KB records, one fsync per batch (records/s)');
    const rows = result.queue_store.rows;
    const batches = [...new Set(rows.map((r) => r.batch))];
    const stores = [...new Set(rows.map((r) => r.store))];
    console.log(['batch'.padStart(6), ...stores.map((s) => s.padStart(22))].join('  '));
    for (const b of batches) console.log([String(b).padStart(6), ...stores.map((s) => fmt(rows.find((r) => r.batch === b && r.store === s)?.records_per_s).padStart(22))].join('  '));
    console.log(`lmdb: ${result.queue_store.lmdb}`);
  }
  if (result.transform?.apply_us !== undefined) {
    const tr = result.transform;
    console.log(`\nTransforms (${tr.steps.join(' + ')}, batches of ${tr.batch_events}, events ~${tr.avg_event_bytes} B): ${fmt(tr.apply_us, 2)} µs/event; with the re-serialization a transformed event needs, ${fmt(tr.apply_json_us, 2)} µs/event (untransformed: stored JSON, ${fmt(tr.baseline_json_us, 2)} µs)`);
  } else if (result.transform) console.log(`\nTransforms: failed — ${result.transform.reason}`);
  if (result.profile) {
    for (const [name, pr] of Object.entries(result.profile)) {
      console.log(`\nProfile ${name} (${fmt(pr.requests_per_s_under_profiler)} req/s under --cpu-prof; ${pr.dir}):`);
      for (const t of pr.threads) {
        console.log(`  ${t.file}: busy ${t.busy_s}s of ${t.wall_s}s`);
        for (const f of t.top_self.slice(0, 12)) console.log(`    ${String(f.pct_of_busy).padStart(5)}%  ${f.fn}`);
        console.log(`    by area: ${t.by_area.slice(0, 10).map((a) => `${a.area} ${a.pct_of_busy}%`).join(', ')}`);
      }
    }
  }
  if (result.sinks) console.log(`\n--sinks: ${JSON.stringify(result.sinks)}`);
  console.log(`\nJSON: ${path.relative(ROOT, file)}`);
}

async function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  if (admin) {
    if (createdTopics.length) await admin.deleteTopics({ topics: createdTopics }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
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

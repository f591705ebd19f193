// Load runs shared by the cases: the settings (env), waiting for a quiet machine, spawning the load
// generator (bench/lib/loadgen.js, its own process) while watching server, generator (and broker)
// CPU/RSS, the per-case summary, and the plain baseline servers (bench/lib/servers/).
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Monitor, machineCpu } from './proc.js';
import { TOKEN } from './payloads.js';
import { ROOT, freePort, sleep, spawnNode, track, waitListening } from './util.js';

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
export const POOL_SIZE = Number(process.env.BENCH_POOL ?? 2000);
export const MIX = process.env.BENCH_MIX ?? '';
const QUIET_CORES = Number(process.env.BENCH_QUIET_CORES ?? 0.3);
export const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT ?? 60);
export const PATH = '/im/callback';
const LOADGEN = path.join(ROOT, 'bench/lib/loadgen.js');
const log = (...a) => console.error('[bench]', ...a);

/**
 * Other processes on this 2-core machine (other engineers' benches, tsc, Elasticsearch...) skew
 * results. Before each case, wait (at most BENCH_QUIET_WAIT s) until the machine is nearly idle
 * (< BENCH_QUIET_CORES busy cores over 1 s); the busy level found is recorded either way.
 */
export async function waitQuiet(maxWaitS = QUIET_WAIT_S) {
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
export async function runLoad({ port, serverPid, mode = 'closed', rate, extraPids = {}, onMeasureStart, onMeasureEnd, connections = CONNECTIONS, seconds = SECONDS, warmup = WARMUP, payloadBytes, maxRequests, progressMs, stallSeconds, onProgress }) {
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
    threads: mon.threads,
    machine: { busy_cores: mon.machine_busy_cores, other_cores: +Math.max(0, mon.machine_busy_cores - accounted).toFixed(2), cores: os.cpus().length },
    hooks: { start: await measureStartHook, end: await measureEndHook },
  };
}

export function summarizeCase(name, label, r, extra = {}) {
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
    // Server CPU per answered request by thread (µs): where the cost is (README, cost model).
    server_threads_us_per_request: l.ok ? Object.fromEntries(Object.entries(r.threads ?? {}).map(([k, s]) => [k, Math.round((s * 1e6) / l.ok)])) : undefined,
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

export async function startPlainServer(script, extraArgs) {
  const port = await freePort();
  const child = track(spawnNode([path.join(ROOT, 'bench/lib/servers', script), String(port), ...extraArgs]));
  await waitListening(child, port);
  return { port, child };
}


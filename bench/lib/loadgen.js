#!/usr/bin/env node
// Load generator, run in its own process by bench/run.js:  node bench/lib/loadgen.js '<json config>'
// Config: { url, path, mode: 'closed'|'open', connections, rate (open), warmupSeconds, seconds, token, mix, poolSize,
//           payloadBytes, maxRequests, progressMs, stallSeconds }   (the last four optional)
//   closed: `connections` keep-alive connections (undici Pool, pipelining 1), each sends its next request as
//           soon as the previous one is answered → max rate; latency = send → last response byte.
//   open:   fixed arrival rate (`rate` req/s) whatever the answers do; latency is measured from the
//           *scheduled* send time, so queueing behind a slow server counts (no coordinated omission).
//   payloadBytes: instead of the mix, Group.CallbackAfterSendMsg bodies of about that size (buildSizedPool).
//   maxRequests:  closed loop only: send exactly this many requests in all (warm-up included), then stop;
//                 the window ends when the last one is answered (or after `seconds`, whichever is first).
//   progressMs:   also emit {"event":"progress","sent","ok","failed","in_flight"} that often (cumulative counts).
//   stallSeconds: end the window early when no answer at all arrived for that long (server hung); the
//                 result then says "stalled": true and requests still in flight are abandoned.
// Bodies are pre-built (payloads.js), Sign/RequestTime precomputed per second. stdout: JSON lines
//   {"event":"ready"} {"event":"measure_start"} {"event":"measure_end"} {"event":"result",...}
import { Pool } from 'undici';
import { buildPool, buildSizedPool, Signer, parseMix } from './payloads.js';

const cfg = JSON.parse(process.argv[2]);
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const requests = cfg.payloadBytes ? buildSizedPool(cfg.payloadBytes, cfg.poolSize ?? 2000) : buildPool(cfg.mix ? parseMix(cfg.mix) : undefined, cfg.poolSize ?? 2000);
const maxRequests = cfg.mode === 'closed' && cfg.maxRequests > 0 ? cfg.maxRequests : Infinity;
const signer = new Signer(cfg.token ?? '', Math.floor(Date.now() / 1000) - 5, Math.ceil(cfg.warmupSeconds + cfg.seconds) + 600);
const pool = new Pool(cfg.url, { connections: cfg.connections, pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
const HEADERS = ['content-type', 'application/json'];

let phase = 'warmup'; // warmup | measure | drain
let idx = 0;
let inFlight = 0;
const m = { sent: 0, ok: 0, okBytes: 0, non200: 0, errors: 0, statuses: {}, errorSamples: [], lat: [], slip: [] };
const all = { ok: 0, non200: 0, errors: 0 };
let measureStartMs = 0;
let measureEndMs = 0;
let onDrained = null;
let onAllAnswered = null;
let stalled = false;

class Handler {
  constructor(t0, measured, bytes) {
    this.t0 = t0;
    this.measured = measured;
    this.bytes = bytes;
    this.status = 0;
  }
  onConnect() {}
  onHeaders(statusCode) {
    this.status = statusCode;
    return true;
  }
  onData() {
    return true;
  }
  onComplete() {
    this.done(undefined);
  }
  onError(err) {
    this.done(err);
  }
  done(err) {
    const now = performance.now();
    inFlight--;
    if (err) all.errors++;
    else if (this.status === 200) all.ok++;
    else all.non200++;
    // Counted in the window: requests sent during the measured window (their latency, their status).
    if (this.measured) {
      if (err) {
        m.errors++;
        if (m.errorSamples.length < 5) m.errorSamples.push(String(err.code ?? err.message));
      } else if (this.status === 200) {
        m.ok++;
        m.okBytes += this.bytes;
        m.lat.push(now - this.t0);
      } else {
        m.non200++;
        m.statuses[this.status] = (m.statuses[this.status] ?? 0) + 1;
      }
    }
    if (cfg.mode === 'closed' && phase !== 'drain' && idx < maxRequests) send(undefined);
    if (inFlight === 0 && idx >= maxRequests && onAllAnswered) onAllAnswered();
    if (phase === 'drain' && inFlight === 0 && onDrained) onDrained();
  }
}

function send(scheduledAt) {
  const r = requests[idx++ % requests.length];
  const measured = phase === 'measure';
  if (measured) {
    m.sent++;
    // Open loop: how late the generator itself sent (its own event loop delayed by CPU contention).
    if (scheduledAt !== undefined) m.slip.push(performance.now() - scheduledAt);
  }
  inFlight++;
  const t0 = scheduledAt ?? performance.now();
  pool.dispatch({ method: 'POST', path: `${cfg.path}?${r.queryBase}${signer.now()}`, headers: HEADERS, body: r.body }, new Handler(t0, measured, r.body.length));
}

function startOpenLoop() {
  const start = performance.now();
  const interval = 1000 / cfg.rate;
  let n = 0;
  const tick = () => {
    if (phase === 'drain') return;
    const now = performance.now();
    while (start + n * interval <= now) {
      send(start + n * interval);
      n++;
    }
    setTimeout(tick, 1);
  };
  tick();
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main() {
  // Open the connections before timing anything.
  await Promise.all(
    Array.from({ length: Math.min(cfg.connections, 64) }, () =>
      pool.request({ method: 'GET', path: '/healthz', signal: AbortSignal.timeout(10_000) }).then((r) => r.body.dump()).catch(() => undefined),
    ),
  );
  emit({ event: 'ready' });
  const progress = cfg.progressMs
    ? setInterval(() => emit({ event: 'progress', sent: idx, ok: all.ok, failed: all.non200 + all.errors, in_flight: inFlight }), cfg.progressMs)
    : undefined;
  // With maxRequests: resolves once the last of them is answered (ends the window early).
  const allAnswered = new Promise((r) => (onAllAnswered = r));
  if (cfg.mode === 'closed') for (let c = 0; c < Math.min(cfg.connections, maxRequests); c++) send(undefined);
  else startOpenLoop();
  await new Promise((r) => setTimeout(r, cfg.warmupSeconds * 1000));
  const cpu0 = process.cpuUsage();
  phase = 'measure';
  measureStartMs = performance.now();
  emit({ event: 'measure_start' });
  // A hung server must not hang the bench: with stallSeconds, no answer for that long ends the window.
  let answered = -1;
  let lastAnswerMs = performance.now();
  const stall = new Promise((r) => {
    if (!cfg.stallSeconds) return;
    const timer = setInterval(() => {
      const now = all.ok + all.non200 + all.errors;
      if (now !== answered || inFlight === 0) {
        answered = now;
        lastAnswerMs = performance.now();
      } else if (performance.now() - lastAnswerMs > cfg.stallSeconds * 1000) {
        stalled = true;
        r();
      }
    }, 1000);
    allAnswered.then(() => clearInterval(timer));
    timer.unref();
  });
  await Promise.race([new Promise((r) => setTimeout(r, cfg.seconds * 1000)), allAnswered, stall]);
  clearInterval(progress);
  phase = 'drain';
  measureEndMs = performance.now();
  const cpu = process.cpuUsage(cpu0);
  emit({ event: 'measure_end' });
  if (inFlight > 0 && !stalled) await Promise.race([new Promise((r) => (onDrained = r)), new Promise((r) => setTimeout(r, 30_000))]);
  // Requests still unanswered (stalled or slow server) would keep close() waiting: destroy instead.
  await (inFlight > 0 ? pool.destroy() : pool.close()).catch(() => undefined);
  const windowS = (measureEndMs - measureStartMs) / 1000;
  const lat = Float64Array.from(m.lat).sort();
  const round = (x) => (x === null ? null : +x.toFixed(3));
  emit({
    event: 'result',
    mode: cfg.mode,
    connections: cfg.connections,
    target_rate: cfg.rate ?? null,
    window_s: +windowS.toFixed(3),
    warmup_s: cfg.warmupSeconds,
    max_requests: Number.isFinite(maxRequests) ? maxRequests : undefined,
    stalled: stalled || undefined,
    in_flight_at_end: inFlight || undefined,
    sent: m.sent,
    ok: m.ok,
    non200: m.non200,
    errors: m.errors,
    statuses: m.statuses,
    error_samples: m.errorSamples,
    requests_per_s: Math.round(m.ok / windowS),
    // Request body bytes of the answered (200) requests of the window, per second.
    mb_per_s: +(m.okBytes / 2 ** 20 / windowS).toFixed(2),
    avg_body_bytes: m.ok ? Math.round(m.okBytes / m.ok) : null,
    latency_ms: {
      p50: round(percentile(lat, 50)),
      p90: round(percentile(lat, 90)),
      p99: round(percentile(lat, 99)),
      p999: round(percentile(lat, 99.9)),
      max: round(lat.length ? lat[lat.length - 1] : null),
      mean: round(lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null),
    },
    send_slip_ms:
      cfg.mode === 'open'
        ? (() => {
            const slip = Float64Array.from(m.slip).sort();
            return { p50: round(percentile(slip, 50)), p99: round(percentile(slip, 99)), max: round(slip.length ? slip[slip.length - 1] : null) };
          })()
        : undefined,
    total_ok_including_warmup: all.ok,
    total_failed_including_warmup: all.non200 + all.errors,
    loadgen_cpu: { user_s: +(cpu.user / 1e6).toFixed(2), sys_s: +(cpu.system / 1e6).toFixed(2), cores: +((cpu.user + cpu.system) / 1e6 / windowS).toFixed(2) },
  });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

// --backlog (= --cases=backlog): RSS while BENCH_BACKLOG_EVENTS events pile up behind a dead webhook
// sink, then the drain.
import fs from 'node:fs';
import path from 'node:path';
import { metrics } from '../lib/daemon.js';
import { runLoad, waitQuiet } from '../lib/load.js';
import { procCpu, procMem } from '../lib/proc.js';
import { fmt } from '../lib/report.js';
import { ROOT, freePort, sleep, spawnNode, stopChild, track, waitListening } from '../lib/util.js';

const BACKLOG_EVENTS = Number(process.env.BENCH_BACKLOG_EVENTS ?? 1_000_000);
const BACKLOG_CONNECTIONS = Number(process.env.BENCH_BACKLOG_CONNECTIONS ?? 64);
const BACKLOG_DRAIN_SECONDS = Number(process.env.BENCH_BACKLOG_DRAIN_SECONDS ?? 120);
const MB = 2 ** 20;
const log = (...a) => console.error('[bench]', ...a);

// ---------------------------------------------------------------------------------------------
// --backlog: BENCH_BACKLOG_EVENTS events of the normal mix posted while the only sink (webhook, batch
// encoding) points at a port where nothing listens: connection refused is retriable, and with a huge
// retry.max_attempts nothing is dead-lettered, so every event stays queued. The daemon's VmRSS is read
// once a second next to the load generator's count of acknowledged (= queued) events. Then a receiver
// starts on that port and the drain is watched for at most BENCH_BACKLOG_DRAIN_SECONDS.
// If the daemon stops answering for 60 s the fill ends there and the report says so (stalled).

const BACKLOG_MARKS = [0.1, 0.25, 0.5, 0.75, 1];

async function backlog(ctx) {
  const n = BACKLOG_EVENTS;
  const sinkPort = await freePort(); // nothing listens here until the drain phase
  const sinks = {
    out: {
      type: 'webhook',
      url: `http://127.0.0.1:${sinkPort}/events`,
      encoding: 'batch',
      retry: { initial_backoff_ms: 200, max_backoff_ms: 5000, max_attempts: 1000000000 },
    },
  };
  // Room for the backlog: ~1.3 KB bodies become ~3 KB stored events (normalized + raw), the 1 % of 74 KB ones more.
  const queue = { max_events: Math.max(10_000_000, 2 * n), max_bytes: 64 * 2 ** 30 };
  const busyBefore = await waitQuiet();
  const d = await ctx.daemon('backlog', { sinks, queue });
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

export default {
  id: 'backlog',
  title: 'backlog: RSS while events pile up behind a dead sink, then the drain',
  field: 'backlog',
  needs: [],
  run: (ctx) => backlog(ctx),
};

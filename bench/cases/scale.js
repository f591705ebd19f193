// --scaling (= --cases=scale): case 4 vs case 1 by connections (1/16/64/256) and body size.
import fs from 'node:fs';
import path from 'node:path';
import { metrics } from '../lib/daemon.js';
import { PATH, QUIET_WAIT_S, runLoad, startPlainServer, summarizeCase, waitQuiet } from '../lib/load.js';
import { fmt } from '../lib/report.js';
import { stopChild } from '../lib/util.js';
import { fileSink } from './4-file-sink.js';

const SCALE_SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 5);
const SCALE_WARMUP = Number(process.env.BENCH_SCALE_WARMUP ?? 1);
const SCALE_BIG_CONNECTIONS = Number(process.env.BENCH_SCALE_BIG_CONNECTIONS ?? 16);
const log = (...a) => console.error('[bench]', ...a);

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

async function scalePoint(ctx, p) {
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
  const sinkDir = path.join(ctx.tmp, 'scale-sink');
  const d = await ctx.daemon('scale', { sinks: fileSink(sinkDir) });
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

async function scaling(ctx) {
  const rows = [];
  for (const p of scalePoints()) {
    log(`scale ${p.point}: ceiling then im-bridge, ${p.connections} connections, warm-up ${SCALE_WARMUP}s + ${SCALE_SECONDS}s`);
    try {
      const r = await scalePoint(ctx, p);
      rows.push(r);
      log(`scale ${p.point}: im-bridge ${fmt(r.bridge.requests_per_s)} req/s (${r.bridge.failed} failed), ceiling ${fmt(r.ceiling.requests_per_s)} req/s, ratio ${fmt(r.ratio, 2)}`);
    } catch (e) {
      rows.push({ ...p, unavailable: true, reason: e.message });
      log(`scale ${p.point}: failed — ${e.message.split('\n')[0]}`);
    }
  }
  return { seconds: SCALE_SECONDS, warmup_seconds: SCALE_WARMUP, daemon_sink: 'file (case 4 config)', rows };
}

export default {
  id: 'scale',
  title: 'scaling: im-bridge → file sink vs ceiling by connections and body size',
  field: 'scaling',
  needs: [],
  run(ctx) {
    log(`scaling: ${scalePoints().length} points × (ceiling + im-bridge), warm-up ${SCALE_WARMUP}s + ${SCALE_SECONDS}s each`);
    return scaling(ctx);
  },
};

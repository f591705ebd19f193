#!/usr/bin/env node
// Summarizes V8 .cpuprofile files (from `node --cpu-prof`): top self-time functions and time per
// module/area.   node bench/lib/cpuprofile.js FILE.cpuprofile [top=25]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function area(url, fn) {
  if (!url) {
    if (fn === '(idle)') return '(idle)';
    if (fn === '(garbage collector)') return '(gc)';
    if (fn === '(program)') return '(program: native/V8, outside JS)';
    return `(native) ${fn}`;
  }
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(ROOT)) u = u.slice(ROOT.length + 1);
  if (u.startsWith('node:')) return u.split('/').slice(0, 2).join('/');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 13).split('/');
    return `npm:${rest[0].startsWith('@') ? rest.slice(0, 2).join('/') : rest[0]}`;
  }
  return u;
}

export function summarize(file, top = 25) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const deltas = prof.timeDeltas;
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  let idle = 0;
  const fns = new Map();
  const areas = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    if (name === '(idle)') idle += us;
    const a = area(callFrame.url, name);
    const key = `${name} ${a}:${callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us) => +((100 * us) / busy).toFixed(1);
  const sorted = (m) => [...m].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]);
  return {
    file: path.basename(file),
    wall_s: +((prof.endTime - prof.startTime) / 1e6).toFixed(2),
    busy_s: +(busy / 1e6).toFixed(2),
    idle_s: +(idle / 1e6).toFixed(2),
    top_self: sorted(fns).slice(0, top).map(([k, us]) => ({ fn: k, self_ms: Math.round(us / 1000), pct_of_busy: pct(us) })),
    by_area: sorted(areas).slice(0, top).map(([k, us]) => ({ area: k, self_ms: Math.round(us / 1000), pct_of_busy: pct(us) })),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const s = summarize(process.argv[2], Number(process.argv[3] ?? 25));
  console.log(`${s.file}: wall ${s.wall_s}s, busy ${s.busy_s}s, idle ${s.idle_s}s`);
  console.table(s.top_self);
  console.table(s.by_area);
}

// /proc readers: per-process CPU (utime+stime), RSS (VmRSS sampled, VmHWM peak), machine-wide CPU.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {}

/** CPU seconds (user, sys) consumed so far by a process (all its threads). */
export function procCpu(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes comm: state is field 3; utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(rest[11]) / CLK_TCK, sys: Number(rest[12]) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** CPU seconds per thread of a process: Map tid → { name, cpu } (/proc/<pid>/task/<tid>/stat). */
export function threadCpu(pid) {
  const out = new Map();
  let tids = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), { name, cpu: (Number(rest[11]) + Number(rest[12])) / CLK_TCK });
    } catch {}
  }
  return out;
}

/**
 * CPU seconds per thread of the first (server) process over the window, summed by thread name
 * (the main thread is "main"; Node names worker threads after their `name` option only in the
 * inspector, so OS names repeat and are numbered in order of thread id).
 */
function threadDeltas(pid, before, after) {
  const out = {};
  const seen = {};
  for (const [tid, t] of [...after].sort((a, b) => a[0] - b[0])) {
    const cpu = t.cpu - (before.get(tid)?.cpu ?? 0);
    if (cpu <= 0) continue;
    const base = tid === pid ? 'main' : t.name;
    seen[base] = (seen[base] ?? 0) + 1;
    out[seen[base] > 1 ? `${base}#${seen[base]}` : base] = +cpu.toFixed(2);
  }
  return out;
}

/** { rssMb, hwmMb } from /proc/<pid>/status. */
export function procMem(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { rssMb: rss ? Number(rss[1]) / 1024 : undefined, hwmMb: hwm ? Number(hwm[1]) / 1024 : undefined };
  } catch {
    return {};
  }
}

/** Machine-wide busy and total CPU seconds (all cores) from /proc/stat. */
export function machineCpu() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / CLK_TCK, total: (busy + idle + iowait) / CLK_TCK };
}

/** pids (other than ours) whose command line matches `re`. */
export function findPids(re) {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (re.test(cmd)) out.push(Number(name));
    } catch {}
  }
  return out;
}

/**
 * Watches processes over a measured window: CPU delta per pid, sampled max VmRSS, and machine-wide
 * busy CPU (to see how much CPU something else on the machine took during the window).
 */
export class Monitor {
  constructor(pids, sampleMs = 200) {
    this.pids = pids;
    this.sampleMs = sampleMs;
    this.maxRss = Object.fromEntries(pids.map((p) => [p, 0]));
  }
  start() {
    this.t0 = performance.now();
    this.cpu0 = Object.fromEntries(this.pids.map((p) => [p, procCpu(p)]));
    this.threads0 = threadCpu(this.pids[0]);
    this.m0 = machineCpu();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
  }
  sample() {
    for (const p of this.pids) {
      const { rssMb } = procMem(p);
      if (rssMb !== undefined && rssMb > this.maxRss[p]) this.maxRss[p] = rssMb;
    }
  }
  stop() {
    clearInterval(this.timer);
    this.sample();
    const wall = (performance.now() - this.t0) / 1000;
    const m1 = machineCpu();
    const perPid = {};
    for (const p of this.pids) {
      const a = this.cpu0[p];
      const b = procCpu(p);
      const mem = procMem(p);
      perPid[p] = {
        cpu_user_s: a && b ? +(b.user - a.user).toFixed(2) : undefined,
        cpu_sys_s: a && b ? +(b.sys - a.sys).toFixed(2) : undefined,
        cpu_cores: a && b ? +((b.user - a.user + b.sys - a.sys) / wall).toFixed(2) : undefined,
        rss_max_sampled_mb: Math.round(this.maxRss[p]),
        peak_rss_hwm_mb: mem.hwmMb !== undefined ? Math.round(mem.hwmMb) : undefined,
      };
    }
    return { wall_s: +wall.toFixed(2), machine_busy_cores: +((m1.busy - this.m0.busy) / wall).toFixed(2), perPid, threads: threadDeltas(this.pids[0], this.threads0, threadCpu(this.pids[0])) };
  }
}

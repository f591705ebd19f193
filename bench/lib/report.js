// The bench's console report: the cases table, the targets (ratios), --scaling, --backlog, the
// micro-benchmarks, --profile, and with --baseline the current-vs-baseline comparison.

/** The notes of the results JSON (the first is printed under the table). */
export function notes(cases, cores) {
  return [
    `Server, load generator${cases.has('3') || cases.has('5') || cases.has('5t') ? ', Kafka broker' : ''} and anything else on the machine share ${cores} cores: a server can use at most what the load generator leaves. "srv CPU" = user+sys of the server process over the measured window (/proc/<pid>/stat); "µs/req" = server CPU per answered request (comparable across cases whatever the contention); "other CPU" = machine-wide busy minus server, load generator (and broker).`,
    'Latency = load generator send → last response byte, requests sent in the measured window only. Case 4h is open loop (fixed arrival rate), latency from the scheduled send time; loadgen_send_slip_ms says how late the generator itself sent (its own CPU starvation, counted in that latency).',
    'Peak RSS = VmHWM of the server process (lifetime peak, includes warm-up).',
  ];
}

export const fmt = (x, d = 0) => (x === null || x === undefined ? '–' : typeof x === 'number' ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : String(x));

/** A row's case id; with --baseline / --repeat also its tree and repetition. */
const caseLabel = (r) => (r.tree ? `${r.case}${r.tree === 'baseline' ? ' (base)' : ''}${r.rep > 1 ? ` #${r.rep}` : ''}` : r.case);

export function table(rows) {
  const head = ['case', 'req/s', 'events/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'fail', 'srv CPU', 'µs/req', 'srv peak RSS', 'loadgen CPU', 'other CPU', 'notes'];
  const body = rows.map((r) =>
    r.unavailable && r.requests_per_s === undefined
      ? [caseLabel(r), '–', '–', '–', '–', '–', '–', '–', '–', '–', '–', '–', `UNAVAILABLE: ${r.reason.split('\n')[0].slice(0, 110)}`]
      : [
          caseLabel(r),
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

/** --threads: case 4 by listen.threads (bench/cases/threads.js). */
export function threadsTable(result) {
  const head = ['threads', 'req/s', 'p99 ms', 'µs/req', '÷ 1 thread', 'peak RSS', 'µs/req by thread'];
  const body = result.rows.map((r) =>
    r.unavailable
      ? [r.threads, `FAILED: ${r.reason.split('\n')[0].slice(0, 100)}`]
      : [r.threads, fmt(r.requests_per_s), fmt(r.latency_ms.p99, 2), fmt(r.server_cpu.us_per_request), fmt(r.cpu_per_request_vs_1_thread, 2), `${fmt(r.server_peak_rss_mb)} MB`, Object.entries(r.server_threads_us_per_request ?? {}).filter(([, v]) => v >= 3).map(([k, v]) => `${k} ${v}`).join(', ')],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => (i === cells.length - 1 ? String(c ?? '') : String(c ?? '').padStart(widths[i]))).join('  ');
  return ['Ingest threads (listen.threads), case 4 load:', line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export function scaleTable(sc) {
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

export function backlogReport(b) {
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

export function ratios(byCase) {
  const c = (k) => byCase[k];
  const ok = (k) => c(k) && !c(k).unavailable;
  const ratio = (a, b) => (a && b ? +(a / b).toFixed(2) : null);
  const out = [];
  const add = (name, value, target, pass, note) => out.push({ name, value, target, pass: value === null ? null : pass, note });
  const r41 = ok('4') && ok('1') ? ratio(c('4').requests_per_s, c('1').requests_per_s) : null;
  add('4/1 im-bridge vs bare hyper-express (req/s)', r41, '≥ 0.5', r41 >= 0.5);
  const cpu41 = ok('4') && ok('1') ? ratio(c('4').server_cpu.us_per_request, c('1').server_cpu.us_per_request) : null;
  add('4÷1 server CPU per request (µs/req 4 ÷ µs/req 1)', cpu41, '≤ 3', cpu41 !== null && cpu41 <= 3);
  const r42 = ok('4') && ok('2') ? ratio(c('4').requests_per_s, c('2').requests_per_s) : null;
  add('4/2 im-bridge vs naive appendFile+fsync (req/s)', r42, '≥ 2.5', r42 >= 2.5);
  const r4F = ok('4') && ok('F') ? ratio(c('4').requests_per_s, c('F').requests_per_s) : null;
  add('4/F im-bridge vs Apache Flume → file_roll (req/s)', r4F, '≥ 8', r4F >= 8, c('F')?.unavailable ? `F unavailable: ${c('F').reason.split('\n')[0].slice(0, 160)}` : undefined);
  const p99 = ok('4h') ? c('4h').latency_ms.p99 : null;
  add('p99 ack latency at half max rate (ms)', p99, '≤ 10', p99 !== null && p99 <= 10);
  // The same rate through one appendFile + fsync per request: how much of 4h's tail is the disk's.
  const p99naive = ok('2h') ? c('2h').latency_ms.p99 : null;
  add('  (info) p99 of the naive fsync server at that rate (ms, case 2h)', p99naive, '–', null);
  const e5 = ok('5') ? c('5').events_per_s : null;
  add('5 end to end into Kafka (events/s)', e5, '≥ 20000', e5 >= 20_000, c('5')?.unavailable ? `unavailable: ${c('5').reason.split('\n')[0].slice(0, 200)}` : undefined);
  const r53 = ok('5') && ok('3') ? ratio(c('5').events_per_s, c('3').events_per_s) : null;
  add('  (info) 5/3 im-bridge→Kafka vs naive producer.send (events/s)', r53, '≥ 3', r53 >= 3);
  const r5F = ok('5') && ok('Fk') ? ratio(c('5').events_per_s, c('Fk').events_per_s) : null;
  add('5/Fk im-bridge→Kafka vs Apache Flume → Kafka (events/s)', r5F, '≥ 3', r5F >= 3, c('Fk')?.unavailable ? `Fk unavailable: ${c('Fk').reason.split('\n')[0].slice(0, 160)}` : undefined);
  const rss = ['4', '4h', '5'].filter(ok).map((k) => c(k).server_peak_rss_mb ?? 0);
  const maxRss = rss.length ? Math.max(...rss) : null;
  add('im-bridge peak RSS under load (MB, VmHWM, cases 4/4h/5)', maxRss, '≤ 200', maxRss !== null && maxRss <= 200);
  return out;
}

export function ratioTable(rs) {
  const w = Math.max(...rs.map((r) => r.name.length));
  return rs.map((r) => `${r.name.padEnd(w)}  ${fmt(r.value, 2).padStart(9)}  target ${r.target.padEnd(8)} ${r.target === '–' ? 'info' : r.pass === null ? 'n/a' : r.pass ? 'PASS' : 'MISS'}${r.note ? `  (${r.note})` : ''}`).join('\n');
}

/** Everything after the JSON is written, as `npm run bench` always printed it. */
export function printReport(result, { anyClassic, file }) {
  const p = result.params;
  console.log(`\nim-bridge bench — ${result.git.commit?.slice(0, 10) ?? '?'}${result.git.dirty_files ? ` (+${result.git.dirty_files} uncommitted files)` : ''}, node ${result.node}, ${result.machine.cpu_model} × ${result.machine.cores} cores`);
  console.log(`${anyClassic ? `${p.connections} keep-alive connections (pipelining 1), warm-up ${p.warmup_seconds}s + ${p.seconds}s measured per case, ` : ''}all requests signed; payload mix ${Object.entries(p.payload.kinds).map(([k, v]) => `${k} ${Math.round(v.share * 100)}% (~${v.avg_bytes} B)`).join(', ')}; avg body ${p.payload.avg_body_bytes} B\n`);
  if (anyClassic) {
    console.log(table(result.cases));
    console.log(`\nNOTE: ${result.notes[0]}`);
    console.log('\nTargets (design.md §8):');
    console.log(ratioTable(result.ratios));
  }
  if (result.threads?.rows) console.log(`\n${threadsTable(result.threads)}`);
  if (result.scaling) console.log(`\n${scaleTable(result.scaling)}`);
  if (result.backlog) console.log(`\n${backlogReport(result.backlog)}`);
  if (result.queue_store?.rows) {
    console.log(`\nQueue store: an event's life (append, then its delivery recorded in the next commit), ~${result.queue_store.record_bytes} B events, one fsync per commit — records/s and CPU µs per event`);
    const rows = result.queue_store.rows;
    const batches = [...new Set(rows.map((r) => r.batch))];
    const stores = [...new Set(rows.map((r) => r.store))];
    console.log(['batch'.padStart(6), ...stores.map((s) => s.padStart(26))].join('  '));
    for (const b of batches) {
      const cells = stores.map((s) => {
        const r = rows.find((x) => x.batch === b && x.store === s);
        return (r ? `${fmt(r.records_per_s)}/s ${fmt(r.cpu_us_per_event, 1)} µs` : '–').padStart(26);
      });
      console.log([String(b).padStart(6), ...cells].join('  '));
    }
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
  if (result.comparison) console.log(`\n${compareTable(result.comparison)}`);
  console.log(`\nJSON: ${file}`);
}

const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : +((s[mid - 1] + s[mid]) / 2).toFixed(2);
};
const COMPARED = [
  ['req/s', (r) => r.requests_per_s, 0],
  ['events/s', (r) => r.events_per_s, 0],
  ['p50 ms', (r) => r.latency_ms?.p50, 2],
  ['p99 ms', (r) => r.latency_ms?.p99, 2],
  ['µs/req', (r) => r.server_cpu?.us_per_request, 0],
  ['peak RSS MB', (r) => r.server_peak_rss_mb, 0],
];

/**
 * --baseline: for each compared case, the runs of both trees (interleaved: current, baseline, current…),
 * the median of each metric per tree and the ratio current ÷ baseline.
 */
export function comparison(runs, baseline) {
  const cases = [...new Set(runs.map((r) => r.case))];
  return {
    baseline,
    rows: cases.map((id) => {
      const of = (tree) => runs.filter((r) => r.case === id && r.tree === tree && !r.unavailable);
      const [cur, base] = [of('current'), of('baseline')];
      const metrics = COMPARED.map(([name, get, digits]) => {
        const a = median(cur.map(get));
        const b = median(base.map(get));
        return { name, current: a, baseline: b, ratio: a !== null && b ? +(a / b).toFixed(2) : null, digits };
      }).filter((m) => m.current !== null || m.baseline !== null);
      const failed = runs.filter((r) => r.case === id && r.unavailable).map((r) => `${r.tree}: ${r.reason.split('\n')[0].slice(0, 100)}`);
      return { case: id, runs: { current: cur.length, baseline: base.length }, metrics, failed };
    }),
  };
}

export function compareTable(c) {
  const lines = [`Before/after (--baseline ${c.baseline.dir}, ${c.baseline.commit?.slice(0, 10) ?? '?'}): medians per tree, ratio = current ÷ baseline`];
  const head = ['case', 'metric', 'current', 'baseline', 'ratio', 'runs'];
  const body = [];
  for (const row of c.rows) {
    for (const m of row.metrics) body.push([row.case, m.name, fmt(m.current, m.digits), fmt(m.baseline, m.digits), fmt(m.ratio, 2), `${row.runs.current}+${row.runs.baseline}`]);
    for (const f of row.failed) body.push([row.case, 'FAILED', f, '', '', '']);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((x, i) => (i < 2 ? String(x).padEnd(widths[i]) : String(x).padStart(widths[i]))).join('  ');
  lines.push(line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line));
  return lines.join('\n');
}

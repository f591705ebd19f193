/**
 * The stdout sink through the conformance kit (incl. its hostile event), in a child process whose
 * standard output is captured: every event one line of JSON, each id at the destination.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { REPO_ROOT } from '../../helpers/daemon.js';

const script = `
const { runSinkConformance, formatConformanceReport } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/sink/conformance.js'))});
const plugin = (await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/plugins/stdout/index.js'))})).default;
const lines = [];
let partial = '';
process.stdout.write = (chunk, cb) => {
  partial += String(chunk);
  let nl;
  while ((nl = partial.indexOf('\\n')) >= 0) { lines.push(partial.slice(0, nl)); partial = partial.slice(nl + 1); }
  if (typeof cb === 'function') queueMicrotask(() => cb());
  return true;
};
const seen = () => new Set(lines.map((l) => JSON.parse(l).id));
const report = await runSinkConformance(plugin, { config: {}, verify: async (ids) => ids.filter((id) => seen().has(id)) });
let oneLine = true;
for (const l of lines) { try { JSON.parse(l); } catch { oneLine = false; } }
process.stderr.write(JSON.stringify({ passed: report.passed, text: formatConformanceReport(report), lines: lines.length, oneLine }));
`;

t.test('stdout sink passes the conformance kit; one JSON object per line, the hostile event included', async (t) => {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, run.stderr.slice(-2000));
  const result = JSON.parse(run.stderr.slice(run.stderr.indexOf('{"passed"'))) as { passed: boolean; text: string; lines: number; oneLine: boolean };
  t.ok(result.passed, result.text);
  t.ok(result.lines >= 200, `${result.lines} lines written`);
  t.ok(result.oneLine, 'every line parses as one JSON object');
});

// Issue #9 acceptance: a plugin in a folder outside the repository, built and loaded as a new user
// would; misbehaving plugins fail start-up with coded errors or are contained at runtime; types.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { formatConformanceReport, runSinkConformance } from '../../src/sink/conformance.js';
import { CLI, REPO_ROOT, groupMessage, postCallback, readEvents, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';

const TSC = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

t.test('the example plugin, copied outside the repo, builds, loads from bridge.yaml and passes the conformance kit', async (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'my-sink-'));
  const pkg = path.join(home, 'my-sink');
  fs.cpSync(path.join(REPO_ROOT, 'plugins/example'), pkg, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
  // What `npm install im-bridge @sinclair/typebox` + `npm i -D @types/node` give a user, without a registry.
  fs.mkdirSync(path.join(pkg, 'node_modules/@sinclair'), { recursive: true });
  fs.symlinkSync(REPO_ROOT, path.join(pkg, 'node_modules/im-bridge'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@sinclair/typebox'), path.join(pkg, 'node_modules/@sinclair/typebox'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@types'), path.join(pkg, 'node_modules/@types'));
  for (const dep of ['pino', 'ajv']) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dep), path.join(pkg, 'node_modules', dep));
  const build = spawnSync(process.execPath, [TSC, '-p', path.join(pkg, 'tsconfig.json')], { encoding: 'utf8' });
  t.equal(build.status, 0, `the example compiles against im-bridge/sink\n${build.stdout}${build.stderr}`);

  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  files:
    type: plugin
    module: ./${path.relative(home, path.join(pkg, 'dist/index.js'))}
    dir: ./event-files
    batch: { max_wait_ms: 5 }
routes: [ { name: all, match: { command: "Group.*" }, to: [files] } ]
`;
  const daemon = await startDaemon({ config, dir: home });
  t.teardown(() => daemon.stop());
  for (let i = 1; i <= 30; i++) t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage(`@TGS#ext${i % 3}`, i))).status, 200);
  const files = await waitFor(() => walk(path.join(home, 'event-files')).filter((f) => f.endsWith('.json')), (f) => f.length === 30);
  t.equal(files.length, 30, 'the plugin received every event of its route');
  const one = JSON.parse(fs.readFileSync(files[0]!, 'utf8'));
  t.equal(path.basename(files[0]!), `${one.id}.json`, 'file named by event id');

  const plugin = (await import(pathToFileURL(path.join(pkg, 'dist/index.js')).href)).default;
  const root = tempDir('conformance-');
  const idsAt = () => new Set(walk(root).map((f) => path.basename(f, '.json')));
  const report = await runSinkConformance(plugin, {
    config: { dir: root },
    verify: async () => idsAt(),
    idempotent: true,
    countCopies: async (id) => walk(root).filter((f) => path.basename(f) === `${id}.json`).length,
  });
  t.ok(report.passed, formatConformanceReport(report));
  t.ok(report.checks.length >= 10, 'the kit ran all its checks');
});

t.test('broken plugins fail start-up with coded errors at the bridge.yaml line', async (t) => {
  const dir = tempDir();
  const cases: Array<[string, string]> = [
    ['bad/throws-at-import.mjs', 'PLUGIN_IMPORT_FAILED'],
    ['bad/no-default.mjs', 'PLUGIN_BAD_EXPORT'],
    ['bad/wrong-api.mjs', 'PLUGIN_API_VERSION'],
    ['bad/duplicate-type.mjs', 'PLUGIN_DUPLICATE_TYPE'],
    ['does-not-exist.mjs', 'PLUGIN_NOT_FOUND'],
  ];
  for (const [fixture, code] of cases) {
    const file = path.join(dir, `${code}.yaml`);
    fs.writeFileSync(file, `apps: [ { sdk_app_id: 1 } ]\nsinks:\n  custom:\n    type: plugin\n    module: ${path.join(REPO_ROOT, 'test/fixtures/plugins', fixture)}\n`);
    const run = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8' });
    t.equal(run.status, 2, `${fixture}: exit code 2`);
    t.match(run.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:13: sinks\\.custom\\.module: .*\\[${code}\\]`), `${fixture}: ${code} at file:5:13`);
  }
  const keys = path.join(dir, 'keys.yaml');
  fs.writeFileSync(keys, `apps: [ { sdk_app_id: 1 } ]\nsinks:\n  custom:\n    type: plugin\n    module: ${path.join(REPO_ROOT, 'test/fixtures/plugins/commonjs-sink.cjs')}\n    path: ./x\n    colour: red\n`);
  const run = spawnSync(process.execPath, [CLI, 'check', '--config', keys], { encoding: 'utf8' });
  t.match(run.stderr, /keys\.yaml:7:5: sinks\.custom\.colour: unknown key "colour".*\[CONFIG_UNKNOWN_KEY\]/, 'the plugin configSchema validates its block');
});

t.test('plugins that hang or throw are contained; the other sinks keep delivering; CommonJS loads', async (t) => {
  const fixtures = path.join(REPO_ROOT, 'test/fixtures/plugins');
  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
  cjs: { type: plugin, module: ${fixtures}/commonjs-sink.cjs, path: ./cjs.ndjson, batch: { max_wait_ms: 5 } }
  hangs: { type: plugin, module: ${fixtures}/hangs-on-write.mjs, write_timeout_ms: 300, retry: { initial_backoff_ms: 50, max_backoff_ms: 200 } }
  broken: { type: plugin, module: ${fixtures}/throws-on-create.mjs, retry: { initial_backoff_ms: 50, max_backoff_ms: 200 } }
routes: [ { name: all, match: { command: "*" }, to: [archive, cjs, hangs, broken] } ]
`;
  const daemon = await startDaemon({ config });
  t.teardown(() => daemon.stop());
  for (let i = 1; i <= 20; i++) t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#contain', i))).status, 200);
  const events = await waitFor(() => readEvents(path.join(daemon.dir, 'events.ndjson')), (e) => e.length === 20);
  t.same(events.map((e) => e.data.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'the file sink delivered everything in order');
  await waitFor(() => readEvents(path.join(daemon.dir, 'cjs.ndjson')).length, (n) => n === 20);
  await daemon.waitForLog('SINK_WRITE_RETRY', 10_000, (l) => l.errorCode === 'SINK_TIMEOUT');
  await daemon.waitForLog('SINK_CONNECT_FAILED', 10_000, (l) => String(l.err).includes('simulated plugin bug'));
  const ready = (await (await fetch(`${daemon.url}/readyz`)).json()) as { sinks: Record<string, { state: string }> };
  t.equal(ready.sinks.hangs!.state, 'failing');
  t.equal(ready.sinks.broken!.state, 'connecting');
  t.equal(ready.sinks.archive!.state, 'up');
  t.equal((await fetch(`${daemon.url}/healthz`)).status, 200, 'the daemon is alive');
});

t.test('type tests: a wrong writeBatch signature or config type does not compile', async (t) => {
  const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node'];
  const ok = spawnSync(process.execPath, [TSC, ...flags, path.join(REPO_ROOT, 'test/types/ok/good-plugin.ts')], { encoding: 'utf8', cwd: REPO_ROOT });
  t.equal(ok.status, 0, `a correct plugin compiles\n${ok.stdout}`);
  for (const [file, pattern] of [
    ['wrong-write-batch.ts', /wrong-write-batch\.ts.*error TS2322/s],
    ['wrong-config-type.ts', /wrong-config-type\.ts\(\d+,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/],
  ] as const) {
    const run = spawnSync(process.execPath, [TSC, ...flags, path.join(REPO_ROOT, 'test/types/fail', file)], { encoding: 'utf8', cwd: REPO_ROOT });
    t.not(run.status, 0, `${file} fails to compile`);
    t.match(run.stdout, pattern, `${file}: the expected type error`);
  }
  void execFileSync;
});

t.test('thread: true runs a custom plugin in its own thread through the daemon: delivered, dead-lettered, logged the same', async (t) => {
  const dir = tempDir();
  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  probe:
    type: plugin
    module: ${path.join(REPO_ROOT, 'test/fixtures/plugins/thread-probe.mjs')}
    dir: ./probe
    thread: true
    batch: { max_events: 1 }   # a FatalError fails its whole batch: one event per batch isolates it
    retry: { initial_backoff_ms: 10, max_backoff_ms: 50, max_attempts: 3 }
routes: [ { name: all, match: { command: "Group.*" }, to: [probe] } ]
`;
  const daemon = await startDaemon({ config, dir });
  t.teardown(() => daemon.stop());
  for (let i = 1; i <= 12; i++) {
    const text = i === 7 ? 'fatal' : `message ${i}`;
    t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage(`@TGS#thr${i % 3}`, i, text))).status, 200);
  }
  await daemon.waitForLog('EVENT_DEAD_LETTERED', 30_000);
  const writes = await waitFor(
    () => fs.readFileSync(path.join(dir, 'probe/writes.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ids: string[]; isMainThread: boolean }),
    (w) => new Set(w.flatMap((x) => x.ids)).size >= 12,
  );
  t.ok(writes.every((w) => w.isMainThread === false), 'every write ran in the sink thread');
  t.ok(daemon.logs.some((l) => l.code === 'PROBE_CREATED' && l.sink === 'probe'), "the plugin's log line is in the daemon's log, with its sink");
  const listed = execFileSync(process.execPath, [CLI, 'dlq', 'list', '--config', daemon.configFile], { encoding: 'utf8' });
  t.match(listed, /PROBE_FATAL/, 'the fatal event is dead-lettered with the code thrown in the thread');
  t.equal(listed.match(/PROBE_FATAL/g)?.length, 1, 'only that one');
  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  t.match(metrics, /im_bridge_sink_plugin_events_total\{sink="probe",name="probe_events"\} \d+/, 'ctx.count from the thread is exported');
});

// Issue #24 acceptance: a transform plugin written outside the repository with only the public SDK
// (im-bridge/sink + TypeBox), compiled with tsc, loaded from bridge.yaml by path. One that throws on
// every tenth event: those events are dead-lettered for that sink alone (TRANSFORM_FAILED), the
// others are delivered in order, another sink of the same route gets everything; a replay of the
// dead letters fails again identically (a transform is a pure function of the stored event).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import t from 'tap';
import { CLI, REPO_ROOT, groupMessage, postCallback, readEvents, startDaemon, waitFor } from '../helpers/daemon.js';

const TSC = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

const SOURCE = `
import { Type } from '@sinclair/typebox';
import { defineTransform, type CanonicalEvent } from 'im-bridge/sink';

/** Adds a tenant field; leaves out messages that say "skip"; throws on every fail_every-th MsgSeq. */
export default defineTransform({
  type: 'tenant_tagger',
  apiVersion: '1',
  configSchema: Type.Object({
    tenant: Type.String({ minLength: 1 }),
    fail_every: Type.Integer({ minimum: 0, default: 0 }),
  }),
  create(config, ctx) {
    ctx.logger.info({ tenant: config.tenant }, 'tenant_tagger ready');
    return async (event: CanonicalEvent): Promise<CanonicalEvent | null> => {
      const seq = event.data.seq ?? 0;
      if (config.fail_every > 0 && seq % config.fail_every === 0) throw new Error('refusing seq ' + seq);
      if (event.data.text?.includes('skip')) return null;
      event.data.tenant = config.tenant;
      return event;
    };
  },
});
`;

const TSCONFIG = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'dist', rootDir: 'src', types: ['node'] }, include: ['src'] };

function metric(text: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`im_bridge_transform_events_total{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

t.test('a custom transform plugin built outside the repository loads, runs, and fails every tenth event alone', async (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'my-transform-'));
  const pkg = path.join(home, 'tenant-tagger');
  fs.mkdirSync(path.join(pkg, 'src'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'src/index.ts'), SOURCE);
  fs.writeFileSync(path.join(pkg, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'tenant-tagger', type: 'module', main: 'dist/index.js' }));
  // What `npm install im-bridge @sinclair/typebox` + `npm i -D @types/node` give a user, without a registry.
  fs.mkdirSync(path.join(pkg, 'node_modules/@sinclair'), { recursive: true });
  fs.symlinkSync(REPO_ROOT, path.join(pkg, 'node_modules/im-bridge'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@sinclair/typebox'), path.join(pkg, 'node_modules/@sinclair/typebox'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@types'), path.join(pkg, 'node_modules/@types'));
  for (const dep of ['pino']) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dep), path.join(pkg, 'node_modules', dep));
  const build = spawnSync(process.execPath, [TSC, '-p', path.join(pkg, 'tsconfig.json')], { encoding: 'utf8' });
  t.equal(build.status, 0, `the plugin compiles against im-bridge/sink\n${build.stdout}${build.stderr}`);
  // The SDK is typed: options follow configSchema, and the function must return an event or null.
  const wrong = path.join(home, 'wrong');
  fs.mkdirSync(path.join(wrong, 'src'), { recursive: true });
  fs.symlinkSync(path.join(pkg, 'node_modules'), path.join(wrong, 'node_modules'));
  fs.writeFileSync(path.join(wrong, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, compilerOptions: { ...TSCONFIG.compilerOptions, noEmit: true } }));
  fs.writeFileSync(
    path.join(wrong, 'src/index.ts'),
    `import { Type } from '@sinclair/typebox';\nimport { defineTransform } from 'im-bridge/sink';\nexport default defineTransform({ type: 'w', apiVersion: '1', configSchema: Type.Object({ n: Type.Integer() }), create: (config) => { const s: string = config.n; return () => 42; } });\n`,
  );
  const refused = spawnSync(process.execPath, [TSC, '-p', path.join(wrong, 'tsconfig.json')], { encoding: 'utf8' });
  t.not(refused.status, 0, 'a wrong option type and a non-event result do not compile');
  t.match(refused.stdout, /TS2322/, refused.stdout);

  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  tagged:
    type: file
    path: ./tagged.ndjson
    batch: { max_events: 25, max_wait_ms: 5 }
    transforms:
      - plugin: ./tenant-tagger/dist/index.js
        options: { tenant: acme, fail_every: 10 }
        timeout_ms: 2000
  full:
    type: file
    path: ./full.ndjson
routes: [ { name: all, match: { command: "Group.*" }, to: [tagged, full] } ]
`;
  const daemon = await startDaemon({ config, dir: home });
  t.teardown(() => daemon.stop());
  const TOTAL = 100;
  for (let seq = 1; seq <= TOTAL; seq++) {
    const text = seq === 55 ? 'please skip me' : `message ${seq}`;
    t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage(`@TGS#tp${seq % 3}`, seq, text))).status, 200);
  }
  const full = await waitFor(() => readEvents(path.join(home, 'full.ndjson')), (e) => e.length === TOTAL);
  const tagged = await waitFor(() => readEvents(path.join(home, 'tagged.ndjson')), (e) => e.length === TOTAL - 10 - 1);
  t.equal(full.length, TOTAL, 'the other sink of the route got every event, untransformed');
  t.ok(full.every((e) => !('tenant' in e.data)));
  const expected = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((s) => s % 10 !== 0 && s !== 55);
  t.same(tagged.map((e) => e.data.seq).sort((a, b) => a - b), expected, 'the rest delivered, each once');
  for (const group of [0, 1, 2]) {
    const seqs = tagged.filter((e) => e.subject === `group/@TGS#tp${group}`).map((e) => e.data.seq);
    t.same(seqs, expected.filter((s) => s % 3 === group), `group ${group}: in order (per conversation)`);
  }
  t.ok(tagged.every((e) => e.data.tenant === 'acme'), 'the plugin ran on each delivered event');
  t.ok(daemon.logs.some((l) => l.msg === 'tenant_tagger ready'), 'the plugin logs through the host logger');

  const letters = await waitFor(
    () => JSON.parse(execFileSync(process.execPath, [CLI, 'dlq', 'list', '--json', '--config', daemon.configFile], { encoding: 'utf8', cwd: home })) as Array<Record<string, any>>,
    (l) => l.length === 10,
  );
  t.equal(letters.length, 10, 'ten dead letters');
  t.ok(letters.every((l) => l.sink === 'tagged'), 'for the transformed sink only');
  t.ok(letters.every((l) => JSON.stringify(l).includes('TRANSFORM_FAILED')), 'with the code');
  const expectedIds = full.filter((e) => e.data.seq % 10 === 0).map((e) => e.id).sort();
  t.same(letters.map((l) => l.eventId ?? l.event_id).sort(), expectedIds, 'exactly the tenth events');

  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  t.equal(metric(metrics, 'sink="tagged",transform="tenant_tagger",outcome="failed"'), 10, 'failed, counted per sink and transform');
  t.equal(metric(metrics, 'sink="tagged",transform="tenant_tagger",outcome="filtered"'), 1, 'filtered, counted');
  t.equal(metric(metrics, 'sink="tagged",transform="tenant_tagger",outcome="passed"'), TOTAL - 11);

  // Replay: the stored events go through the same transform again and fail the same way.
  execFileSync(process.execPath, [CLI, 'dlq', 'replay', '--sink', 'tagged', '--config', daemon.configFile], { encoding: 'utf8', cwd: home });
  await waitFor(
    async () => metric(await (await fetch(`${daemon.url}/metrics`)).text(), 'sink="tagged",transform="tenant_tagger",outcome="failed"'),
    (n) => n === 20,
  );
  const after = await waitFor(
    () => JSON.parse(execFileSync(process.execPath, [CLI, 'dlq', 'list', '--json', '--config', daemon.configFile], { encoding: 'utf8', cwd: home })) as Array<Record<string, any>>,
    (l) => l.length === 10 && l.every((x) => JSON.stringify(x).includes('TRANSFORM_FAILED')),
  );
  t.equal(after.length, 10, 'replayed and dead-lettered again, identically');
  t.equal(readEvents(path.join(home, 'tagged.ndjson')).length, TOTAL - 11, 'nothing new delivered by the replay');
});

t.test('a transform plugin with bad options fails start-up at its bridge.yaml line', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bad-transform-'));
  const file = path.join(dir, 'bridge.yaml');
  fs.writeFileSync(
    file,
    `apps: [ { sdk_app_id: 1 } ]\nsinks:\n  out:\n    type: stdout\n    transforms:\n      - plugin: ${path.join(REPO_ROOT, 'test/fixtures/transforms/tenant.mjs')}\n        options: { tenant: 42 }\n`,
  );
  const run = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8' });
  t.equal(run.status, 2);
  t.match(run.stderr, new RegExp(`bridge\\.yaml:7:28: sinks\\.out\\.transforms\\[0\\]\\.options\\.tenant: .*\\[CONFIG_INVALID_VALUE\\]`));
});

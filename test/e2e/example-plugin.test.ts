/**
 * The example plugin (plugins/example, the model the plugin guide says to copy), built from a copy
 * outside the repository as a user would (tsc against im-bridge/sink), on real directories:
 * group and account ids that try to leave its directory (`..`, `/`, `\`, absolute paths, NUL, lone
 * surrogates, 5,000 characters) write only under `dir`, each to its own file, driven directly and
 * through the daemon; safeSegment is a safe, injective file name for any string; the conformance
 * kit passes with its default hostile event.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { Ajv } from 'ajv';
import { pino } from 'pino';
import t from 'tap';
import { formatConformanceReport, runSinkConformance } from '../../src/sink/conformance.js';
import type { CanonicalEvent, PartialBatchError, Sink, SinkPlugin } from '../../src/sink/api.js';
import { groupEvent } from '../helpers/events.js';
import { REPO_ROOT, groupMessage, postMany, startDaemon, waitFor } from '../helpers/daemon.js';

interface ExampleModule {
  default: SinkPlugin;
  safeSegment(value: string): string;
  eventPath(root: string, event: CanonicalEvent): { folder: string; target: string };
}

/** Copies plugins/example outside the repo, links what `npm install` would give, builds it, imports dist/. */
function buildExample(): { pkg: string; load: () => Promise<ExampleModule> } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'example-sink-'));
  const pkg = path.join(home, 'my-sink');
  fs.cpSync(path.join(REPO_ROOT, 'plugins/example'), pkg, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
  fs.mkdirSync(path.join(pkg, 'node_modules/@sinclair'), { recursive: true });
  fs.symlinkSync(REPO_ROOT, path.join(pkg, 'node_modules/im-bridge'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@sinclair/typebox'), path.join(pkg, 'node_modules/@sinclair/typebox'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@types'), path.join(pkg, 'node_modules/@types'));
  for (const dep of ['pino', 'ajv']) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dep), path.join(pkg, 'node_modules', dep));
  const build = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(pkg, 'tsconfig.json')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the example does not build:\n${build.stdout}${build.stderr}`);
  return { pkg, load: () => import(pathToFileURL(path.join(pkg, 'dist/index.js')).href) as Promise<ExampleModule> };
}

const example = buildExample();
const { default: plugin, safeSegment, eventPath } = await example.load();
t.teardown(() => fs.rmSync(path.dirname(example.pkg), { recursive: true, force: true }));

/** Every file and directory under `dir`, as absolute paths. */
function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name);
    return d.isDirectory() ? [full, ...walk(full)] : [full];
  });
}

const inside = (root: string, p: string) => {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

/** A sandbox with the plugin's dir deep inside it, so that `../../..` from dir still lands in the sandbox, where we can see it. */
function sandbox(t: { teardown(fn: () => unknown): void }): { box: string; dir: string } {
  const box = fs.mkdtempSync(path.join(os.tmpdir(), 'example-plugin-'));
  t.teardown(() => fs.rmSync(box, { recursive: true, force: true }));
  const dir = path.join(box, 'a', 'b', 'c', 'events');
  return { box, dir };
}

async function makeSink(t: { teardown(fn: () => unknown): void }, dir: string): Promise<Sink> {
  const ajv = new Ajv({ useDefaults: true, strict: false });
  const config = { dir };
  if (!ajv.validate(plugin.configSchema, config)) throw new Error(ajv.errorsText());
  const sink = await plugin.create(config as never, { name: 'files', logger: pino({ level: 'silent' }), signal: new AbortController().signal, configDir: '/', count: () => undefined });
  await sink.connect(new AbortController().signal);
  t.teardown(() => sink.close());
  return sink;
}

/**
 * Ids that try to leave the directory. The ones that write climb at most 5 levels from the event's
 * folder (dir/group/<id>), and absolute ones point into the sandbox: were the plugin to follow them,
 * the escape would land inside the sandbox, where the test sees it, not in / or /etc.
 */
const hostileIds = (box: string) => ['../../..', '..', '.', `${box}/etc/x`, 'a/../../b', '..\\..\\x', 'C:\\x', '\u0000', 'x\u0000/../y', '@TGS#\ud800x', '@TGS#\udbffx', '\ufffd', '%2e%2e', '%', '', '~', 'x'.repeat(5000), '../'.repeat(5) + 'climbed'];
/** For the checks that only compute paths (nothing is written), the literal ids of the issue too. */
const PATH_ONLY_IDS = ['/etc/x', '../'.repeat(300), '/', '\\\\server\\share'];

t.test('traversal ids in the group id and in c2c accounts write only under dir, one file each', async (t) => {
  const { box, dir } = sandbox(t);
  const sink = await makeSink(t, dir);
  const events: CanonicalEvent[] = hostileIds(box).map((g, i) => groupEvent({ id: `evt-g${i}`, groupId: g, seq: i, text: `group ${i}` }));
  // A c2c subject is c2c/<a>/<b>: account ids as path segments too, an absolute path into the sandbox included.
  for (const [i, a] of ['../../../escaped', `${box}/absolute`, '/tmp', '..'].entries()) {
    const e = groupEvent({ id: `evt-c${i}`, groupId: 'x', seq: i, text: `c2c ${i}` });
    events.push({ ...e, subject: `c2c/${a}/${a}/..`, data: { ...e.data, family: 'c2c', conversation: { kind: 'c2c', accounts: [a, a] } } });
  }
  const error = await sink.writeBatch(events, new AbortController().signal).catch((e: unknown) => e);
  t.equal(error, undefined, 'every event written (none refused or failed)');

  const everything = walk(box);
  const outside = everything.filter((p) => p !== dir && !inside(dir, p) && !inside(p, dir) && !dir.startsWith(p + path.sep));
  t.same(outside, [], 'nothing created in the sandbox outside dir');
  t.same(walk(path.join(box, 'a')).filter((p) => !(p === dir || inside(dir, p) || dir.startsWith(p + path.sep))), [], 'nor next to dir');
  const files = everything.filter((p) => fs.statSync(p).isFile());
  t.equal(files.length, events.length, 'one file per event');
  t.ok(files.every((f) => inside(dir, f)), 'every file under dir');
  t.same(new Set(files.map((f) => path.basename(f))), new Set(events.map((e) => `${e.id}.json`)), 'each named by its event id');
  for (const f of files) {
    const stored = JSON.parse(fs.readFileSync(f, 'utf8')) as CanonicalEvent;
    t.equal(path.basename(f), `${stored.id}.json`);
  }
  const folders = new Set(files.map((f) => path.dirname(f)));
  t.equal(folders.size, new Set(events.map((e) => e.subject)).size, 'distinct subjects, distinct folders (lone surrogates included)');
  t.ok([...folders].every((f) => path.relative(dir, f).split(path.sep).every((seg) => /^[A-Za-z0-9_%~-]+$/.test(seg) && Buffer.byteLength(seg) <= 255)), 'every path segment is a plain, short name');
});

t.test('safeSegment: a plain file name for any string, injective, bounded', async (t) => {
  const cases: Array<[string, string]> = [
    ['@TGS#1ABC', '%40TGS%231ABC'],
    ['..', '%2E%2E'],
    ['.', '%2E'],
    ['a/b', 'a%2Fb'],
    ['a\\b', 'a%5Cb'],
    ['\u0000', '%00'],
    ['%2e', '%252e'],
    ['', '%'],
    ['\ud800', '%ED%A0%80'],
    ['\ufffd', '%EF%BF%BD'],
    ['群', '%E7%BE%A4'],
    ['user_1-x', 'user_1-x'],
  ];
  for (const [input, expected] of cases) t.equal(safeSegment(input), expected, JSON.stringify(input));
  const long = safeSegment('x'.repeat(5000));
  t.ok(long.length <= 120, `a 5,000-character id → ${long.length} characters`);
  t.not(safeSegment('x'.repeat(5000)), safeSegment('x'.repeat(5001)));
  t.not(safeSegment('x'.repeat(300) + '\ud800'), safeSegment('x'.repeat(300) + '\ud801'), 'the hash sees lone surrogates');
  const unit = fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('.', '..', '/', '\\', '%', '\u0000', ':'),
  );
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 80 }), fc.string({ unit, maxLength: 80 }), (a, b) => {
      const sa = safeSegment(a);
      if (!/^[A-Za-z0-9_%~-]+$/.test(sa) || sa.length > 120 || sa === '.' || sa === '..') return false;
      return a === b || sa !== safeSegment(b);
    }),
    { numRuns: 3000 },
  );
});

t.test('eventPath: any subject and id resolve under the root', async (t) => {
  const root = path.join(os.tmpdir(), 'example-root');
  for (const g of [...hostileIds(root), ...PATH_ONLY_IDS]) {
    const { folder, target } = eventPath(root, groupEvent({ id: g || 'e', groupId: g, seq: 1, text: '' }));
    t.ok(inside(root, folder) && inside(folder, target), `${JSON.stringify(g.slice(0, 40))} → ${path.relative(root, target).slice(0, 80)}`);
  }
});

t.test('one event that cannot be written fails alone (fatal, coded); the rest of the batch is written', async (t) => {
  const { dir } = sandbox(t);
  const sink = await makeSink(t, dir);
  // A regular file where the event's folder should be: ENOTDIR for that event only.
  const blocked = groupEvent({ id: 'blocked', groupId: 'blocked', seq: 1, text: '' });
  fs.mkdirSync(path.join(dir, 'group'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'group', safeSegment('blocked')), 'not a directory');
  const events = [groupEvent({ id: 'ok-1', groupId: 'g', seq: 1, text: '' }), blocked, groupEvent({ id: 'ok-2', groupId: 'blocked2', seq: 2, text: '' })];
  const error = (await sink.writeBatch(events, new AbortController().signal).catch((e: unknown) => e)) as PartialBatchError;
  t.equal(error?.name, 'PartialBatchError');
  t.match(error.failures, [{ index: 1, retriable: false, code: /^EVENT_FILES_E/ }]);
  t.equal(error.failures.length, 1);
  t.same(walk(dir).filter((f) => f.endsWith('.json')).map((f) => path.basename(f)).sort(), ['ok-1.json', 'ok-2.json']);
});

t.test('conformance kit with its default hostile event: written inside dir', async (t) => {
  const { box, dir } = sandbox(t);
  const files = () => walk(dir).filter((f) => f.endsWith('.json'));
  const report = await runSinkConformance(plugin, {
    config: { dir },
    verify: async () => new Set(files().map((f) => path.basename(f, '.json'))),
    idempotent: true,
    countCopies: async (id) => files().filter((f) => path.basename(f) === `${id}.json`).length,
    invalidConfig: { dir: '/' },
  });
  t.ok(report.passed, formatConformanceReport(report));
  t.match(report.checks.find((c) => c.name.startsWith('a hostile event'))?.detail, /hostile event written/);
  t.match(report.checks.find((c) => c.name === 'validate refuses invalidConfig'), { ok: true, detail: /^dir: is the file-system root/ }, 'validate() checked by the kit');
  t.same(walk(box).filter((p) => !(p === dir || inside(dir, p) || dir.startsWith(p + path.sep))), [], 'nothing outside dir');
});

t.test('through the daemon: callbacks with traversal group ids and accounts write only under the plugin dir', async (t) => {
  const { box, dir } = sandbox(t);
  const daemon = await startDaemon({
    dir: box,
    config: `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  files:
    type: plugin
    module: ${path.join(example.pkg, 'dist/index.js')}
    dir: ./a/b/c/events
    batch: { max_wait_ms: 5 }
    retry: { initial_backoff_ms: 50, max_backoff_ms: 200, max_attempts: 3 }
routes: [ { name: all, match: { command: "*" }, to: [files] } ]
`,
  });
  t.teardown(() => daemon.stop());
  const groups = ['../../..', '..', `${box}/etc/x`, 'a/../../b', '@TGS#\ud800x', '@TGS#\udbffx', '..\\..\\x', `${box}/absolute`, 'x'.repeat(5000)];
  const c2c = (from: string, to: string, seq: number) => ({
    CallbackCommand: 'C2C.CallbackAfterSendMsg',
    From_Account: from,
    To_Account: to,
    MsgSeq: seq,
    MsgRandom: seq,
    MsgTime: 1767225600 + seq,
    MsgKey: `${seq}_${seq}_1767225600`,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `c2c ${seq}` } }],
  });
  const items = [
    ...groups.map((g, i) => ({ command: 'Group.CallbackAfterSendMsg', body: groupMessage(g, i + 1) })),
    { command: 'C2C.CallbackAfterSendMsg', body: c2c('../../../escaped', '..', 1) },
    { command: 'C2C.CallbackAfterSendMsg', body: c2c(`${box}/abs`, '\ud800', 2) },
  ];
  const statuses = await postMany(daemon.url, items, 4);
  t.same(statuses, items.map(() => 200), 'every callback acked');
  const files = await waitFor(() => walk(dir).filter((f) => f.endsWith('.json')), (f) => f.length >= items.length, 30_000);
  t.equal(files.length, items.length, 'one file per callback');
  const outside = walk(box).filter((p) => !(p === dir || inside(dir, p) || dir.startsWith(p + path.sep)) && !inside(path.join(box, 'queue'), p) && p !== path.join(box, 'queue') && p !== path.join(box, 'bridge.yaml'));
  t.same(outside, [], 'nothing written in the sandbox outside dir (besides the queue and bridge.yaml)');
  t.notOk(daemon.logs.some((l) => l.code === 'EVENT_DEAD_LETTERED'), 'nothing dead-lettered: every id has a safe place');
  t.equal(new Set(files.map((f) => path.dirname(f))).size, items.length, 'a folder per conversation, the two lone-surrogate groups apart');
});

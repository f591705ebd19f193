// Issue 23 "CLI like a well-kept Unix tool": every documented command with --help, bad arguments and
// good ones, against a real daemon from dist/. Exit codes: 0 ok, 1 runtime failure, 2 usage/config.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { COMMANDS } from '../../src/cli/spec.js';
import { QueueStore } from '../../src/queue/store.js';
import { CLI, REPO_ROOT, freePort, groupMessage, postCallback, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';

const TOKEN = 'cli-test-token';

function cli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const env = { ...process.env, ...options.env };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v === undefined) delete env[k];
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO_ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

t.test('version and help: exit 0; no command, unknown command or option: exit 2 with a pointer to help', async (t) => {
  for (const args of [['--version'], ['-V'], ['version']]) {
    const r = cli(args);
    t.equal(r.code, 0, args.join(' '));
    t.equal(r.stdout.trim(), pkg.version);
  }
  for (const args of [['help'], ['--help'], ['-h']]) {
    const r = cli(args);
    t.equal(r.code, 0, args.join(' '));
    for (const c of COMMANDS) t.match(r.stdout, `  ${c.name}`, `${args.join(' ')} lists ${c.name}`);
    t.match(r.stdout, /Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error/);
  }
  let r = cli([]);
  t.equal(r.code, 2, 'no command');
  t.match(r.stderr, /Usage: im-bridge COMMAND/);
  r = cli(['frobnicate']);
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown command "frobnicate"/);
  r = cli(['help', 'frobnicate']);
  t.equal(r.code, 2);
  r = cli(['check', '--version']);
  t.equal(r.code, 2, 'an option the command does not have');
  t.match(r.stderr, /unknown option --version for `check`\nRun `im-bridge check --help` for usage\./);
  t.notMatch(r.stderr, /positional argument/, 'not parseArgs\' own text');
  r = cli(['dlq']);
  t.equal(r.code, 2);
  t.match(r.stderr, /im-bridge dlq list/);
  t.equal(cli(['dlq', '--help']).code, 0);
  t.equal(cli(['dlq', 'nope']).code, 2);
});

t.test('every command has its own --help (and `help COMMAND`): usage line, options, defaults; exit 0', async (t) => {
  for (const c of COMMANDS) {
    const words = c.name.split(' ');
    for (const args of [[...words, '--help'], ['help', ...words]]) {
      const r = cli(args);
      t.equal(r.code, 0, args.join(' '));
      t.match(r.stdout, new RegExp(`^Usage: im-bridge ${c.name}`), `${args.join(' ')}: its own usage line`);
      for (const option of Object.keys(c.options)) t.match(r.stdout, `--${option}`, `${c.name} --help lists --${option}`);
    }
  }
  t.equal(cli(['dlq', 'purge', '-h']).code, 0, '-h too');
  t.match(cli(['dlq', 'list', '--help']).stdout, /default 1000/, 'defaults are stated');
  t.match(cli(['send-sample', '--help']).stdout, /rounds of the 12 samples to send \(default 1\)/);
  t.match(cli(['run', '--help']).stdout, /default: \.\/bridge\.yaml/);
});

t.test('every argument is validated (exit 2), runtime failures exit 1, good arguments exit 0', async (t) => {
  const spare = await freePort();
  const daemon = await startDaemon({
    env: { CLI_TEST_TOKEN: TOKEN },
    config: `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps:
  - sdk_app_id: 1400000000
    token: \${CLI_TEST_TOKEN}
queue: { dir: ./queue }
unmatched: dead_letter
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
  spare: { type: file, path: ./spare.ndjson }
routes: [ { name: groups, match: { command: "Group.*" }, to: [archive] } ]
`,
  });
  t.teardown(() => daemon.stop());
  const config = daemon.configFile;
  // The read-only commands run in a shell without the callback token (edge-findings 22).
  const noSecrets = { env: { CLI_TEST_TOKEN: undefined }, cwd: daemon.dir };
  const run = (args: string[]) => cli([...args, '--config', config], noSecrets);

  // Dead letters: unmatched events (no route for C2C), and quarantined bodies carrying terminal escapes.
  for (let i = 1; i <= 3; i++) {
    t.equal((await postCallback(daemon.url, 'C2C.CallbackAfterSendMsg', { CallbackCommand: 'C2C.CallbackAfterSendMsg', From_Account: 'a', To_Account: 'b', MsgSeq: i, MsgRandom: i, MsgTime: 1700000000, MsgBody: [] }, { token: TOKEN })).status, 200);
  }
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', '\n\n\u001b]0;owned\u0007x', { token: TOKEN })).status, 400);
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#cli', 1), { token: TOKEN })).status, 200);

  // --- dlq list ---
  const listed = await waitFor(() => run(['dlq', 'list']), (r) => r.stdout.trim().split('\n').length === 4);
  t.equal(listed.code, 0, listed.stderr);
  t.notMatch(listed.stdout, /\u001b|\u0007/, 'no raw control characters reach the terminal');
  t.match(listed.stdout, /\\u001b\]0;owned\\u0007/, 'they are shown escaped');
  t.equal(listed.stdout.trim().split('\n').length, 4, 'one line per dead letter: embedded newlines cannot forge rows');
  const json = run(['dlq', 'list', '--json']);
  t.equal(json.code, 0);
  const rows = JSON.parse(json.stdout) as Array<{ dlqId: number; kind: string; failedAt: string }>;
  t.same(rows.map((r) => r.kind).sort(), ['request', 'unmatched', 'unmatched', 'unmatched']);
  t.ok(rows.every((r) => typeof r.failedAt === 'string'), '--json: ISO time beside failedMs');
  const limited = run(['dlq', 'list', '--limit', '1']);
  t.equal(limited.stdout.trim().split('\n').length, 1);
  t.match(limited.stderr, /more than 1 dead letters match/, 'the cap is said, on stderr');
  t.equal(run(['dlq', 'list', '--kind', 'unmatched', '--since', '1h']).stdout.trim().split('\n').length, 3, 'filters combine');
  t.match(run(['dlq', 'list', '--sink', 'spare']).stdout, /no dead letters match/);
  for (const [args, message] of [
    [['--kind', 'nope'], /--kind must be one of event, unmatched, request/],
    [['--limit', 'x'], /--limit must be a whole number ≥ 1/],
    [['--limit', '0'], /--limit must be a whole number/],
    [['--limit=-5'], /--limit must be a whole number/],
    [['--limit', '1.5'], /--limit must be a whole number/],
    [['--since', 'yesterday'], /--since: cannot read time "yesterday"/],
    [['--since', '1'], /--since: cannot read time/],
    [['--limit'], /--limit needs a value/],
    [['extra'], /unexpected argument "extra"/],
  ] as Array<[string[], RegExp]>) {
    const r = run(['dlq', 'list', ...args]);
    t.equal(r.code, 2, `dlq list ${args.join(' ')}`);
    t.match(r.stderr, message);
    t.notMatch(r.stderr, /datatype mismatch/);
  }

  // --- dlq show ---
  const id = rows.find((r) => r.kind === 'request')!.dlqId;
  for (const args of [['dlq', 'show', String(id)], ['dlq', 'show', String(id), '--json']]) {
    const r = run(args);
    t.equal(r.code, 0, args.join(' '));
    t.equal(JSON.parse(r.stdout).dlqId, id);
    t.notMatch(r.stdout, /\u001b/);
  }
  t.equal(run(['dlq', 'show', '99999']).code, 1, 'no such dead letter: runtime failure');
  t.match(run(['dlq', 'show', '99999']).stderr, /no dead letter with id 99999/);
  for (const bad of [[], ['abc'], ['1.5'], ['0'], ['-3'], ['1', '2']]) t.equal(run(['dlq', 'show', ...bad]).code, 2, `dlq show ${bad.join(' ')}`);

  // --- queue stats: every configured sink, depth 0 too ---
  const stats = run(['queue', 'stats']);
  t.equal(stats.code, 0, stats.stderr);
  t.match(stats.stdout, /  archive: depth \d+/);
  t.match(stats.stdout, /  spare: depth 0, 0 bytes, oldest -/, 'an idle sink is listed');
  const statsJson = JSON.parse(run(['queue', 'stats', '--json']).stdout) as { sinks: Array<{ name: string; configured: boolean; depth: number }>; deadLetters: { events: number } };
  t.same(statsJson.sinks.map((s) => s.name), ['archive', 'spare']);
  t.equal(statsJson.deadLetters.events, 3);
  t.equal(run(['queue', 'stats', 'extra']).code, 2);

  // --- dlq replay ---
  t.equal(run(['dlq', 'replay', '--id', '99999']).code, 1, 'replay of an id that does not exist');
  t.equal(run(['dlq', 'replay', '--id', 'abc']).code, 2);
  t.equal(run(['dlq', 'replay', '--since', 'soon']).code, 2);
  t.equal(run(['dlq', 'replay', '--to-sink', 'nope']).code, 2, 'an unknown sink is refused');
  const unmatchedIds = rows.filter((r) => r.kind === 'unmatched').map((r) => r.dlqId);
  const replayed = run(['dlq', 'replay', '--id', String(unmatchedIds[0]), '--to-sink', 'spare']);
  t.equal(replayed.code, 0, replayed.stderr);
  t.match(replayed.stdout, /replayed 1 event/);
  await waitFor(() => (fs.existsSync(path.join(daemon.dir, 'spare.ndjson')) ? fs.readFileSync(path.join(daemon.dir, 'spare.ndjson'), 'utf8') : ''), (s) => s.includes('C2C'));

  // --- dlq purge: a filter or --all, never everything by default; ids never reused ---
  let r = run(['dlq', 'purge']);
  t.equal(r.code, 2, 'a bare purge deletes nothing');
  t.match(r.stderr, /give a filter \(--sink, --before, --id\) or --all/);
  t.equal(JSON.parse(run(['dlq', 'list', '--json']).stdout).length, 3, 'still there');
  t.equal(run(['dlq', 'purge', '--all', '--sink', 'x']).code, 2);
  t.equal(run(['dlq', 'purge', '--id', 'abc']).code, 2);
  t.equal(run(['dlq', 'purge', '--id', '99999']).code, 1);
  t.equal(run(['dlq', 'purge', '--before', 'tomorrow']).code, 2);
  const highest = Math.max(...rows.map((row) => row.dlqId));
  r = run(['dlq', 'purge', '--id', String(highest)]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /purged 1 dead letter/);
  t.equal((await postCallback(daemon.url, 'C2C.CallbackAfterSendMsg', { CallbackCommand: 'C2C.CallbackAfterSendMsg', From_Account: 'a', To_Account: 'b', MsgSeq: 9, MsgRandom: 9, MsgTime: 1700000000, MsgBody: [] }, { token: TOKEN })).status, 200);
  const after = await waitFor(() => JSON.parse(run(['dlq', 'list', '--json']).stdout) as Array<{ dlqId: number }>, (l) => l.length === 3);
  t.ok(after.every((row) => row.dlqId !== highest), `purged id ${highest} is not handed out again (new: ${after.map((x) => x.dlqId).join(',')})`);
  r = run(['dlq', 'purge', '--all']);
  t.equal(r.code, 0);
  t.match(run(['dlq', 'list']).stdout, /the dead-letter store is empty/);

  // --- queue move ---
  t.equal(run(['queue', 'move']).code, 2);
  t.equal(run(['queue', 'move', '--from', 'archive', '--to-sink', 'archive']).code, 2);
  t.equal(run(['queue', 'move', '--from', 'gone', '--to-sink', 'nope']).code, 2);
  t.equal(run(['queue', 'move', '--from', 'gone', '--to-dlq']).code, 0, 'nothing to move is not a failure');

  // --- commands that need the whole file (and so its secrets) ---
  r = run(['check']);
  t.equal(r.code, 2, 'check without the token variable');
  t.match(r.stderr, /CLI_TEST_TOKEN is not set/);
  r = cli(['check', '--config', config], { cwd: daemon.dir, env: { CLI_TEST_TOKEN: TOKEN } });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /warning: CONFIG_SINK_UNROUTED: sink "spare"/);
  t.match(r.stdout, /warning: CONFIG_LISTEN_UNAVAILABLE: cannot listen on 127\.0\.0\.1:\d+: address already in use/, 'the running daemon holds the port');

  // --- send-sample ---
  for (const bad of [['--count', 'abc'], ['--count', '0'], ['--url', 'nowhere'], ['--bogus']]) {
    t.equal(cli(['send-sample', ...bad, '--config', config], { env: { CLI_TEST_TOKEN: TOKEN } }).code, 2, `send-sample ${bad.join(' ')}`);
  }
  r = cli(['send-sample', '--config', config], { env: { CLI_TEST_TOKEN: TOKEN } });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim().split('\n').filter((l) => l.startsWith('200 ')).length, 12, '12 signed samples, all 200');
  r = cli(['send-sample', '--url', `http://127.0.0.1:${spare}/im/callback`, '--config', config], { env: { CLI_TEST_TOKEN: TOKEN } });
  t.equal(r.code, 1, 'nothing listens there: runtime failure');
  t.match(r.stderr, /cannot reach .*is the daemon running/);

  // --- reload ---
  t.equal(cli(['reload', '--nope', '--config', config]).code, 2);
  r = cli(['reload', '--config', config], { env: { CLI_TEST_TOKEN: TOKEN } });
  t.equal(r.code, 0, r.stderr);
  await daemon.waitForLog('CONFIG_RELOADED', 10_000, (l) => l.generation === 2);
});

t.test('check reports every error at once, with the allowed values', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'three.yaml');
  fs.writeFileSync(file, `listen: { host: 127.0.0.1, port: 1, path: /im/callback, colour: red }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
log: { level: verbose }
sinks:
  tiny: { type: file, path: ./e.ndjson }
routes: [ { name: everything, match: { command: "*" }, to: [tinyy] } ]
`);
  const r = cli(['check', '--config', file]);
  t.equal(r.code, 2);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  t.equal(errors.length, 3, r.stderr);
  t.match(errors[0], /three\.yaml:1:\d+: listen\.colour: unknown key "colour" \(allowed: host, port, path/);
  t.match(errors[1], /three\.yaml:4:\d+: log\.level: must be one of: "fatal", "error", "warn", "info"/);
  t.match(errors[2], /three\.yaml:7:\d+: routes\[0\]\.to\[0\]: .*"tinyy", which is not defined under sinks: \(defined: tiny\)/);
  t.match(r.stderr, /3 error\(s\) in /);
  t.notMatch(r.stderr, /must be one of:\s*\[/, 'no empty list');
  for (const e of errors) t.equal(e.match(/\[[A-Z_]+\]/g)?.length, 1, `one code per line: ${e}`);

  fs.writeFileSync(file, 'listen: { port: 1 }\napps: [ { sdk_app_id: 1400000000 } ]\nsinks: { a: { type: file, path: ./a } }\nroutes: []\nqueue: { max_bytes: 1048576 }\n');
  const w = cli(['check', '--config', file]);
  t.equal(w.code, 0, 'warnings do not fail the check');
  for (const code of ['AUTH_DISABLED', 'CONFIG_NO_ROUTES', 'CONFIG_SINK_UNROUTED', 'CONFIG_QUEUE_SMALLER_THAN_BODY']) t.match(w.stdout, `warning: ${code}: `);
  t.match(w.stdout, /ok: .*: 1 app\(s\), 1 sink\(s\), 0 route\(s\), \d warning\(s\)/);
});

t.test('a port that is taken: check warns, run says so in words and exits 1', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = tempDir();
  const file = path.join(dir, 'bridge.yaml');
  fs.writeFileSync(file, `listen: { host: 127.0.0.1, port: ${port} }\napps: [ { sdk_app_id: 1400000000 } ]\nqueue: { dir: ./queue }\nsinks: { a: { type: file, path: ./a.ndjson } }\nroutes: [ { name: all, match: { command: "*" }, to: [a] } ]\n`);
  const checked = cli(['check', '--config', file]);
  t.equal(checked.code, 0);
  t.match(checked.stdout, `cannot listen on 127.0.0.1:${port}: address already in use`);
  const ran = cli(['run', '--config', file], { cwd: dir });
  t.equal(ran.code, 1, ran.stderr);
  t.notMatch(ran.stderr, /im-bridge: undefined/);
  t.match(ran.stderr + ran.stdout, /in use|EADDRINUSE/);
});

t.test('dead-letter ids of a store written before AUTOINCREMENT: kept, and never handed out again', async (t) => {
  const dir = tempDir();
  fs.mkdirSync(dir, { recursive: true });
  const old = new Database(path.join(dir, 'queue.db'));
  old.exec(`CREATE TABLE dead_letters (dlq_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, sink TEXT, event_id TEXT, subject TEXT, attempts INTEGER NOT NULL,
    error_code TEXT NOT NULL, error TEXT NOT NULL, failed_ms INTEGER NOT NULL, body TEXT NOT NULL, bytes INTEGER NOT NULL DEFAULT 0)`);
  const insert = old.prepare("INSERT INTO dead_letters (dlq_id, kind, sink, attempts, error_code, error, failed_ms, body, bytes) VALUES (?, 'event', 's', 1, 'X', 'x', 1, '{}', 2)");
  for (const id of [3, 7]) insert.run(id);
  old.close();
  const store = new QueueStore(dir, { checkIntegrity: 'never' });
  t.same(store.listDeadLetters().map((r) => r.dlqId), [3, 7], 'ids kept');
  t.equal(store.purgeDeadLetters({ ids: [7] }), 1);
  store.quarantine({ reason: 'test', code: 'BODY_NOT_JSON', request: { body: 'x' } }, Date.now());
  const ids = store.listDeadLetters().map((r) => r.dlqId);
  store.close();
  t.notOk(ids.includes(7), `7 is not reused (${ids.join(',')})`);
});

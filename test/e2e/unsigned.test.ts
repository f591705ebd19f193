/**
 * Unsigned must be a choice (issue 19): the daemon refuses to start an app without a token on a
 * non-loopback address unless apps[].allow_unsigned says so, and says why; on loopback it starts and
 * warns AUTH_DISABLED.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CLI, freePort, startDaemon, tempDir } from '../helpers/daemon.js';

const config = (host: string, extra = '') => `
listen: { host: ${host}, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000${extra} } ]
queue: { dir: \${DIR}/queue }
sinks: { out: { type: file, path: \${DIR}/events.ndjson } }
routes: [ { name: all, match: { command: "*" }, to: [out] } ]
`;

t.test('an unsigned app on 0.0.0.0 without the opt-in: start refused with file:line and the fix', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'bridge.yaml');
  fs.writeFileSync(file, config('0.0.0.0').replaceAll('${PORT}', String(await freePort())).replaceAll('${DIR}', dir));
  const run = spawnSync(process.execPath, [CLI, 'run', '--config', file], { encoding: 'utf8', timeout: 60_000 });
  t.equal(run.status, 2, 'exit 2: a configuration error');
  const out = run.stdout + run.stderr;
  t.match(out, /bridge\.yaml:3:\d+/, 'names the file and line');
  t.match(out, /CONFIG_UNSIGNED_PUBLIC/);
  t.match(out, /no token .*0\.0\.0\.0, which is not a loopback address/);
  t.match(out, /allow_unsigned: true/, 'and the opt-in');
  t.notOk(fs.existsSync(path.join(dir, 'queue', 'queue.db')), 'nothing was started');
});

t.test('with allow_unsigned: true it starts on 0.0.0.0, and warns; on loopback it starts and warns', async (t) => {
  for (const [host, extra] of [['0.0.0.0', ', allow_unsigned: true'], ['127.0.0.1', '']] as const) {
    const daemon = await startDaemon({ config: config(host, extra) });
    const warning = daemon.logs.find((l) => l.code === 'AUTH_DISABLED');
    t.ok(warning, `${host}: AUTH_DISABLED logged at start`);
    t.match(String(warning?.level), /^(warn|40)$/, 'at warn');
    await daemon.stop();
  }
});

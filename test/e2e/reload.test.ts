// Issue #23: `im-bridge reload` waits for the new configuration generation, or reports the daemon's
// rejection (with file:line), or says that no answer came in time. The daemon answers through
// queue.dir/im-bridge.reload.json (src/queue/reload-status.ts), so the listener's shape (HTTPS with a
// self-signed certificate, listen.admin) does not matter.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CLI, freePort, groupMessage, postCallback, startDaemon, tempDir } from '../helpers/daemon.js';

const config = (routeName: string, extra = '') => `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
routes: [ { name: ${routeName}, match: { command: "*" }, to: [archive] } ]
${extra}`;

/** Runs the CLI to completion without blocking this process (the daemon's output keeps being read). */
async function runCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

async function generation(url: string): Promise<number> {
  const response = await fetch(`${url}/readyz`);
  return ((await response.json()) as { generation: number }).generation;
}

t.test('a valid change: exit 0 once the new generation is in force; an invalid one: exit 2 with the daemon\'s reason, old generation kept', async (t) => {
  const daemon = await startDaemon({ config: config('first') });
  t.teardown(() => daemon.stop());
  const statusFile = path.join(daemon.dir, 'queue/im-bridge.reload.json');
  t.match(JSON.parse(fs.readFileSync(statusFile, 'utf8')), { pid: daemon.process.pid, attempt: 0, generation: 1, ok: true }, 'the daemon writes its generation at start');

  fs.writeFileSync(daemon.configFile, config('second').replaceAll('${PORT}', String(daemon.port)));
  let r = await runCli(['reload', '--config', daemon.configFile], daemon.dir);
  t.equal(r.code, 0, `valid change: ${r.stdout.trim()} ${r.stderr.trim()}`);
  t.match(r.stdout, /^configuration generation 2 in force$/m, 'prints the new generation');
  t.equal(await generation(daemon.url), 2, '/readyz agrees');
  t.ok(daemon.logs.some((l) => l.code === 'CONFIG_RELOADED' && l.generation === 2), 'the daemon logged CONFIG_RELOADED before the CLI returned');

  // A key the schema does not know, on line 8 of the file.
  fs.writeFileSync(daemon.configFile, config('third', 'colour: red\n').replaceAll('${PORT}', String(daemon.port)));
  const line = config('third', 'colour: red\n').split('\n').indexOf('colour: red') + 1;
  r = await runCli(['reload', '--config', daemon.configFile], daemon.dir);
  t.equal(r.code, 2, `invalid change: exit 2 (${r.stderr.trim()})`);
  t.match(r.stderr, 'rejected the new configuration, generation 2 stays in force');
  t.ok(r.stderr.includes(`${daemon.configFile}:${line}:`), `the reason names file:line (${daemon.configFile}:${line})`);
  t.match(r.stderr, /CONFIG_UNKNOWN_KEY/, 'and the error code');
  t.equal(daemon.process.exitCode, null, 'the daemon keeps running');
  t.equal(await generation(daemon.url), 2, 'with the old generation');
  t.equal((await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#reload', 1))).status, 200, 'and keeps serving');

  // Fixed again: the next generation, counted from what is in force.
  fs.writeFileSync(daemon.configFile, config('fourth').replaceAll('${PORT}', String(daemon.port)));
  r = await runCli(['reload', '--config', daemon.configFile], daemon.dir);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /configuration generation 3 in force/);
});

t.test('the daemon judges the file in its own environment, not the CLI\'s', async (t) => {
  const daemon = await startDaemon({ config: config('first') });
  t.teardown(() => daemon.stop());
  // The operator's shell has the variable, the service does not: the daemon's verdict counts.
  fs.writeFileSync(daemon.configFile, config('"${RELOAD_TEST_ROUTE}"').replaceAll('${PORT}', String(daemon.port)));
  const r = await runCli(['reload', '--config', daemon.configFile], daemon.dir, { RELOAD_TEST_ROUTE: 'from-the-shell' });
  t.equal(r.code, 2, r.stderr.trim());
  t.match(r.stderr, /RELOAD_TEST_ROUTE is not set .*CONFIG_ENV_UNSET/);
  t.equal(await generation(daemon.url), 1, 'generation 1 stays in force');
});

t.test('HTTPS with a self-signed certificate and listen.admin: the answer does not depend on the listener', async (t) => {
  const dir = tempDir();
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=reload', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'pipe' });
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    t.plan(0, `openssl is not available: ${(error as Error).message}`);
    return;
  }
  const admin = await freePort();
  const tlsConfig = (route: string) =>
    config(route).replace('path: /im/callback }', `path: /im/callback, tls: { cert_file: ./tls.crt, key_file: ./tls.key }, admin: { port: ${admin} } }`);
  const daemon = await startDaemon({ config: tlsConfig('first'), dir });
  t.teardown(() => daemon.stop());
  fs.writeFileSync(daemon.configFile, tlsConfig('second').replaceAll('${PORT}', String(daemon.port)));
  const r = await runCli(['reload', '--config', daemon.configFile], dir);
  t.equal(r.code, 0, r.stderr.trim());
  t.match(r.stdout, /configuration generation 2 in force/);
  t.equal(await generation(`http://127.0.0.1:${admin}`), 2, 'the admin /readyz agrees');
});

t.test('no answer in time: exit 1 and say so; --timeout-ms is checked', async (t) => {
  const daemon = await startDaemon({ config: config('first') });
  t.teardown(async () => {
    daemon.process.kill('SIGCONT');
    await daemon.stop();
  });
  let r = await runCli(['reload', '--timeout-ms', '0', '--config', daemon.configFile], daemon.dir);
  t.equal(r.code, 2, `a zero timeout is a usage error: ${r.stderr.trim()}`);
  t.match(r.stderr, /--timeout-ms must be a whole number/);

  // A stopped (SIGSTOP) daemon takes the SIGHUP but cannot answer until it is continued.
  daemon.process.kill('SIGSTOP');
  const started = Date.now();
  r = await runCli(['reload', '--timeout-ms', '500', '--config', daemon.configFile], daemon.dir);
  t.equal(r.code, 1, `timed out: ${r.stderr.trim()}`);
  t.match(r.stderr, /no answer from im-bridge \(pid \d+\) within 500 ms/);
  t.ok(Date.now() - started >= 500, 'after the timeout');
  daemon.process.kill('SIGCONT');
  // The pending SIGHUP is handled once the daemon runs again.
  await daemon.waitForLog('CONFIG_RELOADED', 10_000, (l) => l.generation === 2);
});

t.test('the daemon stops while the CLI waits: exit 1, the daemon exited', async (t) => {
  const daemon = await startDaemon({ config: config('first') });
  t.teardown(() => daemon.stop());
  daemon.process.kill('SIGSTOP');
  const waiting = runCli(['reload', '--timeout-ms', '20000', '--config', daemon.configFile], daemon.dir);
  // The CLI has signalled once the daemon holds a pending SIGHUP (SigPnd/ShdPnd in /proc).
  const pending = () => /^ShdPnd:\s+0*[1-9a-f]/m.test(fs.readFileSync(`/proc/${daemon.process.pid}/status`, 'utf8'));
  const deadline = Date.now() + 10_000;
  while (!pending() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(pending(), 'the SIGHUP is pending');
  await daemon.kill9();
  const r = await waiting;
  t.equal(r.code, 1, r.stderr.trim());
  t.match(r.stderr, /exited before reporting the outcome/);
});

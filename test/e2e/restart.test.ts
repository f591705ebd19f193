// Issue #19 "a crash never blocks the restart" and "signals": the queue lock is held by the kernel
// (src/queue/lock.ts), `reload` signals only a live im-bridge holding the lock, a second
// SIGTERM/SIGINT during the drain is a documented forced stop, and the last log lines reach stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CLI, REPO_ROOT, freePort, groupMessage, postCallback, startDaemon, tempDir, waitFor } from '../helpers/daemon.js';

const fileConfig = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  archive: { type: file, path: ./events.ndjson, batch: { max_wait_ms: 5 } }
routes: [ { name: all, match: { command: "*" }, to: [archive] } ]
`;

/** What the helpers below need of a tap test. */
interface Tt {
  teardown(fn: () => unknown): void;
  equal(found: unknown, wanted: unknown, message: string): unknown;
}

/** /proc/<pid>/status State letter (R, S, Z, ...), or undefined when there is no such process. */
function procState(pid: number): string | undefined {
  try {
    return /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function procField(pid: number, index: number): number {
  // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after ')'.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[index - 3]);
}

const alive = (pid: number) => procState(pid) !== undefined && procState(pid) !== 'Z';

function logLines(file: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { text: l };
      }
    });
}

/** Runs the CLI to completion; resolves with its exit code and output. */
async function runCli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** An unrelated live process (a `sleep`) whose pid goes into a pid file. */
function unrelatedProcess(t: Tt): ChildProcess {
  const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => void sleeper.kill('SIGKILL'));
  return sleeper;
}

/**
 * A daemon in its own process group (pgid = pid), so that `kill -9 -PGID` kills its whole group as a
 * supervisor would. With `zombieParent`, its parent is a `sleep` that never reaps it (sh starts the
 * daemon through setsid in the background, then execs sleep): once killed, it stays a zombie.
 */
interface Spawned {
  pid: number;
  log: string;
  holder: ChildProcess;
}

async function spawnDaemon(t: Tt, dir: string, round: number, zombieParent = false): Promise<Spawned & { startMs: number }> {
  const log = path.join(dir, `daemon-${round}.log`);
  const configFile = path.join(dir, 'bridge.yaml');
  const started = Date.now();
  let spawned: Spawned;
  if (zombieParent) {
    const pidFile = path.join(dir, `daemon-${round}.pid`);
    const holder = spawn('sh', ['-c', 'setsid "$0" "$@" >"$DAEMON_LOG" 2>&1 & echo $! >"$DAEMON_PID"; exec sleep 1000', process.execPath, CLI, 'run', '--config', configFile], {
      cwd: dir,
      env: { ...process.env, DAEMON_LOG: log, DAEMON_PID: pidFile },
      stdio: 'ignore',
    });
    t.teardown(() => void holder.kill('SIGKILL')); // then init (or the nearest subreaper) reaps the zombie
    const pid = Number((await waitFor(() => (fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : ''), (s) => s.length > 0, 30_000, 10)));
    await waitFor(() => procState(holder.pid!) !== undefined && fs.readFileSync(`/proc/${holder.pid}/cmdline`, 'utf8').startsWith('sleep'), Boolean, 30_000, 10);
    t.equal(procField(pid, 4), holder.pid, `the daemon's parent is the sleep (${holder.pid}), which never reaps it`);
    spawned = { pid, log, holder };
  } else {
    const fd = fs.openSync(log, 'w');
    const child = spawn(process.execPath, [CLI, 'run', '--config', configFile], { cwd: dir, detached: true, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    t.teardown(() => void child.kill('SIGKILL'));
    spawned = { pid: child.pid!, log, holder: child };
  }
  const lines = await waitFor(
    () => logLines(log),
    (l) => l.some((x) => x.code === 'BRIDGE_STARTED') || !alive(spawned.pid),
    30_000,
    20,
  );
  if (!lines.some((x) => x.code === 'BRIDGE_STARTED')) throw new Error(`restart ${round} failed:\n${fs.readFileSync(log, 'utf8').slice(-3000)}`);
  t.equal(procField(spawned.pid, 5), spawned.pid, `daemon ${round} leads its own process group`);
  return { ...spawned, startMs: Date.now() - started };
}

/** Posts unique group messages until stopped; `acked` gets the key of every one answered 200. */
function load(url: string, acked: Set<string>, concurrency = 8) {
  let running = true;
  let next = 1;
  const worker = async () => {
    while (running) {
      const n = next++;
      try {
        const answer = await postCallback(url, 'Group.CallbackAfterSendMsg', groupMessage(`@TGS#restart${n % 10}`, n, `restart test ${n}`));
        if (answer.status === 200) acked.add(`@TGS#restart${n % 10}:${n}`);
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // daemon down: connection refused
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return async () => {
    running = false;
    await Promise.all(workers);
  };
}

/** Delivered keys in the file sink's NDJSON, tolerating a line torn by kill -9. */
function delivered(file: string): { keys: string[]; torn: number } {
  if (!fs.existsSync(file)) return { keys: [], torn: 0 };
  const keys: string[] = [];
  let torn = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { data: { conversation: { groupId: string }; seq: number } };
      keys.push(`${e.data.conversation.groupId}:${e.data.seq}`);
    } catch {
      torn++;
    }
  }
  return { keys, torn };
}

t.test('kill -9 of the process group, restart after 100 ms, five times (one zombie, one reused pid): every restart succeeds, every acked event is delivered', async (t) => {
  const dir = tempDir();
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'bridge.yaml'), fileConfig.replaceAll('${PORT}', String(port)));
  const pidFile = path.join(dir, 'queue/im-bridge.pid');
  const acked = new Set<string>();
  const stopLoad = load(`http://127.0.0.1:${port}`, acked);
  const ackedMore = (n: number) => {
    const target = acked.size + n;
    return waitFor(() => acked.size, (size) => size >= target, 60_000, 10);
  };
  // Restart 1 is spawned under a parent that never reaps it, so that killing it (round 2) leaves a zombie.
  const zombieRound = 2;
  const reusedPidRound = 4;
  let daemon = await spawnDaemon(t, dir, 0);
  const startMs: number[] = [daemon.startMs];
  let zombie: number | undefined;
  let sleeper: ChildProcess | undefined;
  for (let round = 1; round <= 5; round++) {
    await ackedMore(40);
    const victim = daemon.pid;
    process.kill(-victim, 'SIGKILL'); // the daemon's whole process group
    const killedAt = Date.now();
    if (round === zombieRound) {
      await waitFor(() => procState(victim), (s) => s === 'Z', 10_000, 5);
      zombie = victim;
    }
    if (round === reusedPidRound) {
      sleeper = unrelatedProcess(t);
      fs.writeFileSync(pidFile, `${sleeper.pid}\n`); // as if the dead daemon's pid now belonged to someone else
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - killedAt))));
    daemon = await spawnDaemon(t, dir, round, round === zombieRound - 1);
    startMs.push(daemon.startMs);
    if (round === zombieRound) t.equal(procState(zombie!), 'Z', `the killed daemon ${zombie} is still a zombie while its successor runs`);
    if (round === reusedPidRound) {
      t.ok(alive(sleeper!.pid!), 'the unrelated process named by the stale pid file is untouched');
      t.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(daemon.pid), 'the new daemon wrote its own pid');
    }
  }
  await ackedMore(40);
  await stopLoad();
  const file = path.join(dir, 'events.ndjson');
  await waitFor(() => new Set(delivered(file).keys), (got) => [...acked].every((k) => got.has(k)), 60_000, 100).catch(() => undefined);
  process.kill(daemon.pid, 'SIGTERM');
  await waitFor(() => logLines(daemon.log), (l) => l.some((x) => x.code === 'BRIDGE_STOPPED'), 30_000, 20);
  const { keys, torn } = delivered(file);
  const got = new Set(keys);
  const missing = [...acked].filter((k) => !got.has(k));
  const report = { restarts: 5, startMs, acked: acked.size, delivered: got.size, duplicateLines: keys.length - got.size, tornLines: torn, missing: missing.length };
  t.comment(`restart report: ${JSON.stringify(report)}`);
  t.ok(acked.size >= 240, `every daemon took traffic (${acked.size} acked)`);
  t.same(missing, [], 'no acknowledged event lost');
  const opened = logLines(daemon.log).find((l) => l.code === 'QUEUE_OPENED');
  t.equal(opened?.cleanShutdown, false, 'the last restart followed a kill -9 (unclean), and still opened the queue');
});

t.test('a second daemon on the same queue.dir is refused with QUEUE_LOCKED, naming the directory and the holder', async (t) => {
  const first = await startDaemon({ config: fileConfig });
  t.teardown(() => first.stop());
  const queueDir = path.join(first.dir, 'queue');
  const second = path.join(first.dir, 'second.yaml');
  fs.writeFileSync(second, fileConfig.replaceAll('${PORT}', String(await freePort())));
  const started = Date.now();
  const result = await runCli(['run', '--config', second], first.dir);
  t.not(result.code, 0, `refused (exit ${result.code}, after ${Date.now() - started} ms)`);
  t.match(result.stderr, /QUEUE_LOCKED/, 'the error carries the code');
  t.ok(result.stderr.includes(queueDir), 'and names the queue directory');
  t.ok(result.stderr.includes(String(first.process.pid)), `and the pid of the holder (${first.process.pid})`);
  t.equal(fs.readFileSync(path.join(queueDir, 'im-bridge.pid'), 'utf8').trim(), String(first.process.pid), 'the pid file still names the holder');
  const answer = await postCallback(first.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#lock', 1));
  t.equal(answer.status, 200, 'the first daemon keeps serving');
  t.equal(await first.stop(), 0, 'and stops cleanly');
  t.notOk(fs.existsSync(path.join(queueDir, 'im-bridge.pid')), 'a clean stop removes the pid file');
  t.ok(fs.existsSync(path.join(queueDir, 'im-bridge.lock')), 'and keeps the lock file (never deleted)');
});

t.test('reload signals only the live im-bridge that holds the lock, never the pid of a stale pid file', async (t) => {
  const daemon = await startDaemon({ config: fileConfig });
  t.teardown(() => daemon.stop());
  const pidFile = path.join(daemon.dir, 'queue/im-bridge.pid');

  let result = await runCli(['reload', '--config', daemon.configFile], daemon.dir);
  t.equal(result.code, 0, `reload of the running daemon: ${result.stdout.trim()}`);
  await daemon.waitForLog('CONFIG_RELOADED', 10_000, (l) => l.generation === 2);

  // The pid file names an unrelated live process while the daemon runs: the kernel knows the holder.
  const sleeper = unrelatedProcess(t);
  fs.writeFileSync(pidFile, `${sleeper.pid}\n`);
  result = await runCli(['reload', '--config', daemon.configFile], daemon.dir);
  t.equal(result.code, 0, 'a tampered pid file: the lock holder is signalled');
  t.match(result.stdout, `pid ${daemon.process.pid}`, 'the daemon, by its own pid');
  await daemon.waitForLog('CONFIG_RELOADED', 10_000, (l) => l.generation === 3);
  t.ok(alive(sleeper.pid!), 'the unrelated process is untouched');

  // Daemon gone, the stale pid file names the unrelated live process.
  t.equal(await daemon.stop(), 0, 'the daemon stops cleanly');
  t.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(sleeper.pid), 'the stale pid file is left as it was (not ours to remove)');
  result = await runCli(['reload', '--config', daemon.configFile], daemon.dir);
  t.equal(result.code, 1, 'reload refuses: no daemon runs');
  t.match(result.stderr, /no im-bridge is running on queue directory .*stale \(not signalled\)/, result.stderr.trim());
  await new Promise((r) => setTimeout(r, 200)); // a SIGHUP, had one been sent, would have killed the sleep by now
  t.ok(alive(sleeper.pid!), 'the unrelated process was not signalled');
  t.equal(sleeper.signalCode, null, 'and did not die of a signal');

  // Never started at all: no lock file, no pid file.
  const empty = tempDir();
  fs.writeFileSync(path.join(empty, 'bridge.yaml'), fileConfig.replaceAll('${PORT}', '1'));
  result = await runCli(['reload', '--config', path.join(empty, 'bridge.yaml')], empty);
  t.equal(result.code, 1, `no queue directory at all: ${result.stderr.trim()}`);
  t.notOk(fs.existsSync(path.join(empty, 'queue')), 'reload creates nothing');
});

const hangingConfig = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
shutdown_timeout_ms: 120000
sinks:
  hang: { type: plugin, module: ${path.join(REPO_ROOT, 'test/fixtures/plugins/hangs-on-write.mjs')}, write_timeout_ms: 120000 }
routes: [ { name: all, match: { command: "*" }, to: [hang] } ]
`;

/** A daemon whose sink never finishes its batch, so that a SIGTERM drain would wait for 120 s. */
async function drainingDaemon(t: Tt, dir?: string) {
  const daemon = await startDaemon({ config: hangingConfig, dir });
  t.teardown(() => void daemon.process.kill('SIGKILL'));
  const answer = await postCallback(daemon.url, 'Group.CallbackAfterSendMsg', groupMessage('@TGS#drain', 1));
  t.equal(answer.status, 200, 'one event acknowledged');
  await waitFor(
    async () => (await (await fetch(`${daemon.url}/readyz`)).json()) as { sinks: { hang: { inFlight: number } } },
    (r) => r.sinks.hang.inFlight > 0,
    30_000,
  );
  const closed = once(daemon.process, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  daemon.process.kill('SIGTERM');
  await daemon.waitForLog('BRIDGE_STOPPING', 10_000);
  return { daemon, closed };
}

t.test('a second SIGTERM during the drain stops at once, logs BRIDGE_FORCED_STOP and BRIDGE_STOPPED last, and closes the queue cleanly', async (t) => {
  const { daemon, closed } = await drainingDaemon(t);
  const sentMs = Date.now();
  daemon.process.kill('SIGTERM');
  const [code, signal] = await closed;
  const tookMs = Date.now() - sentMs;
  t.equal(signal, null, 'not killed by the signal (no default action)');
  t.equal(code, 0, `exit 0 after the forced stop (${tookMs} ms)`);
  t.ok(tookMs < 10_000, 'well before shutdown_timeout_ms (120 s)');
  const codes = daemon.logs.map((l) => l.code).filter(Boolean);
  const forced = codes.indexOf('BRIDGE_FORCED_STOP');
  t.ok(forced > codes.indexOf('BRIDGE_STOPPING'), 'BRIDGE_FORCED_STOP follows BRIDGE_STOPPING');
  t.equal(codes.at(-1), 'BRIDGE_STOPPED', `BRIDGE_STOPPED is the last line written (codes: ${codes.slice(-4).join(', ')})`);
  t.equal(daemon.logs.find((l) => l.code === 'BRIDGE_STOPPED')?.forced, true, 'marked forced');
  t.notOk(fs.existsSync(path.join(daemon.dir, 'queue/im-bridge.pid')), 'the pid file is removed');

  const again = await startDaemon({ config: hangingConfig, dir: daemon.dir });
  t.teardown(() => void again.process.kill('SIGKILL'));
  const opened = again.logs.find((l) => l.code === 'QUEUE_OPENED');
  t.equal(opened?.cleanShutdown, true, 'the next start sees a clean shutdown (no quick_check)');
  t.equal(opened?.events, 1, 'the event whose batch was cut short is still queued, for redelivery');
});

t.test('a third signal exits 1 at once (BRIDGE_EXIT_UNCLEAN); the next start still has every acknowledged event', async (t) => {
  const { daemon, closed } = await drainingDaemon(t);
  // The forced stop takes milliseconds, so the third signal is made to arrive with the second: the
  // daemon is stopped while both are sent (two different signals, so the kernel keeps both pending)
  // and both are handled when it continues, before the forced stop can finish.
  daemon.process.kill('SIGSTOP');
  daemon.process.kill('SIGINT');
  daemon.process.kill('SIGTERM');
  daemon.process.kill('SIGCONT');
  const [code, signal] = await closed;
  t.equal(signal, null, 'not killed by the signal (no default action)');
  t.equal(code, 1, 'exit 1: the queue was not closed');
  const codes = daemon.logs.map((l) => l.code).filter(Boolean);
  t.ok(codes.indexOf('BRIDGE_FORCED_STOP') > codes.indexOf('BRIDGE_STOPPING'), 'the second signal started a forced stop');
  // The forced stop may still finish while the log is flushed; the unclean exit is logged either way.
  t.ok(codes.lastIndexOf('BRIDGE_EXIT_UNCLEAN') > codes.indexOf('BRIDGE_FORCED_STOP'), `the third cut it short, and its line was written before the exit (codes: ${codes.slice(-4).join(', ')})`);
  const again = await startDaemon({ config: hangingConfig, dir: daemon.dir });
  t.teardown(() => void again.process.kill('SIGKILL'));
  t.equal(again.logs.find((l) => l.code === 'QUEUE_OPENED')?.events, 1, 'the acknowledged event is still queued');
});

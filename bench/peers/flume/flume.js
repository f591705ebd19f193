// Apache Flume 1.11 as a benchmark peer (issue #22): HTTPSource -> FileChannel -> file_roll | KafkaSink.
//
//   import { buildFlume, startFlume, readFileRoll } from './peers/flume/flume.js';
//   await buildFlume();                                   // mvn once; a no-op (~ms) when pom + sources are unchanged
//   const flume = await startFlume({ port: 18080, dir: '/tmp/flume-run', sink: 'file' });
//   // ... POST Tencent callback bodies to http://127.0.0.1:18080/?SdkAppid=...  (one body = one event) ...
//   const lines = readFileRoll(flume.dir);              // bodies file_roll wrote, one per line
//   await flume.stop();
//
// Server CPU: flume.pid is the JVM itself (no wrapper script), so /proc/<pid>/stat utime+stime is all of Flume.
// See README.md for the configs and why they are what they are.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

export const FLUME_HOME = path.dirname(fileURLToPath(import.meta.url));
export const FLUME_LIB = path.join(FLUME_HOME, 'target', 'lib');
const STAMP = path.join(FLUME_HOME, 'target', '.im-bridge-build-stamp');
const CONF = { file: path.join(FLUME_HOME, 'file.conf'), kafka: path.join(FLUME_HOME, 'kafka.conf') };

/** JVM flags: fixed 512 MiB heap (no heap growth during a measured window), G1 with a short pause goal. */
export const DEFAULT_JVM_FLAGS = [
  '-Xms512m',
  '-Xmx512m',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
  '-Djava.net.preferIPv4Stack=true',
];

function log(msg) {
  process.stderr.write(`[flume ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** sha256 of pom.xml + every file under src/ (the same stamp idea as test/services/lib.sh mvn_build). */
function sourceHash() {
  const h = createHash('sha256');
  h.update(fs.readFileSync(path.join(FLUME_HOME, 'pom.xml')));
  const walk = (dir) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else h.update(p.slice(FLUME_HOME.length)).update(fs.readFileSync(p));
    }
  };
  walk(path.join(FLUME_HOME, 'src'));
  return h.digest('hex');
}

function javaBin(java) {
  if (java) return java;
  if (process.env.JAVA_HOME) return path.join(process.env.JAVA_HOME, 'bin', 'java');
  return 'java';
}

let building;
/**
 * Resolves Flume 1.11.0's runtime jars from Maven Central into target/lib and builds BodyHandler into
 * target/lib/im-bridge-flume-handler.jar. Cached: skipped when target/lib exists and pom.xml + src/ are
 * unchanged since the last build. Returns { lib, built: boolean, ms }.
 */
export function buildFlume({ quiet = false } = {}) {
  building ??= (async () => {
    const t0 = performance.now();
    const sum = sourceHash();
    const handlerJar = path.join(FLUME_LIB, 'im-bridge-flume-handler.jar');
    if (fs.existsSync(handlerJar) && fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8').trim() === sum) {
      return { lib: FLUME_LIB, built: false, ms: Math.round(performance.now() - t0) };
    }
    if (!quiet) log('building the Flume 1.11 classpath with Maven (first time downloads ~45 MB of jars into ~/.m2) ...');
    const out = await new Promise((resolve, reject) => {
      const child = spawn('mvn', ['-B', '-q', '-f', path.join(FLUME_HOME, 'pom.xml'), 'package'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('error', (err) => reject(new Error(`mvn not runnable (Maven 3.8+ is needed): ${err.message}`)));
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`mvn package failed (exit ${code}):\n${text.slice(-4000)}`))));
    });
    void out;
    fs.writeFileSync(STAMP, sum + '\n');
    const ms = Math.round(performance.now() - t0);
    if (!quiet) log(`built in ${(ms / 1000).toFixed(1)} s -> ${FLUME_LIB}`);
    return { lib: FLUME_LIB, built: true, ms };
  })();
  // a failed build may be retried by a later call
  building.catch(() => (building = undefined));
  return building;
}

/** Java feature version of `java` (17, 25, ...). */
export function javaVersion(java) {
  const r = spawnSync(javaBin(java), ['-XshowSettings:properties', '-version'], { encoding: 'utf8' });
  const m = /java\.specification\.version = (?:1\.)?(\d+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? Number(m[1]) : undefined;
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects when something already listens on bind:port (its answers would pass for Flume's readiness). */
function assertPortFree(port, host) {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (err) => reject(new Error(`startFlume: ${host}:${port} is not free (${err.code ?? err.message})`)));
    s.listen(port, host, () => s.close(() => resolve()));
  });
}

/**
 * Readiness = the source answers a POST. The probe sends an EMPTY body, which BodyHandler refuses with 400:
 * an answer from the servlet (so Jetty, the handler and the source are up) that puts no event in the channel.
 */
async function probe(url) {
  try {
    const res = await fetch(url, { method: 'POST', body: '', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 400 || res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts one Flume agent (its own JVM) and resolves once its HTTPSource answers.
 *
 * @param {object} o
 * @param {number} o.port        HTTPSource port (bound to o.bind, default 127.0.0.1)
 * @param {string} o.dir         run directory; created; holds channel/ (FileChannel checkpoint + data), out/
 *                               (file_roll output) and flume.log. Use a fresh one per run (FileChannel replays
 *                               whatever an old channel/ still holds).
 * @param {'file'|'kafka'} [o.sink='file']
 * @param {string} [o.brokers]   kafka sink: bootstrap servers (default 127.0.0.1:19092)
 * @param {string} [o.topic]     kafka sink: topic (must exist unless the broker auto-creates topics)
 * @param {string} [o.java]      java binary (default $JAVA_HOME/bin/java, else java on PATH)
 * @param {string[]} [o.jvmFlags] replaces DEFAULT_JVM_FLAGS
 * @param {number} [o.startTimeoutMs=90000]
 * @returns {Promise<{ pid: number, url: string, dir: string, outDir: string, logFile: string, startMs: number,
 *   ready: Promise<void>, exited: Promise<number|null>, stop: (graceMs?: number) => Promise<void> }>}
 *   `ready` is already settled when startFlume resolves (kept so callers may `await flume.ready` either way).
 */
export async function startFlume({ port, dir, sink = 'file', brokers, topic, bind = '127.0.0.1', java, jvmFlags, startTimeoutMs = 90000 } = {}) {
  if (!Number.isInteger(port)) throw new Error('startFlume: port (integer) is required');
  if (!dir) throw new Error('startFlume: dir is required');
  if (!CONF[sink]) throw new Error(`startFlume: sink must be 'file' or 'kafka', not ${sink}`);
  await buildFlume();
  await assertPortFree(port, bind);
  dir = path.resolve(dir);
  const outDir = path.join(dir, 'out');
  fs.mkdirSync(path.join(dir, 'channel', 'checkpoint'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'channel', 'data'), { recursive: true });
  fs.mkdirSync(outDir, { recursive: true });
  const logFile = path.join(dir, 'flume.log');
  const logFd = fs.openSync(logFile, 'a');
  const args = [
    ...(jvmFlags ?? DEFAULT_JVM_FLAGS),
    `-Dlog4j2.configurationFile=${path.join(FLUME_HOME, 'log4j2.xml')}`,
    `-Dim-bridge.bench-peer=flume@${dir}`, // marker: tells this JVM apart in ps
    '-cp',
    `${FLUME_LIB}/*`,
    'org.apache.flume.node.Application',
    '--no-reload-conf',
    '-f',
    CONF[sink],
    '-n',
    'agent',
  ];
  const env = {
    ...process.env,
    FLUME_PORT: String(port),
    FLUME_BIND: bind,
    FLUME_DIR: dir,
    FLUME_KAFKA_BROKERS: brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:19092',
    FLUME_KAFKA_TOPIC: topic ?? 'flume-bench',
  };
  const t0 = performance.now();
  // Same process group as us (not detached): a Ctrl-C of the bench reaches Flume too; and if we exit
  // without stop(), the 'exit' hook below kills it, so no JVM is left holding the port.
  const child = spawn(javaBin(java), args, { env, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  const killOnExit = () => {
    if (exitCode === undefined) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  let exitCode;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exitCode = code ?? signal;
      process.off('exit', killOnExit);
      resolve(code);
    });
    child.on('error', (err) => {
      exitCode = err.message;
      resolve(null);
    });
  });
  const url = `http://${bind === '0.0.0.0' ? '127.0.0.1' : bind}:${port}/`;

  const stop = async (graceMs = 20000) => {
    if (exitCode !== undefined) return;
    // SIGTERM: Flume's shutdown hook stops source, sink and channel (FileChannel writes a checkpoint).
    child.kill('SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  const ready = (async () => {
    const deadline = t0 + startTimeoutMs;
    while (performance.now() < deadline) {
      if (exitCode !== undefined) throw new Error(`flume exited during startup (${exitCode}); ${logFile}:\n${tail(logFile)}`);
      if (await probe(url)) return;
      await sleep(150);
    }
    throw new Error(`flume did not answer on ${url} within ${startTimeoutMs} ms; ${logFile}:\n${tail(logFile)}`);
  })();
  try {
    await ready;
  } catch (err) {
    await stop(5000);
    throw err;
  }
  return { pid: child.pid, url, dir, outDir, logFile, startMs: Math.round(performance.now() - t0), ready, exited, stop };
}

/** Every line file_roll wrote under <dir>/out (all rolled files), as strings; no trailing empty line. */
export function readFileRoll(dir) {
  const outDir = path.join(dir, 'out');
  const lines = [];
  for (const name of fs.readdirSync(outDir).sort()) {
    const text = fs.readFileSync(path.join(outDir, name), 'utf8');
    for (const line of text.split('\n')) if (line) lines.push(line);
  }
  return lines;
}

/** Number of events file_roll wrote (lines across its files). */
export function countFileRoll(dir) {
  return readFileRoll(dir).length;
}

// Process plumbing for bench/run.js, its cases and the sink scripts.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Every child process the bench started (track(child)), killed by killTracked() on exit. */
const children = new Set();
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
export function killTracked() {
  for (const c of children) c.kill('SIGKILL');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Spawns `node ...args`, keeps the last 8 KB of its output in child.tail(). */
export function spawnNode(args, options = {}) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let tail = '';
  const keep = (c) => {
    tail += c.toString();
    if (tail.length > 16_384) tail = tail.slice(-8192);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.tail = () => tail;
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return child;
}

/** Resolves when `port` accepts connections and GET /healthz answers; rejects if the child exits first. */
export async function waitListening(child, port, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before listening:\n${child.tail().slice(-3000)}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`not listening on ${port} within ${timeoutMs} ms:\n${child.tail().slice(-3000)}`);
    await sleep(100);
  }
}

export async function stopChild(child, timeoutMs = 20_000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  return code;
}

export function gitInfo(cwd = ROOT) {
  const git = (...a) => {
    try {
      return execFileSync('git', a, { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return undefined;
    }
  };
  const status = git('status', '--porcelain');
  return { commit: git('rev-parse', 'HEAD'), branch: git('rev-parse', '--abbrev-ref', 'HEAD'), dirty_files: status === undefined ? undefined : status.split('\n').filter(Boolean).length };
}

/** Sum of a Prometheus counter/gauge over all label sets. */
export function promSum(text, name) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      found = true;
    }
  }
  return found ? sum : undefined;
}

export function kafkaBrokers() {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS.split(',');
  try {
    const m = /^KAFKA_BROKERS=(.+)$/m.exec(fs.readFileSync(path.join(ROOT, 'test/services/.env'), 'utf8'));
    if (m) return m[1].trim().split(',');
  } catch {}
  return ['127.0.0.1:19092'];
}

/**
 * Spawns the real daemon (compiled dist/, as users run it) on a temp dir and a free port, for
 * e2e and sink integration tests. `npm test` builds dist/ first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bridge.yaml text from an object (defaults: listen on ${PORT}, queue in ${DIR}, one app, one route to every sink). */
export { daemonYaml } from './bridge-yaml.js';
export type { DaemonYamlOptions } from './bridge-yaml.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO_ROOT, 'dist/src/cli.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'im-bridge-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface DaemonOptions {
  /** bridge.yaml text (see daemonYaml); `${PORT}` is replaced with the chosen port and `${DIR}` with the work dir. */
  config: string;
  dir?: string;
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Wait for this log code before resolving (default BRIDGE_STARTED). */
  readyCode?: string;
  timeoutMs?: number;
}

export interface Daemon {
  dir: string;
  port: number;
  url: string;
  configFile: string;
  process: ChildProcess;
  /** All log lines so far (parsed JSON where possible). */
  logs: Array<Record<string, unknown>>;
  stdout(): string;
  waitForLog(code: string, timeoutMs?: number, predicate?: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
  restart(): Promise<Daemon>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const dir = options.dir ?? tempDir();
  const port = options.port ?? (await freePort());
  const configFile = path.join(dir, 'bridge.yaml');
  fs.writeFileSync(configFile, options.config.replaceAll('${PORT}', String(port)).replaceAll('${DIR}', dir));
  const child = spawn(process.execPath, [CLI, 'run', '--config', configFile], {
    cwd: dir,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let partial = '';
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    partial += chunk.toString();
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ text: line });
      }
    }
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited: number | null | undefined;
  const exitPromise = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exited = code))));

  const waitForLog: Daemon['waitForLog'] = (code, timeoutMs = 30_000, predicate) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = logs.find((l) => l.code === code && (!predicate || predicate(l)));
        if (found) {
          cleanup();
          resolve(found);
        } else if (exited !== undefined) {
          cleanup();
          reject(new Error(`daemon exited (${exited}) before logging ${code}:\n${out.slice(-4000)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${code}:\n${out.slice(-4000)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      void exitPromise.then(check);
      check();
    });

  const daemon: Daemon = {
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    configFile,
    process: child,
    logs,
    stdout: () => out,
    waitForLog,
    async stop(timeoutMs = 30_000) {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exitPromise;
      clearTimeout(timer);
      return code;
    },
    async kill9() {
      if (exited !== undefined) return;
      child.kill('SIGKILL');
      await exitPromise;
    },
    async restart() {
      await daemon.stop();
      return startDaemon({ ...options, dir, port, config: fs.readFileSync(configFile, 'utf8') });
    },
  };
  await waitForLog(options.readyCode ?? 'BRIDGE_STARTED', options.timeoutMs ?? 30_000);
  return daemon;
}

export interface PostOptions {
  sdkAppId?: string;
  token?: string;
  requestTime?: number;
  query?: Record<string, string>;
  path?: string;
}

/** Posts one callback as the IM backend would (signed when a token is given). */
export async function postCallback(
  baseUrl: string,
  command: string,
  body: unknown,
  options: PostOptions = {},
): Promise<{ status: number; body: string; json: Record<string, unknown> | undefined }> {
  const query = new URLSearchParams({ SdkAppid: options.sdkAppId ?? '1400000000', CallbackCommand: command, contenttype: 'json', ClientIP: '203.0.113.7', OptPlatform: 'Android', ...options.query });
  if (options.token !== undefined) {
    const requestTime = String(options.requestTime ?? Math.floor(Date.now() / 1000));
    query.set('Sign', createHash('sha256').update(options.token + requestTime).digest('hex'));
    query.set('RequestTime', requestTime);
  }
  const response = await fetch(`${baseUrl}${options.path ?? '/im/callback'}?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, body: text, json };
}

/** A realistic group text message; `seq` orders messages within `groupId`. */
export function groupMessage(groupId: string, seq: number, text = `message ${seq}`): Record<string, unknown> {
  return {
    CallbackCommand: 'Group.CallbackAfterSendMsg',
    GroupId: groupId,
    Type: 'Public',
    From_Account: `user_${seq % 7}`,
    Operator_Account: `user_${seq % 7}`,
    Random: 1000 + seq,
    MsgSeq: seq,
    MsgTime: 1767225600 + seq,
    OnlineOnlyFlag: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
    CloudCustomData: '',
    EventTime: String(1767225600000 + seq),
  };
}

/** Posts many callbacks with bounded concurrency; returns per-request status. */
export async function postMany(
  baseUrl: string,
  items: Array<{ command: string; body: unknown }>,
  concurrency = 32,
  options: PostOptions = {},
): Promise<number[]> {
  const statuses: number[] = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      try {
        statuses[i] = (await postCallback(baseUrl, items[i]!.command, items[i]!.body, options)).status;
      } catch {
        statuses[i] = 0;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

/** Reads an NDJSON file of CloudEvents (missing file = empty). */
export function readEvents(file: string): Array<Record<string, any>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** Polls until `ok(probe())`. The default timeout is generous on purpose: CI machines can be busy. */
/**
 * Resolves once Date.now() reaches `epochMs`. One setTimeout is not enough: timers count from the
 * event loop's cached time, so on a busy machine they fire a few ms early by Date.now().
 */
export async function sleepUntil(epochMs: number): Promise<void> {
  for (let left = epochMs - Date.now(); left > 0; left = epochMs - Date.now()) await new Promise((r) => setTimeout(r, left + 1));
}

export async function waitFor<T>(probe: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!ok(value)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last value: ${JSON.stringify(value)?.slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
    value = await probe();
  }
  return value;
}

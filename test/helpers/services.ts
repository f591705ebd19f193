/**
 * Test helpers for the real Kafka / Elasticsearch / NATS (JetStream) services that `npm run services:up`
 * (bash test/services/all.sh up) starts. See test/services/README.md.
 *
 * Endpoints come from process.env (KAFKA_BROKERS, ELASTICSEARCH_URL, NATS_URL) first, then from
 * test/services/.env (written by the service scripts), then from the scripts' default ports.
 *
 * Gating: `if (!(await requireService(t, 'kafka'))) return` at the top of a test. When the service is not
 * reachable the test is SKIPPED with a loud reason outside CI, and FAILS when CI=true.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { fileURLToPath } from 'node:url';

export type ServiceName = 'kafka' | 'elasticsearch' | 'nats';
export const SERVICE_NAMES: readonly ServiceName[] = ['kafka', 'elasticsearch', 'nats'];

/** test/services (the scripts, probe.mjs and .env live there) */
export const servicesDir = fileURLToPath(new URL('../services/', import.meta.url));
export const servicesEnvFile = fileURLToPath(new URL('../services/.env', import.meta.url));

const DEFAULTS = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  ELASTICSEARCH_URL: 'http://127.0.0.1:19200',
  NATS_URL: 'nats://127.0.0.1:14222',
  KAFKA_SASL_BROKERS: '127.0.0.1:19094',
  KAFKA_SASL_USER: 'imbridge',
  KAFKA_SASL_PASSWORD: 'imbridge-test-secret',
} as const;
type EnvKey = keyof typeof DEFAULTS;

const SERVICE_ENV_KEY: Record<ServiceName, EnvKey> = {
  kafka: 'KAFKA_BROKERS',
  elasticsearch: 'ELASTICSEARCH_URL',
  nats: 'NATS_URL',
};

/** Parses KEY=VALUE lines (# comments, optional quotes). Missing file -> {}. Re-read on every call. */
export function readServicesEnvFile(file: string = servicesEnvFile): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim().replace(/^export\s+/, '');
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
      value = value.slice(1, -1);
    }
    out[key] = value;
  }
  return out;
}

function setting(key: EnvKey): string {
  const fromEnv = process.env[key];
  if (fromEnv && fromEnv.trim()) return fromEnv.trim();
  const fromFile = readServicesEnvFile()[key];
  if (fromFile && fromFile.trim()) return fromFile.trim();
  return DEFAULTS[key];
}

/** Kafka bootstrap brokers, e.g. ['127.0.0.1:19092'] */
export function kafkaBrokers(): string[] {
  return setting('KAFKA_BROKERS')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The test Kafka's SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and its test user. */
export function kafkaSasl(): { brokers: string[]; username: string; password: string } {
  return {
    brokers: setting('KAFKA_SASL_BROKERS')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    username: setting('KAFKA_SASL_USER'),
    password: setting('KAFKA_SASL_PASSWORD'),
  };
}

/** Elasticsearch base URL, e.g. 'http://127.0.0.1:19200' (no trailing slash) */
export function elasticsearchUrl(): string {
  return setting('ELASTICSEARCH_URL').replace(/\/+$/, '');
}

/** NATS server URL, e.g. 'nats://127.0.0.1:14222' */
export function natsUrl(): string {
  return setting('NATS_URL');
}

/** The endpoint string of one service (as in .env) */
export function serviceEndpoint(name: ServiceName): string {
  return setting(SERVICE_ENV_KEY[name]);
}

let nameCounter = 0;

/**
 * A name unique per call (and per process/run), valid everywhere at once: an Elasticsearch index (lowercase,
 * no \ / * ? " < > | , # : space, not starting with - _ +), a Kafka topic ([a-zA-Z0-9._-], <= 249) and a NATS
 * stream / consumer name (no . * > whitespace or path separators). Only [a-z0-9-], starts with a letter,
 * at most ~70 characters. Example: uniqueName('Orders.In') -> 'orders-in-2kq-lx1b3c0d-0-9f1a2b'.
 */
export function uniqueName(prefix: string): string {
  let p = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  if (!p) p = 't';
  const suffix = [
    process.pid.toString(36),
    Date.now().toString(36),
    (nameCounter++).toString(36),
    randomBytes(3).toString('hex'),
  ].join('-');
  return `${p}-${suffix}`;
}

function firstHostPort(endpoint: string, defaultPort: number): { host: string; port: number } {
  const first = endpoint.split(',')[0]!.trim();
  const hostPort = first.includes('://') ? new URL(first).host : first;
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(hostPort);
  return { host: m?.[1] ?? '127.0.0.1', port: m?.[2] ? Number(m[2]) : defaultPort };
}

/** TCP connect; resolves with the first bytes the server sends within `readMs` (or '' if none). */
function tcpProbe(host: string, port: number, timeoutMs: number, readMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    };
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => {
      if (readMs <= 0) return done();
      setTimeout(done, readMs).unref();
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
        if (data.includes('\n')) done();
      });
    });
  });
}

export interface ServiceCheck {
  ok: boolean;
  endpoint: string;
  detail: string;
}

const checkCache = new Map<string, Promise<ServiceCheck>>();

/** Is the service reachable and answering (lightweight: no topic/index/stream is created)? Cached per process. */
export function checkService(name: ServiceName, { fresh = false } = {}): Promise<ServiceCheck> {
  const endpoint = serviceEndpoint(name);
  const key = `${name} ${endpoint}`;
  if (fresh) checkCache.delete(key);
  let p = checkCache.get(key);
  if (!p) {
    p = runCheck(name, endpoint);
    checkCache.set(key, p);
  }
  return p;
}

async function runCheck(name: ServiceName, endpoint: string): Promise<ServiceCheck> {
  try {
    switch (name) {
      case 'kafka': {
        const { host, port } = firstHostPort(endpoint, 9092);
        await tcpProbe(host, port, 3000);
        return { ok: true, endpoint, detail: 'TCP connect ok' };
      }
      case 'elasticsearch': {
        const res = await fetch(`${endpoint.replace(/\/+$/, '')}/_cluster/health`, {
          signal: AbortSignal.timeout(5000),
        });
        const body = (await res.json().catch(() => ({}))) as { status?: string };
        if (!res.ok || !body.status || body.status === 'red') {
          return { ok: false, endpoint, detail: `_cluster/health: HTTP ${res.status}, status ${body.status}` };
        }
        return { ok: true, endpoint, detail: `cluster ${body.status}` };
      }
      case 'nats': {
        const { host, port } = firstHostPort(endpoint, 4222);
        const greeting = await tcpProbe(host, port, 3000, 2000);
        if (!greeting.startsWith('INFO ')) {
          return { ok: false, endpoint, detail: `no NATS INFO greeting (got ${JSON.stringify(greeting.slice(0, 40))})` };
        }
        const jetstream = /"jetstream"\s*:\s*true/.test(greeting);
        return jetstream
          ? { ok: true, endpoint, detail: 'NATS with JetStream' }
          : { ok: false, endpoint, detail: 'NATS answers but JetStream is not enabled' };
      }
    }
  } catch (err) {
    return { ok: false, endpoint, detail: (err as Error)?.message ?? String(err) };
  }
}

/** What requireService needs from a tap Test (structural, so both `t` and subtests fit). */
export interface GateableTest {
  plan(n: number, comment?: string): void;
  fail(message: string): boolean;
  comment(...args: unknown[]): void;
}

/**
 * Gate a test on a service. Returns true if the service is there. Otherwise:
 *  - CI=true: the test FAILS (a missing service must never look green in CI), returns false;
 *  - elsewhere: the test is SKIPPED (plan(0, reason)) with a loud banner on stderr, returns false.
 * Call it before any assertion:  `if (!(await requireService(t, 'kafka'))) return;`
 */
export async function requireService(t: GateableTest, name: ServiceName): Promise<boolean> {
  const check = await checkService(name);
  if (check.ok) return true;
  const reason =
    `${name} is not reachable at ${check.endpoint} (${check.detail}). ` +
    `Start the test services with: npm run services:up  (bash test/services/all.sh up)`;
  if (process.env.CI === 'true') {
    t.fail(`REQUIRED SERVICE MISSING (CI=true): ${reason}`);
    return false;
  }
  const bar = '!'.repeat(100);
  process.stderr.write(`\n${bar}\n!!! SKIPPING: ${reason}\n${bar}\n\n`);
  t.comment(`SKIPPED - ${reason}`);
  t.plan(0, reason);
  return false;
}

export interface ServiceControlResult {
  stdout: string;
  stderr: string;
}

/**
 * Run test/services/<name>.sh <action>: for fault tests that take a service down mid-run and bring it back
 * (same port, same data dir: topics / indices / streams survive). 'start' returns once the service is really
 * ready again; 'stop' once the process is gone. Throws (with the script's output) on failure.
 */
export function serviceControl(
  name: ServiceName,
  action: 'stop' | 'start' | 'status' | 'up' | 'down',
  { timeoutMs = 300_000 }: { timeoutMs?: number } = {},
): Promise<ServiceControlResult> {
  const script = `${servicesDir}${name}.sh`;
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [script, action],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: process.env },
      (err, stdout, stderr) => {
        for (const key of [...checkCache.keys()]) if (key.startsWith(`${name} `)) checkCache.delete(key);
        if (err) {
          const e = new Error(
            `bash ${script} ${action} failed (${err.code ?? err.signal ?? err.message}):\n${stderr}${stdout}`,
          );
          (e as Error & { stdout?: string; stderr?: string }).stdout = stdout;
          (e as Error & { stdout?: string; stderr?: string }).stderr = stderr;
          reject(e);
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

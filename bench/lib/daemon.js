// The real daemon for the bench: its bridge.yaml (daemonYaml, shared with the tests), starting it
// from a tree's dist/ (this checkout, or another one with --baseline), its /metrics.
// Used by bench/run.js's cases and by the sink scripts (bench/sinks/*.js).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { daemonYaml } from '../../test/helpers/bridge-yaml.js';
import { ROOT, freePort, promSum, spawnNode, track, waitListening } from './util.js';
import { SDK_APP_ID, TOKEN } from './payloads.js';

export { daemonYaml };

/** The compiled CLI of a checkout (default: this one). */
export const cliOf = (root = ROOT) => path.join(root, 'dist/src/cli.js');

/** The bench's apps: the signed app of the payload pool (bench/lib/payloads.js). */
export const BENCH_APPS = [{ sdk_app_id: Number(SDK_APP_ID), token: TOKEN }];

/** Writes <dir>/bridge.yaml: `config` is daemonYaml() options or YAML text; ${PORT} and ${DIR} filled in. */
export function writeConfig(dir, port, config) {
  const text = typeof config === 'string' ? config : daemonYaml(config);
  const file = path.join(dir, 'bridge.yaml');
  fs.writeFileSync(file, text.replaceAll('${PORT}', String(port)).replaceAll('${DIR}', dir));
  return file;
}

/** Resolves once every marker (e.g. a log code) has appeared in the child's output. */
function waitOutput(child, markers, timeoutMs) {
  if (!markers.length) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => done(new Error(`daemon did not log ${markers.join(', ')} within ${timeoutMs} ms:\n${child.tail().slice(-3000)}`)), timeoutMs);
    const onData = (c) => {
      out += c.toString();
      if (markers.every((m) => out.includes(m))) done();
    };
    const done = (error) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      if (error) reject(error);
      else resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

/**
 * Starts `node <root>/dist/src/cli.js run` on `dir` (default: a new temp dir) and `port` (default: a
 * free one) and resolves once GET /healthz answers (and `readyLogs` were logged).
 * Returns { port, url, dir, configFile, child }; stop it with stopChild(child) (bench/lib/util.js).
 */
export async function startDaemon({ config, root = ROOT, dir, port, nodeArgs = [], readyLogs = [], timeoutMs = 30_000 }) {
  const cli = cliOf(root);
  if (!fs.existsSync(cli)) throw new Error(`${cli} not found: build first (npm run build${root === ROOT ? '' : ` in ${root}`})`);
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-bench-'));
  port ??= await freePort();
  const configFile = writeConfig(dir, port, config);
  const child = track(spawnNode([...nodeArgs, cli, 'run', '--config', configFile], { cwd: dir }));
  const ready = waitOutput(child, readyLogs, timeoutMs);
  await waitListening(child, port, timeoutMs);
  await ready;
  return { port, url: `http://127.0.0.1:${port}`, dir, configFile, child };
}

/** The daemon's delivery counters from /metrics ({ error } when it does not answer). */
export async function metrics(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return {
      enqueued: promSum(text, 'im_bridge_events_enqueued_total'),
      delivered: promSum(text, 'im_bridge_events_delivered_total'),
      dead_lettered: promSum(text, 'im_bridge_events_dead_lettered_total'),
      queue_depth: promSum(text, 'im_bridge_queue_depth_events'),
      rejected: promSum(text, 'im_bridge_requests_rejected_total'),
    };
  } catch (e) {
    return { error: e.message };
  }
}

/**
 * `im-bridge reload`: SIGHUP to the daemon of this queue directory, then wait for its answer in the
 * reload status file (src/queue/reload-status.ts says why a file and not /readyz).
 *
 * Only the `queue:` section is read here (src/cli/queue-config.ts), to find the daemon. The daemon
 * alone judges the new file, in its own environment (its ${VAR}s, its working directory, its
 * plugins), and the CLI prints its verdict: an operator's shell that lacks a secret the service has
 * must not refuse a reload the daemon would accept, nor accept one it will refuse.
 *
 * Exit codes (src/cli/spec.ts): 0 the new generation is in force, 2 the daemon rejected the file
 * (its reason names file:line), 1 no daemon, it stopped, or no answer within --timeout-ms.
 */
import path from 'node:path';
import { locateDaemon } from '../queue/lock.js';
import { readReloadStatus, reloadStatusFile, type ReloadStatus } from '../queue/reload-status.js';
import { loadQueueSide } from './queue-config.js';
import { CliError, DEFAULT_RELOAD_TIMEOUT_MS, EXIT_OK, EXIT_USAGE } from './spec.js';

/** How often the status file is read: a reload takes milliseconds to a few seconds (sinks restart). */
const POLL_MS = 50;

export async function reload(configFile: string | undefined, timeoutMs = DEFAULT_RELOAD_TIMEOUT_MS): Promise<number> {
  const config = await loadQueueSide(configFile);
  if (config.queue.type === 'kafka') {
    throw new CliError('reload: with queue.type: kafka the daemon keeps no lock or pid file here; send it SIGHUP yourself (systemctl reload im-bridge, kill -HUP PID) and watch its log for CONFIG_RELOADED or CONFIG_RELOAD_REJECTED');
  }
  const queueDir = path.resolve(config.dir, config.queue.dir);
  // Only a live `im-bridge run` that holds this queue's lock is signalled, never whatever process
  // owns a stale pid (src/queue/lock.ts).
  const daemon = locateDaemon(queueDir);
  if ('refused' in daemon) throw new CliError(`reload: ${daemon.refused}`);
  const { pid } = daemon;
  // Read before the signal: any later attempt of this process is the answer to it (or to a reload
  // that was already running, whose result is then what is in force).
  const before = readReloadStatus(queueDir);
  const baseline = before?.pid === pid ? before.attempt : 0;
  process.kill(pid, 'SIGHUP');
  console.log(`sent SIGHUP to im-bridge (pid ${pid}), waiting up to ${timeoutMs} ms for the outcome`);

  const answer = await waitForAnswer(queueDir, pid, baseline, timeoutMs);
  if (answer === 'stopped') throw new CliError(`reload: im-bridge (pid ${pid}) exited before reporting the outcome of the reload`);
  if (answer === 'timeout') {
    const hint = before?.pid === pid ? '' : ` (no status from this daemon in ${reloadStatusFile(queueDir)}: it may be an older im-bridge that writes none)`;
    throw new CliError(`reload: no answer from im-bridge (pid ${pid}) within ${timeoutMs} ms${hint}; its log says whether the new configuration was applied (CONFIG_RELOADED or CONFIG_RELOAD_REJECTED)`);
  }
  if (answer.ok) {
    console.log(`configuration generation ${answer.generation} in force`);
    return EXIT_OK;
  }
  console.error(`error: the daemon rejected the new configuration, generation ${answer.generation} stays in force: ${answer.error?.message ?? 'no reason given'}`);
  return EXIT_USAGE;
}

async function waitForAnswer(queueDir: string, pid: number, baseline: number, timeoutMs: number): Promise<ReloadStatus | 'stopped' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = readReloadStatus(queueDir);
    if (status && status.pid === pid && status.attempt > baseline) return status;
    if (!alive(pid)) return 'stopped';
    if (Date.now() >= deadline) return 'timeout';
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}

/** Signal 0 checks existence only; EPERM means it exists under another user (a service account). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

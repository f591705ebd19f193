/**
 * `im-bridge.reload.json` in the queue directory: the daemon's answer to its latest reload, read by
 * `im-bridge reload` (src/cli/reload.ts) to wait for the outcome of the SIGHUP it sent.
 *
 * WHY A FILE, NOT /readyz: the CLI already finds the daemon through the queue directory (lock and pid
 * file, src/queue/lock.ts), so the file is always where the CLI looks, whatever the listener is. An
 * HTTP call would have to work out a reachable address (listen.host may be 0.0.0.0 or ::, and with
 * listen.admin the generation is only on the admin address), speak https to a self-signed
 * certificate, present a client certificate when the listener requires one, and pass the rate
 * limiter. And /readyz only shows the generation: a rejected config leaves it unchanged, so the CLI
 * could not tell a rejection from a slow reload, nor say why.
 *
 * INVARIANTS
 * 1. Written atomically (temp file + rename): a reader never sees a partial file.
 * 2. `attempt` counts the reloads this daemon process has run (0 = written at start). A reload
 *    refused because another one is running writes nothing: the CLI then reports the running one.
 * 3. `pid` is the writer. A file left by an earlier daemon (another pid) says nothing about this one.
 * 4. Written by the daemon only; a failed write is logged by the caller and never fails a reload.
 */
import fs from 'node:fs';
import path from 'node:path';

export const RELOAD_STATUS_FILE = 'im-bridge.reload.json';

export interface ReloadStatus {
  pid: number;
  attempt: number;
  /** The generation in force after this attempt (unchanged when it was rejected). */
  generation: number;
  ok: boolean;
  /** ISO time of the write. */
  at: string;
  /** Why the new configuration was rejected: the ConfigError's message names file:line:column: key. */
  error?: { code?: string; message: string; file?: string; line?: number; key?: string };
}

export function reloadStatusFile(queueDir: string): string {
  return path.join(queueDir, RELOAD_STATUS_FILE);
}

export function writeReloadStatus(queueDir: string, status: ReloadStatus): void {
  const file = reloadStatusFile(queueDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(status)}\n`);
  fs.renameSync(tmp, file);
}

/** The status file, or undefined when it is missing or not a status (a daemon of an older version writes none). */
export function readReloadStatus(queueDir: string): ReloadStatus | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(reloadStatusFile(queueDir), 'utf8'));
  } catch {
    return undefined;
  }
  const s = parsed as Partial<ReloadStatus> | null;
  if (!s || typeof s.pid !== 'number' || typeof s.attempt !== 'number' || typeof s.generation !== 'number' || typeof s.ok !== 'boolean') return undefined;
  return s as ReloadStatus;
}

/**
 * systemd readiness (Type=notify). Node has no unix datagram sockets, so the message goes through
 * `systemd-notify` (the unit sets NotifyAccess=all). Without NOTIFY_SOCKET this does nothing.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

export function notifySystemd(state: 'READY=1' | 'STOPPING=1' | 'RELOADING=1', logger: Logger, status?: string): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const args = [`--pid=${process.pid}`, state === 'READY=1' ? '--ready' : state];
  if (status) args.push(`STATUS=${status}`);
  execFile('systemd-notify', args, (error) => {
    if (error) logger.warn({ code: 'SYSTEMD_NOTIFY_FAILED', err: error.message }, `systemd-notify ${state} failed`);
  });
}

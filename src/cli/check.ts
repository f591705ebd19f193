/**
 * `im-bridge check` warnings: a file that validates but will not do what its author expects.
 * Warnings never fail the check (exit 0); errors do (exit 2, all of them at once: src/config/load.ts).
 */
import net from 'node:net';
import { unsignedApps } from '../config/auth-policy.js';
import type { BridgeConfig } from '../config/schema.js';

export interface CheckWarning {
  code: string;
  message: string;
}

export function configWarnings(config: BridgeConfig): CheckWarning[] {
  const out: CheckWarning[] = [];
  // One rule for unsigned apps (src/config/auth-policy.ts), shared with the loader and the daemon.
  for (const app of unsignedApps(config)) out.push({ code: 'AUTH_DISABLED', message: app.message });
  if (config.routes.length === 0) {
    out.push({ code: 'CONFIG_NO_ROUTES', message: `no routes: every event is unmatched (${config.unmatched === 'drop' ? 'dropped, counted' : 'dead-lettered'}); add a route such as { name: everything, match: { command: "*" }, to: [SINK] }` });
  }
  const routed = new Set(config.routes.flatMap((r) => r.to));
  for (const name of Object.keys(config.sinks)) {
    if (!routed.has(name)) out.push({ code: 'CONFIG_SINK_UNROUTED', message: `sink "${name}" is defined but no route sends to it` });
  }
  if (config.queue.type !== 'kafka' && config.queue.max_bytes < config.listen.body_limit_bytes) {
    out.push({
      code: 'CONFIG_QUEUE_SMALLER_THAN_BODY',
      message: `queue.max_bytes (${config.queue.max_bytes}) is below listen.body_limit_bytes (${config.listen.body_limit_bytes}): callbacks larger than the queue are answered 503 forever; raise queue.max_bytes or lower listen.body_limit_bytes`,
    });
  }
  return out;
}

/** Tries to bind listen.host:port the way the daemon will (exclusive), then lets it go at once. */
export function bindWarning(config: BridgeConfig): Promise<CheckWarning | undefined> {
  const { host, port } = config.listen;
  if (port === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why: Record<string, string> = {
        EADDRINUSE: 'address already in use: another process (an im-bridge already running?) has the port',
        EADDRNOTAVAIL: 'the address is not one of this machine\'s',
        EACCES: 'permission denied (ports below 1024 need privileges)',
        ENOTFOUND: 'the host name does not resolve',
        EAI_AGAIN: 'the host name does not resolve',
      };
      resolve({ code: 'CONFIG_LISTEN_UNAVAILABLE', message: `cannot listen on ${host}:${port}: ${why[error.code ?? ''] ?? error.message} (${error.code ?? 'error'}); change listen.host/listen.port` });
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

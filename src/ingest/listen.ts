/**
 * Binding a uWS app, explicitly. uWebSockets.js listens with SO_REUSEPORT by default: a second
 * daemon on the same port then starts cleanly and the kernel splits the traffic between the two.
 * So listeners bind with LIBUS_LISTEN_EXCLUSIVE_PORT, and a taken port is an error. The one
 * exception is HTTPS, whose certificate reload binds a second app on the same port before closing
 * the first: that listener is shared, and an exclusive probe bind just before it still refuses a
 * port that another process holds.
 *
 * uWS reports a failed bind as `false`, without a reason. The errno is found by binding the same
 * address with Node's net (no SO_REUSEPORT), so the message names it: `cannot listen on
 * 127.0.0.1:8080: address already in use (EADDRINUSE) — …`.
 */
import net from 'node:net';
import uWS from 'uWebSockets.js';

export type ListenSocket = uWS.us_listen_socket;

/** 'exclusive': nobody else may bind the port. 'shared': SO_REUSEPORT (the HTTPS listener, for its reload). */
export type BindMode = 'exclusive' | 'shared';

/** Config keys named in the error, e.g. { host: 'listen.host', port: 'listen.port' }. */
export interface ListenKeys {
  host: string;
  port: string;
}

export class ListenError extends Error {
  readonly code = 'LISTEN_FAILED';
  constructor(
    message: string,
    readonly address: string,
    readonly errno: string,
  ) {
    super(message);
  }
}

/** uSockets listen options (the typings declare an enum that the binary does not export). */
const LISTEN_DEFAULT = 0;
const LISTEN_EXCLUSIVE_PORT = 1;

type ListenWithOptions = (host: string, port: number, options: number, cb: (socket: ListenSocket | false) => void) => void;

/** Binds `app` to host:port; resolves with the socket and the bound port, or throws a ListenError. */
export async function bindApp(app: uWS.TemplatedApp, host: string, port: number, mode: BindMode, keys: ListenKeys): Promise<{ socket: ListenSocket; port: number }> {
  // Refuse a port someone else holds before joining it with SO_REUSEPORT.
  if (mode === 'shared') port = await probePort(host, port, keys);
  const socket = await listenOnce(app, host, port, mode === 'exclusive' ? LISTEN_EXCLUSIVE_PORT : LISTEN_DEFAULT);
  if (!socket) throw await explain(host, port, keys);
  return { socket, port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) };
}

/**
 * Binds host:port exclusively and lets it go at once: throws the ListenError when another process
 * holds the port, else resolves with the port (the one the kernel chose when `port` is 0). The
 * listeners that then share the port (SO_REUSEPORT) bind with rebindApp.
 */
export async function probePort(host: string, port: number, keys: ListenKeys): Promise<number> {
  const probe = await listenOnce(uWS.App(), host, port, LISTEN_EXCLUSIVE_PORT);
  if (!probe) throw await explain(host, port, keys);
  const probed = uWS.us_socket_local_port(probe as unknown as uWS.us_socket);
  uWS.us_listen_socket_close(probe);
  return probed;
}

/** Binds again where a listener of ours already is (the HTTPS reload): SO_REUSEPORT, no probe. */
export async function rebindApp(app: uWS.TemplatedApp, host: string, port: number, keys: ListenKeys): Promise<ListenSocket> {
  const socket = await listenOnce(app, host, port, LISTEN_DEFAULT);
  if (!socket) throw await explain(host, port, keys);
  return socket;
}

export function closeSocket(socket: ListenSocket | undefined): void {
  if (socket) uWS.us_listen_socket_close(socket);
}

function listenOnce(app: uWS.TemplatedApp, host: string, port: number, options: number): Promise<ListenSocket | false> {
  return new Promise((resolve) => (app.listen as unknown as ListenWithOptions).call(app, host, port, options, resolve));
}

const HINTS: Record<string, (keys: ListenKeys) => string> = {
  EADDRINUSE: (k) => `address already in use (EADDRINUSE) — another process has the port; stop it or change ${k.port}`,
  EADDRNOTAVAIL: (k) => `address not available (EADDRNOTAVAIL) — ${k.host} is not an address of this machine`,
  ENOTFOUND: (k) => `host not found (ENOTFOUND) — ${k.host} must be an IP address or a name that resolves to one of this machine`,
  EAI_AGAIN: (k) => `host name lookup failed (EAI_AGAIN) — ${k.host} must be an IP address or a name that resolves to one of this machine`,
  EACCES: (k) => `permission denied (EACCES) — ports below 1024 need privileges (CAP_NET_BIND_SERVICE); change ${k.port}`,
  EINVAL: (k) => `invalid address (EINVAL) — check ${k.host} and ${k.port}`,
};

/** The bind failure, with the errno that Node's own bind of the same address gets. */
async function explain(host: string, port: number, keys: ListenKeys): Promise<ListenError> {
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const errno = await nodeBindErrno(host, port);
  const hint = errno ? (HINTS[errno]?.(keys) ?? `${errno}`) : 'refused by uWebSockets.js, no reason given (the address was free again when checked)';
  return new ListenError(`cannot listen on ${address}: ${hint}`, address, errno ?? 'EUNKNOWN');
}

function nodeBindErrno(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'EUNKNOWN'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

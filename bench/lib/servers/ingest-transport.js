// The daemon's HTTP front door alone (src/ingest/server.ts, built, of this checkout or of
// <root>): every check of the transport, then a handler that only JSON.parses the body and answers
// OK. Isolates the HTTP layer's cost per request from the rest of the daemon.
// node bench/lib/servers/ingest-transport.js <port> <path> [<root>]
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [port, route, root = path.resolve(import.meta.dirname, '../../..')] = [Number(process.argv[2]), process.argv[3] ?? '/im/callback', process.argv[4]];
const load = (file) => import(pathToFileURL(path.join(root, 'dist/src', file)).href);
const [{ IngestServer }, { Metrics }, { default: pino }] = await Promise.all([load('ingest/server.js'), load('telemetry/metrics.js'), import('pino')]);
const OK = { status: 200, body: '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}' };
const BAD = { status: 400, body: '{"ActionStatus":"FAIL","ErrorCode":40002,"ErrorInfo":"BODY_NOT_JSON"}' };
const handler = {
  handle: async (request) => {
    try {
      JSON.parse(request.body.toString());
      return OK;
    } catch {
      return BAD;
    }
  },
};
const server = new IngestServer({
  listen: { host: '127.0.0.1', port, path: route, body_limit_bytes: 16 * 1024 * 1024 },
  handler,
  metrics: new Metrics({ processMetrics: false }),
  logger: pino({ level: 'silent' }),
  readiness: async () => ({ ready: true }),
});
await server.start();
console.log(`ready ${port}`);
process.on('SIGTERM', () => process.exit(0));


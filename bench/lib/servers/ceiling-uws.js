// Case 1u — the ceiling on uWebSockets.js directly, without hyper-express (the engine under it):
// case 1 minus this is hyper-express's own cost. node bench/lib/servers/ceiling-uws.js <port> <path>
import uWS from 'uWebSockets.js';

const [port, path] = [Number(process.argv[2]), process.argv[3] ?? '/im/callback'];
const OK = '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}';
const app = uWS.App();
app.post(path, (res, req) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const body = Buffer.allocUnsafe(Number(req.getHeader('content-length')) || 0);
  let at = 0;
  res.onData((chunk, last) => {
    body.set(new Uint8Array(chunk), at);
    at += chunk.byteLength;
    if (!last || aborted) return;
    let ok = true;
    try {
      JSON.parse(body.toString('utf8', 0, at));
    } catch {
      ok = false;
    }
    res.cork(() => {
      if (ok) res.writeHeader('content-type', 'application/json; charset=utf-8').end(OK);
      else res.writeStatus('400 Bad Request').end('bad json');
    });
  });
});
app.get('/healthz', (res) => res.end('{"status":"ok"}'));
app.listen('127.0.0.1', port, (socket) => {
  if (!socket) process.exit(1);
  console.log(`ready ${port}`);
});
process.on('SIGTERM', () => process.exit(0));

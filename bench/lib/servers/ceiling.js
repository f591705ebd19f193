// Case 1 — ceiling: a bare hyper-express handler that reads the body, JSON.parses it and answers OK.
// node bench/lib/servers/ceiling.js <port> <path>
import HyperExpress from 'hyper-express';

const [port, path] = [Number(process.argv[2]), process.argv[3] ?? '/im/callback'];
const OK = '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}';
const app = new HyperExpress.Server({ max_body_length: 16 * 1024 * 1024 });
app.post(path, async (req, res) => {
  const body = await req.buffer();
  try {
    JSON.parse(body.toString());
  } catch {
    res.status(400).send('bad json');
    return;
  }
  res.header('content-type', 'application/json; charset=utf-8').send(OK);
});
app.get('/healthz', (_req, res) => res.send('{"status":"ok"}'));
await app.listen(port, '127.0.0.1');
console.log(`ready ${port}`);
process.on('SIGTERM', () => process.exit(0));

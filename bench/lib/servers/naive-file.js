// Case 2 — naive file baseline: node:http; per request: read body, JSON.parse, append one NDJSON line
// to an open file (fs.promises FileHandle.appendFile) and fsync it, then answer OK.
// node bench/lib/servers/naive-file.js <port> <file>
import http from 'node:http';
import fs from 'node:fs/promises';

const [port, file] = [Number(process.argv[2]), process.argv[3]];
const OK = '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}';
const fh = await fs.open(file, 'a');
http
  .createServer((req, res) => {
    if (req.method !== 'POST') {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const text = Buffer.concat(chunks).toString();
        const event = JSON.parse(text);
        await fh.appendFile(JSON.stringify({ type: event.CallbackCommand, time: new Date().toISOString(), data: event }) + '\n');
        await fh.sync();
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(OK);
      } catch (e) {
        res.writeHead(500).end(String(e));
      }
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
process.on('SIGTERM', () => fh.close().finally(() => process.exit(0)));

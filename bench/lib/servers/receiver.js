// --backlog drain phase: the webhook receiver that "comes back". Answers 200 to every POST and counts
// the CloudEvents it got (a batch body is a JSON array; each event has one "specversion" key, and
// the same text inside a string value would be escaped, so counting the key is exact and cheaper
// than parsing MBs of JSON). GET /stats → {"requests","events","bytes"}.
// node bench/lib/servers/receiver.js <port>
import http from 'node:http';

const port = Number(process.argv[2]);
const KEY = Buffer.from('"specversion"');
const stats = { requests: 0, events: 0, bytes: 0 };

function countEvents(buf) {
  let n = 0;
  for (let at = buf.indexOf(KEY); at !== -1; at = buf.indexOf(KEY, at + KEY.length)) n++;
  return n;
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    stats.requests++;
    stats.bytes += body.length;
    stats.events += countEvents(body);
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
process.on('SIGTERM', () => process.exit(0));

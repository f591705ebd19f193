// Case 3 — naive broker baseline: node:http; per request: read body, JSON.parse, await kafkajs
// producer.send({ acks: -1 }) of that one event (default producer), then answer OK.
// node bench/lib/servers/naive-kafka.js <port> <brokers,comma,separated> <topic>
import http from 'node:http';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const [port, brokers, topic] = [Number(process.argv[2]), process.argv[3].split(','), process.argv[4]];
const OK = '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}';
const kafka = new Kafka({ clientId: 'bench-naive', brokers, logLevel: logLevel.NOTHING });
const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
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
        const key = event.GroupId ? `group/${event.GroupId}` : `c2c/${[event.From_Account, event.To_Account].sort().join('/')}`;
        await producer.send({ topic, acks: -1, messages: [{ key, value: text }] });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(OK);
      } catch (e) {
        res.writeHead(503).end(String(e));
      }
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
process.on('SIGTERM', () => producer.disconnect().finally(() => process.exit(0)));

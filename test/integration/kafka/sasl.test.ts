/**
 * SASL against the real Kafka's SASL_PLAINTEXT listener (test/services/kafka: PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512, user from test/services/.env): the kafka sink with each mechanism, a wrong password
 * (the sink cannot connect, says why, and nothing acknowledged is lost), and queue.type kafka over
 * SCRAM. Needs the daemon built (dist/).
 */
import { connect } from 'node:net';
import t from 'tap';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { CLI, groupMessage, postCallback, readEvents, startDaemon, tempDir, waitFor } from '../../helpers/daemon.js';
import { kafkaBrokers, kafkaSasl, requireService, uniqueName } from '../../helpers/services.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const COMMAND = 'Group.CallbackAfterSendMsg';
const sasl = kafkaSasl();

function reachable(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    socket.setTimeout(2000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

async function recordCount(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

t.test('SASL', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  t.ok(await reachable(sasl.brokers[0]!), `the test Kafka has its SASL listener at ${sasl.brokers[0]} (an older broker of the test services? npm run services:down && npm run services:up)`);
  const admin = new Kafka({ clientId: 'im-bridge-sasl-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());

  t.test('kafka sink with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512: every event in each topic; a wrong password cannot connect and keeps its events', async (t) => {
    const base = uniqueName('sasl');
    const mechanisms = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
    await admin.createTopics({ topics: [...mechanisms, 'denied'].map((m) => ({ topic: `${base}.${m}`, numPartitions: 2 })), waitForLeaders: true });
    const sink = (name: string, mechanism: string, password: string) => `
  ${name}:
    type: kafka
    brokers: [${sasl.brokers.join(', ')}]
    topic: ${base}.${name}
    sasl: { mechanism: ${mechanism}, username: ${sasl.username}, password: "${password}" }
    batch: { max_wait_ms: 5 }
    retry: { initial_backoff_ms: 100, max_backoff_ms: 1000, max_attempts: 1000 }
    connect_timeout_ms: 5000`;
    const daemon = await startDaemon({
      config: `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: \${DIR}/queue }
sinks:${mechanisms.map((m) => sink(m, m, sasl.password)).join('')}${sink('denied', 'scram-sha-512', 'not-the-password')}
routes:
  - { name: all, match: { command: "*" }, to: [${[...mechanisms, 'denied'].join(', ')}] }
`,
    });
    t.teardown(() => daemon.stop());
    for (let i = 1; i <= 20; i++) t.equal((await postCallback(daemon.url, COMMAND, groupMessage(`sasl-${i % 4}`, i))).status, 200);
    for (const m of mechanisms) {
      await waitFor(() => recordCount(admin, `${base}.${m}`), (n) => n >= 20, 60_000, 200);
      t.equal(await recordCount(admin, `${base}.${m}`), 20, `${m}: all 20 events in the topic`);
    }
    const failed = await daemon.waitForLog('SINK_CONNECT_FAILED', 30_000, (l) => l.sink === 'denied');
    t.match(String(failed.err), /SASL SCRAM SHA512 authentication failed/, 'the sink says why it cannot connect');
    t.equal(await recordCount(admin, `${base}.denied`), 0, 'nothing reached Kafka without authentication');
    const stats = spawnSync(process.execPath, [CLI, 'queue', 'stats', '--config', daemon.configFile], { encoding: 'utf8' });
    t.match(stats.stdout, /denied: depth 20,/, 'its 20 events wait in the queue');
  });

  t.test('queue.type kafka over SCRAM-SHA-512: acknowledged and delivered; a wrong password fails start-up with the reason', async (t) => {
    const run = uniqueName('sasl-queue');
    const dir = tempDir();
    const config = (password: string) => `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback }
apps: [ { sdk_app_id: 1400000000 } ]
queue:
  type: kafka
  kafka:
    brokers: [${sasl.brokers.join(', ')}]
    topic: ${run}.events
    partitions: 2
    group_prefix: ${run}
    dead_letter_topic: ${run}.dlq
    sasl: { mechanism: scram-sha-512, username: ${sasl.username}, password: "${password}" }
sinks:
  out: { type: file, path: ./out.ndjson, batch: { max_wait_ms: 5 } }
routes:
  - { name: all, match: { command: "*" }, to: [out] }
`;
    const denied = path.join(dir, 'denied.yaml');
    fs.writeFileSync(denied, config('not-the-password').replace('${PORT}', '0'));
    const refused = spawnSync(process.execPath, [CLI, 'run', '--config', denied], { encoding: 'utf8', timeout: 60_000 });
    t.not(refused.status, 0, 'the daemon does not start');
    t.match(refused.stdout + refused.stderr, /SASL SCRAM SHA512 authentication failed/, 'and says why');

    const daemon = await startDaemon({ config: config(sasl.password), dir });
    t.teardown(() => daemon.stop());
    for (let i = 1; i <= 20; i++) t.equal((await postCallback(daemon.url, COMMAND, groupMessage(`saslq-${i % 3}`, i))).status, 200);
    t.equal(await recordCount(admin, `${run}.events`), 20, 'the 20 acknowledged events are in the queue topic');
    const events = await waitFor(() => (fs.existsSync(path.join(dir, 'out.ndjson')) ? readEvents(path.join(dir, 'out.ndjson')) : []), (e) => e.length >= 20, 60_000);
    t.equal(new Set(events.map((e) => e.id)).size, 20, 'and delivered to the sink from there');
  });
});

import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { logEvent, logLevelOf } from '../../../src/telemetry/log-event.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

t.test('logEvent logs the code at its registered level', async (t) => {
  const { logger, lines } = capture();
  logEvent(logger, 'QUEUE_OPENED', { dir: '/q' }, 'queue opened');
  logEvent(logger, 'SINK_WRITE_RETRY', { code: 'overridden', attempt: 2 }, 'retrying');
  logEvent(logger, 'KAFKA_CLIENT_LOG', {}, 'kafkajs: x', 'debug');
  logEvent(logger, 'SINK_TIMEOUT', {}, 'an error code');
  await new Promise((resolve) => setImmediate(resolve));
  t.match(lines, [
    { level: 30, code: 'QUEUE_OPENED', dir: '/q', msg: 'queue opened' },
    { level: 40, code: 'SINK_WRITE_RETRY', attempt: 2 },
    { level: 20, code: 'KAFKA_CLIENT_LOG' },
    { level: 50, code: 'SINK_TIMEOUT' },
  ]);
  t.equal(logLevelOf('KAFKA_CLIENT_LOG'), 'warn');
  t.equal(logLevelOf('SINK_TIMEOUT'), undefined);
});

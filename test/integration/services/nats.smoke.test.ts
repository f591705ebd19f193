// Smoke test: the real NATS JetStream from test/services (npm run services:up) stores and returns a message.
import t from 'tap';
import { AckPolicy, connect, StringCodec } from 'nats';
import { natsUrl, requireService, uniqueName } from '../../helpers/services.js';

t.test('nats: publish to a JetStream stream and read it back', async (t) => {
  if (!(await requireService(t, 'nats'))) return;

  const nc = await connect({ servers: natsUrl(), name: uniqueName('smoke') });
  t.teardown(() => nc.close());
  const sc = StringCodec();
  const jsm = await nc.jetstreamManager();
  const stream = uniqueName('smoke-stream');
  const subject = `${stream}.events`;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  t.teardown(async () => {
    await jsm.streams.delete(stream).catch(() => {});
  });

  const js = nc.jetstream();
  const ack = await js.publish(subject, sc.encode('hello jetstream'), { msgID: 'msg-1' });
  t.equal(ack.stream, stream);
  t.equal(ack.seq, 1);
  t.equal(ack.duplicate, false);
  const dup = await js.publish(subject, sc.encode('hello jetstream'), { msgID: 'msg-1' });
  t.equal(dup.duplicate, true, 'Nats-Msg-Id de-duplication works');

  const stored = await jsm.streams.getMessage(stream, { seq: ack.seq });
  t.equal(sc.decode(stored.data), 'hello jetstream', 'read back by sequence');

  await jsm.consumers.add(stream, { durable_name: 'smoke', ack_policy: AckPolicy.Explicit });
  const consumer = await js.consumers.get(stream, 'smoke');
  const msg = await consumer.next({ expires: 5000 });
  t.ok(msg, 'consumer got a message');
  t.equal(msg?.subject, subject);
  t.equal(msg ? sc.decode(msg.data) : undefined, 'hello jetstream');
  msg?.ack();
});

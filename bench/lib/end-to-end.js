// End-to-end rate into a Kafka topic (cases 5 and Fk): load the server, then wait until the last
// acknowledged request is a record in the topic. The rate is the requests acknowledged in the
// measured window over the window plus that drain: a server whose sink lags behind its ingest (a
// backlog from the warm-up drained during the window) gets no credit for it. Gives up after 30 s
// without progress (complete: false).
import { topicCount } from './kafka.js';
import { runLoad } from './load.js';
import { sleep } from './util.js';

export async function loadIntoTopic(topic, loadArgs) {
  const r = await runLoad(loadArgs);
  const tAcked = performance.now();
  const target = r.load.total_ok_including_warmup;
  let count = await topicCount(topic);
  let last = count;
  let lastProgress = performance.now();
  while (count < target) {
    await sleep(25);
    count = await topicCount(topic);
    if (count > last) {
      last = count;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > 30_000) break;
  }
  const tDone = performance.now();
  const complete = count >= target;
  const rate = Math.round(r.load.ok / (r.load.window_s + (tDone - tAcked) / 1000));
  return {
    r,
    complete,
    fields: {
      topic,
      events_acked_total: target,
      events_in_topic: count,
      complete,
      events_per_s: complete ? rate : null,
      events_per_s_partial: complete ? undefined : rate,
      drain_after_last_ack_ms: Math.round(tDone - tAcked),
    },
  };
}

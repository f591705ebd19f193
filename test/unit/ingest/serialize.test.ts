import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { serializeEvent } from '../../../src/ingest/handler.js';
import { normalize } from '../../../src/normalize/index.js';
import { REPO_ROOT } from '../../helpers/daemon.js';

t.test('serializeEvent equals JSON.stringify for every fixture, with raw spliced from the body text', async (t) => {
  const dir = path.join(REPO_ROOT, 'test/fixtures/callbacks');
  for (const name of fs.readdirSync(dir)) {
    const fixture = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as { query: Record<string, string>; body: Record<string, unknown> };
    const text = `  ${JSON.stringify(fixture.body, null, 1)}\n`;
    const body = JSON.parse(text) as Record<string, unknown>;
    const meta = { sdkAppId: '1400000000', command: fixture.query.CallbackCommand ?? String(body.CallbackCommand ?? ''), receivedAtMs: 1767225600000 };
    for (const includeRaw of [true, false]) {
      const event = normalize(body, meta, { includeRaw });
      const fast = serializeEvent(event, text);
      t.same(JSON.parse(fast), JSON.parse(JSON.stringify(event)), `${name} (includeRaw ${includeRaw})`);
      t.same(event.data.raw, includeRaw ? body : undefined, 'the event object is left as it was');
    }
  }
});

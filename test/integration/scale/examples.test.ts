/** The scale-out example configurations (config/examples/scale-out, docs/scale-out.md) load and select the kafka queue. */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../../src/config/load.js';
import { resolvePlugin } from '../../../src/sink/loader.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../config/examples/scale-out');

t.test('scale-out example bridge.yaml files are valid and use queue.type: kafka', async (t) => {
  const env = { IM_SDK_APP_ID: '1400000000', IM_CALLBACK_TOKEN: 'x' };
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  t.equal(files.length, 3);
  for (const name of files) {
    const { config } = await loadConfigFile(path.join(dir, name), { resolvePlugin, env });
    t.equal(config.queue.type, 'kafka', `${name}: queue.type`);
    t.equal(config.queue.kafka?.group_prefix, 'im-bridge', `${name}: shared group prefix`);
  }
});

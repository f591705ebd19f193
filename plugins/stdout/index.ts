/** stdout sink: one CloudEvent per line on standard output (for pipes and `docker logs`). */
import { Type } from '@sinclair/typebox';
import { defineSink, eventJson, RetriableError } from '../../src/sink/api.js';

export default defineSink({
  type: 'stdout',
  apiVersion: '1',
  configSchema: Type.Object({
    pretty: Type.Boolean({ default: false, description: 'Indent each event (multi-line; for humans only).' }),
  }),
  create(config) {
    return {
      async connect() {},
      writeBatch(events) {
        let text = '';
        for (const event of events) text += (config.pretty ? JSON.stringify(event, null, 2) : eventJson(event)) + '\n';
        return new Promise<void>((resolve, reject) => {
          process.stdout.write(text, (error) => (error ? reject(new RetriableError(`stdout: ${error.message}`, { code: 'STDOUT_WRITE' })) : resolve()));
        });
      },
      async close() {},
    };
  },
});

import { Type } from '@sinclair/typebox';
import { defineSink } from '../../../src/sink/api.js';

export default defineSink({
  type: 'typed_ok',
  apiVersion: '1',
  configSchema: Type.Object({ url: Type.String(), retries: Type.Integer() }),
  create(config) {
    const url: string = config.url;
    const retries: number = config.retries;
    return {
      async connect() {},
      async writeBatch(events) {
        for (const e of events) void `${url}/${e.id}/${retries}`;
      },
      async close() {},
    };
  },
});

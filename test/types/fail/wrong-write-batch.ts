import { Type } from '@sinclair/typebox';
import { defineSink } from '../../../src/sink/api.js';

export default defineSink({
  type: 'typed_bad_write',
  apiVersion: '1',
  configSchema: Type.Object({}),
  create() {
    return {
      async connect() {},
      // wrong: writeBatch receives events, not a string, and must return a Promise
      writeBatch(events: string) {
        return events.length;
      },
      async close() {},
    };
  },
});

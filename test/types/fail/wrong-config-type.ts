import { Type } from '@sinclair/typebox';
import { defineSink } from '../../../src/sink/api.js';

export default defineSink({
  type: 'typed_bad_config',
  apiVersion: '1',
  configSchema: Type.Object({ port: Type.Integer() }),
  create(config) {
    // wrong: port is a number according to configSchema
    const port: string = config.port;
    return { async connect() {}, async writeBatch() { void port; }, async close() {} };
  },
});

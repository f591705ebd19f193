// The conformance kit's validate check (src/sink/conformance.ts checkValidate), on an in-memory sink:
// it passes a plugin whose validate is pure and finds the author's broken config, and fails the ways
// a validate can be wrong (asynchronous, changing its input, finding nothing).
import { Type } from '@sinclair/typebox';
import t from 'tap';
import { defineSink, type ConfigProblem, type SinkPlugin } from '../../../src/sink/api.js';
import { runSinkConformance } from '../../../src/sink/conformance.js';

function memoryPlugin(validate?: (config: { min: number; max: number }) => unknown): SinkPlugin {
  return defineSink({
    type: 'memory',
    apiVersion: '1',
    configSchema: Type.Object({ min: Type.Integer({ default: 0 }), max: Type.Integer({ default: 10 }) }),
    ...(validate && { validate: validate as (config: { min: number; max: number }) => ConfigProblem[] }),
    create() {
      return { async connect() {}, async writeBatch() {}, async close() {} };
    },
  }) as SinkPlugin;
}

const rule = (c: { min: number; max: number }): ConfigProblem[] => (c.min > c.max ? [{ path: 'min', message: 'must not exceed max' }] : []);
const checkOf = async (plugin: SinkPlugin, invalidConfig?: Record<string, unknown>) => {
  const report = await runSinkConformance(plugin, { config: {}, invalidConfig, timeoutMs: 5000 });
  return report.checks.filter((c) => c.name.startsWith('validate'));
};

t.test('a pure validate passes, and finds the broken config', async (t) => {
  t.match(await checkOf(memoryPlugin(rule), { min: 5, max: 1 }), [
    { name: 'validate is synchronous and accepts the config', ok: true },
    { name: 'validate refuses invalidConfig', ok: true, detail: 'min: must not exceed max' },
  ]);
  t.same(await checkOf(memoryPlugin()), [], 'no validate, no invalidConfig: nothing to check');
});

t.test('the ways a validate can be wrong', async (t) => {
  t.match(await checkOf(memoryPlugin(async (c) => rule(c))), [{ ok: false, detail: /promise: it must be synchronous/ }]);
  t.match(await checkOf(memoryPlugin((c) => ((c as { min: number }).min = 3, []))), [{ ok: false, detail: /changed the config/ }]);
  t.match(await checkOf(memoryPlugin(() => [])), [{ ok: true }], 'accepting everything is fine without invalidConfig');
  t.match(await checkOf(memoryPlugin(() => []), { min: 5, max: 1 }), [{ ok: true }, { ok: false, detail: 'no problem found' }]);
  t.match(await checkOf(memoryPlugin(rule), { min: 'x' }), [{ ok: true }, { ok: false, detail: /schema already refuses/ }]);
  t.match(await checkOf(memoryPlugin(), { min: 5, max: 1 }), [{ ok: false, detail: /no validate/ }]);
});

import path from 'node:path';
import t, { type Test } from 'tap';
import { loadConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/errors.js';
import { resolvePlugin } from '../../../src/sink/loader.js';
import { REPO_ROOT } from '../../helpers/daemon.js';

const DIR = path.join(REPO_ROOT, 'test/fixtures/transforms');

function yaml(steps: string): string {
  return `apps: [ { sdk_app_id: 1 } ]
sinks:
  out:
    type: file
    path: ./events.ndjson
    transforms:
${steps}
routes: [ { name: all, match: {}, to: [out] } ]
`;
}

async function expectError(t: Test, steps: string, code: string, line: number, column: number, key: string, reason: RegExp, env: NodeJS.ProcessEnv = {}) {
  try {
    await loadConfigText(yaml(steps), '/etc/bridge.yaml', DIR, { resolvePlugin, env });
    t.fail(`accepted:\n${steps}`);
  } catch (error) {
    t.type(error, ConfigError);
    const e = error as ConfigError;
    t.equal(e.code, code, e.message);
    t.equal(`${e.line}:${e.column}`, `${line}:${column}`, `${key} at ${line}:${column} (${e.message})`);
    t.equal(e.key, key);
    t.match(e.reason, reason);
  }
}

t.test('valid steps load; ${VAR} gives the hash key; plugin options are checked', async (t) => {
  const { config } = await loadConfigText(
    yaml(`      - redact: [data.text, "data.elements[*].content.text"]
      - hash: data.sender
        key: \${HASH_KEY}
      - drop: data.raw
      - plugin: ./tenant.mjs
        options: { tenant: acme }
        timeout_ms: 200`),
    '/etc/bridge.yaml',
    DIR,
    { resolvePlugin, env: { HASH_KEY: 's3cret' } },
  );
  t.equal(config.sinks.out!.transforms!.length, 4);
  t.equal(config.sinks.out!.transforms![1]!.key, 's3cret');
  t.notOk('transforms' in config.sinks.out!.options, 'a host key, not a plugin option');
});

t.test('mistakes are reported at file:line with the key', async (t) => {
  await expectError(t, `      - drop: [data.raw, id]`, 'CONFIG_INVALID_VALUE', 7, 26, 'sinks.out.transforms[0].drop[1]', /cannot be changed/);
  await expectError(t, `      - drop: data.raw\n      - hash: data.sender\n        key: \${HASH_KEY:-}`, 'CONFIG_INVALID_VALUE', 9, 14, 'sinks.out.transforms[1].key', /needs "key:"/);
  await expectError(t, `      - redact: data.text\n        key: x`, 'CONFIG_INVALID_VALUE', 8, 14, 'sinks.out.transforms[0].key', /does not apply to a redact step/);
  await expectError(t, `      - frobnicate: data.text`, 'CONFIG_UNKNOWN_KEY', 7, 9, 'sinks.out.transforms[0].frobnicate', /unknown key/);
  await expectError(t, `      - set: { "data.t": "{{ oops" }`, 'CONFIG_INVALID_VALUE', 7, 26, 'sinks.out.transforms[0].set.data.t', /unclosed/);
  await expectError(t, `      - plugin: ./missing.mjs`, 'CONFIG_PLUGIN_LOAD', 7, 17, 'sinks.out.transforms[0].plugin', /PLUGIN_NOT_FOUND/);
  await expectError(t, `      - plugin: ./tenant.mjs\n        options: { tenant: 3 }`, 'CONFIG_INVALID_VALUE', 8, 28, 'sinks.out.transforms[0].options.tenant', /string/);
  await expectError(t, `      - plugin: ./tenant.mjs\n        options: { other: x }`, 'CONFIG_UNKNOWN_KEY', 8, 20, 'sinks.out.transforms[0].options.other', /unknown key/);
});

t.test('every transforms: recipe in docs/transforms.md and the README loads', async (t) => {
  const fs = await import('node:fs');
  let recipes = 0;
  for (const doc of ['docs/transforms.md', 'README.md']) {
    const text = fs.readFileSync(path.join(REPO_ROOT, doc), 'utf8');
    for (const block of text.match(/```yaml\n[\s\S]*?```/g) ?? []) {
      const lines = block.split('\n').slice(1, -1);
      const start = lines.findIndex((l) => /^ {4}transforms:$/.test(l));
      if (start < 0) continue;
      // Each sink block's transforms, on a file sink (the sink type does not matter to the steps).
      for (let i = start; i < lines.length; i++) {
        if (!/^ {4}transforms:$/.test(lines[i]!)) continue;
        const steps: string[] = [];
        for (let j = i + 1; j < lines.length && /^ {6}/.test(lines[j]!); j++) steps.push(lines[j]!.replace(/\s+#.*$/, ''));
        const plugin = steps.some((l) => l.includes('plugin:'));
        if (plugin) continue; // the plugin example is built and run by test/e2e/transform-plugin.test.ts
        await loadConfigText(yaml(steps.join('\n')), `${doc}`, DIR, { resolvePlugin, env: { IM_BRIDGE_HASH_KEY: 'k' } });
        recipes++;
      }
    }
  }
  t.ok(recipes >= 8, `${recipes} recipes load`);
});

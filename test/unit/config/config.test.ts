import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadConfigFile, loadConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/errors.js';
import { DEFAULT_CONFIG_TEXT } from '../../../src/config/default.js';
import { resolvePlugin } from '../../../src/sink/loader.js';
import { REPO_ROOT } from '../../helpers/daemon.js';

const INVALID = path.join(REPO_ROOT, 'test/fixtures/config/invalid');

t.test('every invalid fixture fails with its expected code, file:line:column and key', async (t) => {
  const files = fs.readdirSync(INVALID).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 15, 'fixtures present');
  for (const name of files) {
    const file = path.join(INVALID, name);
    const header = fs.readFileSync(file, 'utf8').split('\n')[0]!;
    const [, code, pos, key] = /^# expect: (\S+) (\d+:\d+) (\S+)$/.exec(header) ?? [];
    t.ok(code, `${name} declares its expectation`);
    const [line, column] = pos!.split(':').map(Number);
    try {
      await loadConfigFile(file, { resolvePlugin, env: {} });
      t.fail(`${name} should be rejected`);
    } catch (error) {
      t.type(error, ConfigError, `${name}: a ConfigError`);
      const e = error as ConfigError;
      t.equal(e.code, code, `${name}: code ${code} (${e.message})`);
      t.equal(e.file, file, `${name}: names the file`);
      t.equal(e.line, line, `${name}: line ${line}`);
      t.equal(e.column, column, `${name}: column ${column}`);
      if (key !== '-') t.equal(e.key, key, `${name}: key ${key}`);
      t.match(e.message, `${file}:${line}:${column}`, `${name}: message starts with the position`);
    }
  }
});

t.test('repository bridge.yaml is the embedded default', async (t) => {
  t.equal(fs.readFileSync(path.join(REPO_ROOT, 'bridge.yaml'), 'utf8'), DEFAULT_CONFIG_TEXT);
});

t.test('default config: interpolation defaults and schema defaults', async (t) => {
  const { config } = await loadConfigText(DEFAULT_CONFIG_TEXT, 'bridge.yaml', '/srv', { resolvePlugin, env: {} });
  t.equal(config.listen.port, 8080, '${IM_BRIDGE_PORT:-8080} becomes the number 8080');
  t.equal(config.listen.host, '127.0.0.1');
  t.equal(config.apps[0]!.sdk_app_id, '1400000000');
  t.equal(config.apps[0]!.token, '', 'no token unless IM_CALLBACK_TOKEN is set');
  t.equal(config.listen.body_limit_bytes, 4 * 1024 * 1024);
  t.equal(config.auth.time_window_ms, 60_000);
  t.equal(config.unmatched, 'dead_letter');
  t.same(config.sinks.archive!.options, { path: './data/events.ndjson', fsync: true, max_file_bytes: 256 * 1024 * 1024, max_files: 10 });
  t.equal(config.sinks.archive!.batch.max_events, 500);
  t.equal(config.sinks.archive!.retry.max_attempts, 20);
  t.equal(config.routes[0]!.match.command, '*');
});

t.test('environment values win over defaults', async (t) => {
  const env = { IM_SDK_APP_ID: '1400000042', IM_CALLBACK_TOKEN: 'tok', IM_BRIDGE_PORT: '9999' };
  const { config } = await loadConfigText(DEFAULT_CONFIG_TEXT, 'bridge.yaml', '/srv', { resolvePlugin, env });
  t.equal(config.apps[0]!.sdk_app_id, '1400000042');
  t.equal(config.apps[0]!.token, 'tok');
  t.equal(config.listen.port, 9999);
});

t.test('quoted interpolation stays a string; embedded interpolation concatenates', async (t) => {
  const text = `apps:\n  - sdk_app_id: "\${APP:-1400000000}"\n    token: "pre-\${TOK:-x}-post"\nsinks: {}\n`;
  const { config } = await loadConfigText(text, 'b.yaml', '/srv', { resolvePlugin, env: { TOK: 'abc' } });
  t.equal(config.apps[0]!.sdk_app_id, '1400000000');
  t.equal(config.apps[0]!.token, 'pre-abc-post');
});

t.test('a missing file is a coded error', async (t) => {
  await t.rejects(loadConfigFile('/nonexistent/bridge.yaml', { resolvePlugin }), { code: 'CONFIG_FILE_NOT_FOUND' });
});

t.test('config/bridge.schema.json is current (npm run schema)', async (t) => {
  const { bridgeJsonSchema } = await import('../../../src/config/json-schema.js');
  const committed = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'config/bridge.schema.json'), 'utf8'));
  t.same(committed, JSON.parse(JSON.stringify(bridgeJsonSchema())));
});

t.test('example configurations are valid', async (t) => {
  const dir = path.join(REPO_ROOT, 'config/examples');
  const env = { IM_SDK_APP_ID: '1400000000', IM_CALLBACK_TOKEN: 'x' };
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const { config } = await loadConfigFile(path.join(dir, name), { resolvePlugin, env });
    t.ok(Object.keys(config.sinks).length > 0, `${name} loads`);
  }
  const { config } = await loadConfigFile(path.join(REPO_ROOT, 'config/container-bridge.yaml'), { resolvePlugin, env: { IM_CALLBACK_TOKEN: 'x' } });
  t.equal(config.listen.host, '0.0.0.0', 'container config loads');
});

t.test('unsigned must be a choice: an app without a token on a non-loopback host is refused unless allow_unsigned', async (t) => {
  const container = path.join(REPO_ROOT, 'config/container-bridge.yaml');
  const refused = await loadConfigFile(container, { resolvePlugin, env: {} }).then(
    () => undefined,
    (error: ConfigError) => error,
  );
  t.equal(refused?.code, 'CONFIG_UNSIGNED_PUBLIC', 'the container config without IM_CALLBACK_TOKEN is refused');
  t.match(refused?.message, /container-bridge\.yaml:\d+:\d+/, 'with file:line');
  t.match(refused?.message, /apps\[0\]\.token/, 'and the key');
  t.match(refused?.message, /0\.0\.0\.0, which is not a loopback address/);
  const opted = await loadConfigFile(container, { resolvePlugin, env: { IM_BRIDGE_ALLOW_UNSIGNED: 'true' } });
  t.equal(opted.config.apps[0]!.allow_unsigned, true, 'IM_BRIDGE_ALLOW_UNSIGNED=true is the opt-in');
  const { unsignedApps, isLoopbackHost } = await import('../../../src/config/auth-policy.js');
  t.same(unsignedApps(opted.config).map((a) => a.refused), [false], 'reported, not refused');
  const local = await loadConfigFile(path.join(REPO_ROOT, 'bridge.yaml'), { resolvePlugin, env: {} });
  t.same(unsignedApps(local.config).map((a) => [a.sdkAppId, a.refused]), [['1400000000', false]], 'the default config runs on loopback with no token, reported');
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) t.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '']) t.notOk(isLoopbackHost(host), JSON.stringify(host));
});

t.test('the Grafana dashboard only uses metrics the daemon exports', async (t) => {
  const { Metrics } = await import('../../../src/telemetry/metrics.js');
  const metrics = new Metrics();
  const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
  const dashboard = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'config/grafana-dashboard.json'), 'utf8'));
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((x) => x.expr));
  t.ok(exprs.length >= 15);
  for (const expr of exprs) {
    for (const name of expr.match(/im_bridge_[a-z_]+/g) ?? []) {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      t.ok(exported.has(base), `${name} is exported`);
    }
  }
});

// The package's export map resolves (code-review P4(f): `import 'im-bridge'` used to fail, there was
// no src/index.ts): a project with im-bridge in its node_modules imports each public name, and the
// host-side rememberEventJson is not among them. Loads dist/: build first.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { REPO_ROOT, tempDir } from '../helpers/daemon.js';

t.test('im-bridge, im-bridge/sink, im-bridge/kafka and im-bridge/conformance resolve through package.json exports', async (t) => {
  const project = tempDir('package-exports-');
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(REPO_ROOT, path.join(project, 'node_modules/im-bridge'), 'dir');
  fs.writeFileSync(path.join(project, 'package.json'), '{ "type": "module" }\n');
  fs.writeFileSync(
    path.join(project, 'probe.js'),
    `const names = {};
for (const specifier of ['im-bridge', 'im-bridge/sink', 'im-bridge/kafka', 'im-bridge/conformance']) names[specifier] = Object.keys(await import(specifier)).sort();
console.log(JSON.stringify(names));
`,
  );
  const r = spawnSync(process.execPath, ['probe.js'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  const names = JSON.parse(r.stdout) as Record<string, string[]>;
  for (const name of ['Bridge', 'defineSink', 'eventJson', 'compileTemplate', 'RefusalLog', 'throwIfInvalid', 'FatalError']) t.ok(names['im-bridge']!.includes(name), `im-bridge exports ${name}`);
  for (const name of ['defineSink', 'eventJson', 'compileTemplate', 'TemplateError', 'RefusalLog', 'throwIfInvalid', 'PartialBatchError']) t.ok(names['im-bridge/sink']!.includes(name), `im-bridge/sink exports ${name}`);
  t.notOk(names['im-bridge/sink']!.includes('rememberEventJson'), 'rememberEventJson is the host\'s, not public');
  t.notOk(names['im-bridge']!.includes('rememberEventJson'));
  t.same(names['im-bridge/kafka'], ['KafkaConfigError', 'SaslSchema', 'TlsSchema', 'createKafkaClient', 'kafkaSaslOptions', 'kafkaTlsOptions']);
  t.ok(names['im-bridge/conformance']!.includes('runSinkConformance'));
});

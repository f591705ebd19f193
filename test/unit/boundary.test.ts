// The plugin API boundary (code-review §1.7, P4(d)): a built-in plugin uses only what a custom
// plugin can import, so the public API is proven sufficient by the built-ins themselves. Files under
// plugins/ (not tests, not plugins/example, which imports the package names) may import from src/
// only the public modules below; the package's own names are allowed too.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { REPO_ROOT } from '../helpers/daemon.js';

/** src/ modules a plugin may import, and the package export each one is. */
export const PUBLIC_MODULES: Record<string, string> = {
  'src/sink/api.js': 'im-bridge/sink',
  'src/kafka/index.js': 'im-bridge/kafka',
};
const PUBLIC_PACKAGE_NAMES = new Set(Object.values(PUBLIC_MODULES));

// `import … from 'x'`, `export … from 'x'`, `import 'x'`, `import('x')`; comments are stripped first.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g;

/** Every import of `text` (the file at `file`, relative to the repository) that crosses the boundary. */
export function boundaryViolations(file: string, text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const match of code.matchAll(SPECIFIER)) {
    const specifier = match[2]!;
    if (specifier === 'im-bridge' || specifier.startsWith('im-bridge/')) {
      if (!PUBLIC_PACKAGE_NAMES.has(specifier)) out.push(`${file}: ${specifier} is not a public export for plugins (${[...PUBLIC_PACKAGE_NAMES].join(', ')})`);
      continue;
    }
    if (!specifier.startsWith('.')) continue; // a dependency (kafkajs, node:fs…)
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
    if (target.startsWith('src/') && !(target in PUBLIC_MODULES)) {
      out.push(`${file}: imports ${specifier} (${target}); plugins may import from src/ only ${Object.keys(PUBLIC_MODULES).join(', ')}`);
    } else if (!target.startsWith('plugins/') && !target.startsWith('src/')) {
      out.push(`${file}: imports ${specifier} (${target}), outside plugins/ and the public API`);
    }
  }
  return out;
}

function pluginSources(dir: string): string[] {
  return fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return rel === 'plugins/example' || entry.name === 'node_modules' ? [] : pluginSources(rel);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [rel] : [];
  });
}

t.test('the scanner finds what crosses the boundary, and only that', async (t) => {
  const file = 'plugins/kafka/index.ts';
  t.same(boundaryViolations(file, `import { defineSink } from '../../src/sink/api.js';\nimport { kafkaTlsOptions } from '../../src/kafka/index.js';\nimport { x } from './records.js';\nimport kafkajs from 'kafkajs';\nimport { defineSink as d } from 'im-bridge/sink';`), [], 'public modules, siblings, dependencies');
  const bad = boundaryViolations(
    file,
    [
      "import { compileTemplate } from '../../src/sink/template.js';",
      "export { TlsSchema } from '../../src/config/kafka-security.js';",
      "const m = await import('../../src/sink/runner.js');",
      "import '../../src/telemetry/logger.js';",
      "import { Foo } from\n  '../../src/bridge.js';",
      "import { y } from 'im-bridge/conformance';",
      "import { z } from '../../test/helpers/events.js';",
      "// import { c } from '../../src/sink/registry.js'; (a comment is not an import)",
    ].join('\n'),
  );
  t.equal(bad.length, 7, bad.join('\n'));
  for (const target of ['src/sink/template.js', 'src/config/kafka-security.js', 'src/sink/runner.js', 'src/telemetry/logger.js', 'src/bridge.js', 'im-bridge/conformance', 'test/helpers/events.js']) {
    t.ok(bad.some((line) => line.includes(target)), `reports ${target}`);
  }
});

t.test('built-in plugins import only the public API', async (t) => {
  const files = pluginSources('plugins');
  t.ok(files.length >= 20, `scanned ${files.length} plugin sources`);
  for (const name of ['kafka', 'nats', 'elasticsearch', 'webhook', 'file', 'stdout']) t.ok(files.some((f) => f.startsWith(`plugins/${name}/`)), `plugins/${name} scanned`);
  const violations = files.flatMap((file) => boundaryViolations(file, fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')));
  t.same(violations, [], violations.join('\n'));
});

t.test('each public module is a package export', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> };
  for (const [module, name] of Object.entries(PUBLIC_MODULES)) {
    const entry = pkg.exports[`.${name.slice('im-bridge'.length)}`];
    t.equal(entry?.default, `./dist/${module}`, `${name} → dist/${module}`);
  }
});

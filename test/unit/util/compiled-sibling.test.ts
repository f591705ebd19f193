import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { compiledSibling } from '../../../src/util/compiled-sibling.js';

/** A throw-away project: package.json, src/x/{caller,worker,helper}.ts and their dist/ twins. */
function project(t: Test) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bridge-sibling-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.writeFileSync(path.join(root, 'package.json'), '{}');
  for (const dir of ['src/x', 'dist/src/x']) fs.mkdirSync(path.join(root, dir), { recursive: true });
  const file = (rel: string, ageS: number) => {
    const p = path.join(root, rel);
    fs.writeFileSync(p, '// test\n');
    const at = new Date(Date.now() - ageS * 1000);
    fs.utimesSync(p, at, at);
    return p;
  };
  return { root, file, caller: pathToFileURL(path.join(root, 'src/x/caller.ts')).href };
}

t.test('a dist file newer than its source resolves to its URL', async (t) => {
  const { file, caller } = project(t);
  file('src/x/worker.ts', 60);
  file('src/x/helper.ts', 60);
  const js = file('dist/src/x/worker.js', 10);
  t.equal(compiledSibling(caller, './worker.js').href, pathToFileURL(js).href);
});

t.test('a .ts newer than its compiled .js throws BUILD_STALE naming both files', async (t) => {
  const { file, caller } = project(t);
  const ts = file('src/x/worker.ts', 10);
  const js = file('dist/src/x/worker.js', 60);
  t.throws(() => compiledSibling(caller, './worker.js'), { name: 'BuildStaleError', code: 'BUILD_STALE', compiled: js, source: ts });
  try {
    compiledSibling(caller, './worker.js');
  } catch (e) {
    const message = (e as Error).message;
    t.ok(message.includes(js) && message.includes(ts), 'names the compiled file and its source');
    t.match(message, /run npm run build/);
  }
});

t.test('a newer .ts of the same source folder (a module the worker imports) is stale too; test files are not', async (t) => {
  const { file, caller } = project(t);
  file('src/x/worker.ts', 60);
  file('dist/src/x/worker.js', 30);
  file('src/x/worker.test.ts', 5);
  t.ok(compiledSibling(caller, './worker.js'), 'a newer test file does not count');
  const helper = file('src/x/helper.ts', 5);
  t.throws(() => compiledSibling(caller, './worker.js'), { code: 'BUILD_STALE', message: new RegExp(helper.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
});

t.test('a missing dist file throws BUILD_MISSING', async (t) => {
  const { file, caller } = project(t);
  file('src/x/worker.ts', 60);
  t.throws(() => compiledSibling(caller, './worker.js'), { code: 'BUILD_MISSING', message: /run npm run build/ });
});

t.test('paths out of the caller folder map into dist the same way', async (t) => {
  const { root, file } = project(t);
  fs.mkdirSync(path.join(root, 'plugins/p'), { recursive: true });
  fs.mkdirSync(path.join(root, 'dist/plugins/p'), { recursive: true });
  file('plugins/p/index.ts', 60);
  const js = file('dist/plugins/p/index.js', 10);
  const caller = pathToFileURL(path.join(root, 'src/x/registry.ts')).href;
  t.equal(compiledSibling(caller, '../../plugins/p/index.js').href, pathToFileURL(js).href);
});

t.test('a compiled caller (.js) resolves next to itself without checking anything', async (t) => {
  t.equal(compiledSibling('file:///nowhere/dist/src/x/caller.js', './worker.js').href, 'file:///nowhere/dist/src/x/worker.js');
});

// Writes docs/codes.md from the code registry in src/codes.ts. Run after a build: `npm run codes:doc`.
// test/unit/codes.test.ts checks that the committed file is current.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { renderCodesDoc } = await import(path.join(root, 'dist/src/codes-doc.js'));
const target = path.join(root, 'docs/codes.md');
fs.writeFileSync(target, renderCodesDoc());
console.log(`wrote ${path.relative(root, target)}`);

// Writes config/bridge.schema.json (JSON Schema of bridge.yaml for editors) from the TypeBox
// schemas in src/config/schema.ts. Run after a build: `npm run schema`. A unit test checks that the
// committed file is current.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { bridgeJsonSchema } = await import(path.join(root, 'dist/src/config/json-schema.js'));
const target = path.join(root, 'config/bridge.schema.json');
fs.writeFileSync(target, JSON.stringify(bridgeJsonSchema(), null, 2) + '\n');
console.log(`wrote ${path.relative(root, target)}`);

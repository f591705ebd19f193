// Case 2 — naive file: node:http, per request FileHandle.appendFile + fsync, then answer; child process.
import fs from 'node:fs';
import path from 'node:path';
import { runLoad, startPlainServer, summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';

export default {
  id: '2',
  title: 'naive: node:http + appendFile + fsync per request',
  needs: [],
  async run(ctx) {
    const file = path.join(ctx.tmp, 'naive-file.ndjson');
    const { port, child } = await startPlainServer('naive-file.js', [file]);
    try {
      return summarizeCase('2', this.title, await runLoad({ port, serverPid: child.pid }));
    } finally {
      await stopChild(child);
      fs.rmSync(file, { force: true });
    }
  },
};

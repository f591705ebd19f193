// Case 1t — im-bridge's HTTP front door alone (src/ingest/server.ts of the tree under test: its
// transport checks, body read and answer) with a handler that only JSON.parses and answers OK.
// Against 1 and 1u: what the front door adds to a bare server. Runs against --baseline too.
import { PATH, runLoad, startPlainServer, summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';

export default {
  id: '1t',
  title: "im-bridge's HTTP front door alone (transport checks, JSON.parse, OK)",
  needs: ['daemon'],
  async run(ctx) {
    const { port, child } = await startPlainServer('ingest-transport.js', [PATH, ctx.root]);
    try {
      return summarizeCase('1t', this.title, await runLoad({ port, serverPid: child.pid }));
    } finally {
      await stopChild(child);
    }
  },
};

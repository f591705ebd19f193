// Case 1u — the ceiling without hyper-express: uWebSockets.js directly (read body, JSON.parse,
// answer OK), child process. Against case 1 it is hyper-express's own cost per request.
import { PATH, runLoad, startPlainServer, summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';

export default {
  id: '1u',
  title: 'ceiling on bare uWebSockets.js (read body, JSON.parse, OK)',
  needs: [],
  async run() {
    const { port, child } = await startPlainServer('ceiling-uws.js', [PATH]);
    try {
      return summarizeCase('1u', this.title, await runLoad({ port, serverPid: child.pid }));
    } finally {
      await stopChild(child);
    }
  },
};

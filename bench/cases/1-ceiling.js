// Case 1 — ceiling: bare hyper-express handler (read body, JSON.parse, answer OK), child process.
import { PATH, runLoad, startPlainServer, summarizeCase } from '../lib/load.js';
import { stopChild } from '../lib/util.js';

export default {
  id: '1',
  title: 'ceiling: bare hyper-express (read body, JSON.parse, OK)',
  needs: [],
  async run() {
    const { port, child } = await startPlainServer('ceiling.js', [PATH]);
    try {
      return summarizeCase('1', this.title, await runLoad({ port, serverPid: child.pid }));
    } finally {
      await stopChild(child);
    }
  },
};

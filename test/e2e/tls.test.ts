// listen.tls: HTTPS directly, and a renewed certificate served after SIGHUP without a restart.
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { Agent, request } from 'undici';
import { groupMessage, startDaemon, tempDir } from '../helpers/daemon.js';

function makeCert(dir: string, name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.crt`)], { stdio: 'pipe' });
}

function peerName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.end();
      resolve(String(cn));
    });
    socket.once('error', reject);
  });
}

t.test('HTTPS with listen.tls; SIGHUP re-reads a renewed certificate', async (t) => {
  const dir = tempDir();
  try {
    makeCert(dir, 'first');
    makeCert(dir, 'second');
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    t.plan(0, `openssl is not available: ${(error as Error).message}`);
    return;
  }
  fs.copyFileSync(path.join(dir, 'first.crt'), path.join(dir, 'tls.crt'));
  fs.copyFileSync(path.join(dir, 'first.key'), path.join(dir, 'tls.key'));
  const config = `
listen: { host: 127.0.0.1, port: \${PORT}, path: /im/callback, tls: { cert_file: ./tls.crt, key_file: ./tls.key } }
apps: [ { sdk_app_id: 1400000000 } ]
queue: { dir: ./queue }
sinks:
  archive: { type: file, path: ./events.ndjson }
routes: [ { name: all, match: { command: "*" }, to: [archive] } ]
`;
  const daemon = await startDaemon({ config, dir });
  t.teardown(() => daemon.stop());
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  const post = async () => {
    const response = await request(`https://127.0.0.1:${daemon.port}/im/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterSendMsg`, {
      method: 'POST',
      body: JSON.stringify(groupMessage('@TGS#tls', 1)),
      dispatcher,
    });
    return { status: response.statusCode, body: await response.body.text() };
  };
  t.same(await post(), { status: 200, body: '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}' }, 'callbacks over HTTPS');
  t.equal(await peerName(daemon.port), 'first');

  fs.copyFileSync(path.join(dir, 'second.crt'), path.join(dir, 'tls.crt'));
  fs.copyFileSync(path.join(dir, 'second.key'), path.join(dir, 'tls.key'));
  daemon.process.kill('SIGHUP');
  await daemon.waitForLog('TLS_RELOADED', 10_000);
  t.equal(await peerName(daemon.port), 'second', 'the renewed certificate is served');
  t.equal((await post()).status, 200, 'still answering after the swap');
  await dispatcher.close();
});

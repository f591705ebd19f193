// Issue 23 "the container image is built and run here": the committed Dockerfile is built with podman,
// the daemon is started from the built image, a signed group-message callback is posted to it, and
// the event is found in the image's file sink (/data/events.ndjson, config/container-bridge.yaml).
//
// How it runs here: `podman build --isolation chroot` (no Docker engine on these machines; chroot
// isolation needs neither a daemon nor cgroups). The base image node:20-bookworm-slim cannot be
// pulled, so `bash test/services/podman.sh up` (run by `npm run services:up` / `npm test`) installs
// podman and makes a local stand-in of that name (scripts/container/standin-base.sh); the
// Dockerfile itself is not changed for it.
// `podman run` is NOT used: it fails on this host's hybrid cgroup v1/v2 layout ("crun: cgroups in
// hybrid mode not supported, drop all controllers from cgroupv2"). Instead the image's filesystem is
// run directly: a container is created (`podman create`, which runs nothing), its root is mounted
// (`podman mount`), and the image's ENTRYPOINT + CMD run in it with `chroot` as the image's USER
// (node), with the image's Env and WorkingDir, inside a private mount namespace that has /proc and
// /dev (gone when the daemon exits). The network is the host's, so the image's port is reached on
// 127.0.0.1; a free port is passed as IM_BRIDGE_PORT. This checks what the image holds (dist/,
// node_modules with the native modules, the baked-in config, the node user, /data), not podman's
// runtime. The container is removed at the end; the image stays (podman's layer cache makes the next
// build fast).
//
// Skip rule: the test runs when podman is installed AND the base image is in podman's local storage
// (i.e. test/services/podman.sh up succeeded, or the real image was pulled) AND we are root (chroot and
// mounting need it). Otherwise it is skipped with the reason, also under CI=true: a machine where
// podman cannot be installed cannot run it. Once those preconditions hold, every failure (build,
// start, callback, event, exit code) fails the test, with or without CI.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { REPO_ROOT, freePort, postCallback, readEvents, waitFor } from '../helpers/daemon.js';

const BASE_IMAGE = 'docker.io/library/node:20-bookworm-slim';
const IMAGE = 'im-bridge-test';
// --format docker: the OCI format has no HEALTHCHECK (podman drops it with a warning); Docker's keeps it.
const BUILD = ['build', '--isolation', 'chroot', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--format', 'docker', '-t', IMAGE, '.'];
const BUILD_TIMEOUT_MS = 25 * 60_000;
const SAMPLE = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/callbacks/official-group-callback-after-send-msg.json'), 'utf8')) as {
  query: Record<string, string>;
  body: Record<string, unknown>;
};
const SDK_APP_ID = '1400000023';
const TOKEN = 'container-test-token-23';

// A cold build compiles better-sqlite3 and runs `npm ci`: minutes, not tap's default.
t.setTimeout(BUILD_TIMEOUT_MS + 5 * 60_000);

function podman(args: string[], timeout = 120_000) {
  return spawnSync('podman', args, { encoding: 'utf8', timeout, cwd: REPO_ROOT });
}

function whyNot(): string | undefined {
  const version = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) return 'podman is not installed (bash test/services/podman.sh up installs it, as root with apt)';
  if (process.getuid?.() !== 0) return 'not root: chrooting into the image and podman mount need root';
  if (podman(['image', 'exists', BASE_IMAGE]).status !== 0) {
    return `the base image ${BASE_IMAGE} is not in podman's storage (bash test/services/podman.sh up builds a local stand-in)`;
  }
  return undefined;
}

/** Runs a long command, resolves with its exit code and the tail of its output. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => {
      out = (out + d.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - started });
    });
  });
}

interface ImageConfig {
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
}

/** uid:gid of `user` (a name or a number) from the image's own /etc/passwd. */
function userSpec(root: string, user: string | undefined): string {
  if (!user) return '0:0';
  const [name, group] = user.split(':');
  const passwd = fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8').split('\n').map((l) => l.split(':'));
  const entry = passwd.find((f) => f[0] === name || f[2] === name);
  if (!entry) throw new Error(`user ${user} is not in the image's /etc/passwd`);
  let gid = entry[3]!;
  if (group) {
    const groups = fs.readFileSync(path.join(root, 'etc/group'), 'utf8').split('\n').map((l) => l.split(':'));
    gid = groups.find((f) => f[0] === group || f[2] === group)?.[2] ?? group;
  }
  return `${entry[2]}:${gid}`;
}

t.test('the image builds from the committed Dockerfile and its daemon answers a signed callback', async (t) => {
  const reason = whyNot();
  if (reason) {
    t.plan(0, reason);
    return;
  }

  const build = await run('podman', BUILD, BUILD_TIMEOUT_MS);
  t.equal(build.code, 0, `podman ${BUILD.join(' ')} succeeds (${(build.ms / 1000).toFixed(0)} s)`, { output: build.code === 0 ? undefined : build.out.slice(-8000) });
  if (build.code !== 0) return;
  t.comment(`image built in ${(build.ms / 1000).toFixed(1)} s`);

  const inspect = podman(['image', 'inspect', IMAGE]);
  t.equal(inspect.status, 0, 'podman image inspect', { stderr: inspect.stderr });
  const [image] = JSON.parse(inspect.stdout) as Array<{ Config: ImageConfig; Healthcheck?: { Test?: string[] } }>;
  const config = image!.Config;
  t.same(config.Entrypoint, ['node', '/opt/im-bridge/dist/src/cli.js'], 'ENTRYPOINT');
  t.equal(config.User, 'node', 'the image runs as node');
  t.match(image!.Healthcheck?.Test?.join(' '), /healthz/, 'the HEALTHCHECK is kept');

  const name = `im-bridge-test-${process.pid}`;
  podman(['rm', '-f', name]);
  const created = podman(['create', '--name', name, IMAGE]);
  t.equal(created.status, 0, 'podman create', { stderr: created.stderr });
  if (created.status !== 0) return;
  t.teardown(() => {
    podman(['unmount', name]);
    podman(['rm', '-f', name]);
  });
  const mounted = podman(['mount', name]);
  t.equal(mounted.status, 0, 'podman mount', { stderr: mounted.stderr });
  if (mounted.status !== 0) return;
  const root = mounted.stdout.trim();
  t.ok(fs.existsSync(path.join(root, 'opt/im-bridge/dist/src/cli.js')), 'dist/ is in the image');
  t.ok(fs.existsSync(path.join(root, 'etc/im-bridge/bridge.yaml')), 'the config is baked in');
  t.notOk(fs.existsSync(path.join(root, 'opt/im-bridge/node_modules/typescript')), 'dev dependencies were pruned');

  const port = await freePort();
  const env = [
    ...(config.Env ?? []).filter((e) => !e.startsWith('IM_BRIDGE_PORT=')),
    'HOME=/home/node',
    `IM_BRIDGE_PORT=${port}`,
    `IM_SDK_APP_ID=${SDK_APP_ID}`,
    `IM_CALLBACK_TOKEN=${TOKEN}`,
  ];
  const command = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  // $1 = the mounted root, $2 = uid:gid, then the command. exec all the way: the pid we signal is node's.
  const script = 'root=$1; user=$2; shift 2; mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && exec chroot --userspec="$user" "$root" "$@"';
  const args = ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh', root, userSpec(root, config.User), '/usr/bin/env', '-i', '-C', config.WorkingDir || '/', ...env, ...command];
  const daemon: ChildProcess = spawn('unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  daemon.stdout!.on('data', (d) => (out += d));
  daemon.stderr!.on('data', (d) => (out += d));
  let exitCode: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    daemon.on('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      resolve(code);
    }),
  );
  t.teardown(async () => {
    if (exitCode === undefined) {
      daemon.kill('SIGKILL');
      await exited;
    }
  });

  const url = `http://127.0.0.1:${port}`;
  const healthy = await waitFor(
    async () => {
      if (exitCode !== undefined) return 'exited';
      try {
        return (await fetch(`${url}/healthz`)).status === 200 ? 'up' : 'not yet';
      } catch {
        return 'not yet';
      }
    },
    (s) => s !== 'not yet',
    60_000,
  ).catch((e: Error) => e.message);
  t.equal(healthy, 'up', 'the daemon from the image answers /healthz', healthy === 'up' ? {} : { log: out.slice(-4000) });
  if (healthy !== 'up') return;

  const command23 = SAMPLE.query.CallbackCommand!;
  const unsigned = await postCallback(url, command23, SAMPLE.body, { sdkAppId: SDK_APP_ID });
  t.not(unsigned.status, 200, `an unsigned callback is refused (${unsigned.status} ${unsigned.body})`);
  const answer = await postCallback(url, command23, SAMPLE.body, { sdkAppId: SDK_APP_ID, token: TOKEN });
  t.equal(answer.status, 200, `a signed callback gets 200 (${answer.body})`);
  t.match(answer.json, { ActionStatus: 'OK', ErrorCode: 0 }, 'ActionStatus OK');

  const file = path.join(root, 'data/events.ndjson');
  const events = await waitFor(() => readEvents(file), (e) => e.length >= 1, 30_000).catch(() => readEvents(file));
  t.equal(events.length, 1, 'one event in /data/events.ndjson of the container', events.length === 1 ? {} : { log: out.slice(-4000) });
  t.match(events[0], {
    specversion: '1.0',
    type: `com.tencent.im.${command23}`,
    source: `/tencent-im/${SDK_APP_ID}`,
    subject: `group/${String(SAMPLE.body.GroupId)}`,
    imsdkappid: SDK_APP_ID,
    data: { raw: SAMPLE.body },
  }, 'the CloudEvent of the sample');
  t.equal(fs.statSync(file).uid, 1000, 'written by the node user (uid 1000)');

  daemon.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  t.equal(code, 0, 'SIGTERM: the daemon drains and exits 0', code === 0 ? {} : { signal: exitSignal, log: out.slice(-3000) });
  t.match(out, /BRIDGE_STOPPED/, 'it logged BRIDGE_STOPPED');
});

// Issue 23 "a plugin guide whose steps work without a published package": the bash blocks of
// plugins/example/README.md marked `plugin-guide` are run exactly as written, in one shell, with a
// fresh HOME outside the repository (so `~/my-sink` and the `npm pack` tarball live there). The only
// glue: the line marked `# terminal 1` (the daemon) is started in the background, the script waits
// until it answers /healthz, and stops it with SIGTERM at the end.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { REPO_ROOT, freePort, tempDir } from '../helpers/daemon.js';

const GUIDE = path.join(REPO_ROOT, 'plugins/example/README.md');

/** The guide's marked blocks, in order. */
export function guideBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const re = /<!-- plugin-guide:begin -->\s*```bash\n([\s\S]*?)```\s*<!-- plugin-guide:end -->/g;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) blocks.push(m[1]!);
  return blocks;
}

function script(blocks: string[]): string {
  const body = blocks
    .join('\n')
    .split('\n')
    .map((line) => {
      if (!/#\s*terminal 1\b/.test(line)) return line;
      const command = line.replace(/\s+#.*$/, '');
      // Its own process group, like a terminal's foreground job: Ctrl-C (SIGINT to the group) stops it.
      return `setsid ${command} > "$GUIDE_DAEMON_LOG" 2>&1 &
GUIDE_DAEMON=$!
trap 'kill -INT -- -"$GUIDE_DAEMON" 2> /dev/null || true' EXIT
for _ in $(seq 1 1200); do
  curl -sf "http://127.0.0.1:$IM_BRIDGE_PORT/healthz" > /dev/null && break
  kill -0 "$GUIDE_DAEMON" 2> /dev/null || { echo "the daemon exited:"; cat "$GUIDE_DAEMON_LOG"; exit 97; }
  sleep 0.1
done`;
    })
    .join('\n');
  // npx answers Ctrl-C with its own exit status; whether the daemon stopped cleanly is in its log.
  return `set -euo pipefail\n${body}\nkill -INT -- -"$GUIDE_DAEMON"\nwait "$GUIDE_DAEMON" || true\n`;
}

t.test('the plugin guide, step by step, from a fresh home outside the repository', async (t) => {
  const ping = spawnSync('npm', ['ping'], { encoding: 'utf8', timeout: 30_000 });
  if (ping.status !== 0) {
    if (process.env.CI === 'true') t.fail(`the npm registry is not reachable: ${ping.stderr}`);
    else t.plan(0, `the npm registry is not reachable (npm ping: ${ping.stderr.trim().split('\n').pop()}); the guide installs typescript and the tarball's dependencies`);
    return;
  }
  const markdown = fs.readFileSync(GUIDE, 'utf8');
  const blocks = guideBlocks(markdown);
  t.equal(blocks.length, 2, 'the guide has its two runnable blocks');
  for (const line of blocks.join('\n').split('\n').filter((l) => /^npm (install|i) /.test(l))) {
    t.notMatch(line, /(^|\s)im-bridge(@\S*)?(\s|$)/, `the guide never installs \`im-bridge\` from the registry: ${line}`);
  }

  const home = tempDir('plugin-guide-home-');
  const cache = spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
  const port = await freePort();
  const file = path.join(home, 'guide.sh');
  fs.writeFileSync(file, script(blocks));
  const child = spawn('bash', [file], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOME: home, npm_config_cache: cache, npm_config_update_notifier: 'false', IM_BRIDGE_PORT: String(port), GUIDE_DAEMON_LOG: path.join(home, 'daemon.log') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.equal(code, 0, `the guide's commands succeed:\n${out.slice(-6000)}`);
  t.ok(fs.existsSync(path.join(home, 'im-bridge-0.1.0.tgz')) || fs.readdirSync(home).some((f) => /^im-bridge-.*\.tgz$/.test(f)), 'npm pack wrote the tarball to ~');
  const pkg = JSON.parse(fs.readFileSync(path.join(home, 'my-sink/package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
  t.match(pkg.peerDependencies['im-bridge'], /\.tgz$/, 'im-bridge comes from the tarball, not the registry');
  t.match(out, /ok: .*bridge\.yaml: 1 app\(s\), 1 sink\(s\), 1 route\(s\)/, 'check loads the plugin');
  t.match(out, /error: .*refused\.yaml:\d+:\d+: sinks\.files\.dir: is the file-system root.*\[CONFIG_PLUGIN_INVALID\]\n[\s\S]*refused: exit 2/, "check refuses what the plugin's validate() refuses, at its line");
  t.equal(out.split('\n').filter((l) => /^200 /.test(l)).length, 12, 'send-sample: 12 × 200');
  t.match(out, /data\/event-files\/.+\.json/, 'the plugin wrote event files');
  const files = spawnSync('find', [path.join(home, 'my-sink/data/event-files'), '-name', '*.json'], { encoding: 'utf8' }).stdout.trim().split('\n');
  t.ok(files.length >= 12, `one file per event (${files.length})`);
  const log = fs.readFileSync(path.join(home, 'daemon.log'), 'utf8');
  t.match(log, /BRIDGE_SUMMARY/, 'the daemon printed its start-up summary');
  t.match(log, /"heap":\{"growingPercent":200,"source":"default"\}/, 'with the heap growth it applied (src/util/heap.ts)');
  t.match(log, /"code":"BRIDGE_STOPPED","forced":false/, 'Ctrl-C stopped the daemon cleanly');
  t.notMatch(log, /SINK_UNEXPECTED_ERROR/, 'the plugin\'s errors are its own (one copy of im-bridge)');
});

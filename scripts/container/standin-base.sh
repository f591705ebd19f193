#!/usr/bin/env bash
# Builds a local stand-in for the Dockerfile's base image, docker.io/library/node:20-bookworm-slim, in
# podman's local storage, for machines that cannot pull from Docker Hub (the test machines here).
# usage: bash scripts/container/standin-base.sh [--force]
#
# What it is: a minimal Debian bookworm rootfs (debootstrap --variant=minbase, plus ca-certificates),
# this machine's own Node and the npm that came with it under /usr/local (where the official image
# keeps them), the Node headers under /usr/local/include/node (node-gyp builds better-sqlite3 from
# source without downloading headers from nodejs.org), a `node` user and group (uid/gid 1000, home
# /home/node), the host's apt sources and extra CAs (/usr/local/share/ca-certificates), and the
# official image's PATH and CMD ["node"]. The real
# Dockerfile then builds unchanged. On a machine with Docker Hub access none of this is needed.
#
# Fast when done: an image of that name that this script made for the same Node version is kept;
# an image of that name that this script did not make (e.g. the real one, pulled) is never replaced.
# The debootstrap rootfs is cached as a tarball in $IM_BRIDGE_PODMAN_CACHE (default
# /var/cache/im-bridge-podman), so a rebuild (new Node, --force) takes seconds, not minutes.
# Needs root, podman, debootstrap and the Debian mirror ($IM_BRIDGE_DEBIAN_MIRROR, default
# http://deb.debian.org/debian).
set -euo pipefail
IMAGE=docker.io/library/node:20-bookworm-slim
LABEL=io.im-bridge.standin
CACHE=${IM_BRIDGE_PODMAN_CACHE:-/var/cache/im-bridge-podman}
MIRROR=${IM_BRIDGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS_TAR=$CACHE/bookworm-minbase.tar
log() { echo "[standin] $*" >&2; }
die() { echo "[standin] ERROR: $*" >&2; exit 1; }

force=0
[[ "${1:-}" == "--force" ]] && force=1
[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, podman's rootful storage)"
command -v podman >/dev/null || die "podman is not installed (bash test/services/podman.sh installs it)"
NODE_BIN=$(readlink -f "$(command -v node)") || die "no node on PATH"
NODE_VERSION=$("$NODE_BIN" -p 'process.versions.node')
[[ "$NODE_VERSION" == 20.* ]] || die "the stand-in for node:20 needs Node 20 on this machine (found $NODE_VERSION)"
WANT="node-$NODE_VERSION"

if ((!force)) && podman image exists "$IMAGE"; then
  have=$(podman image inspect --format "{{ index .Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
  if [[ "$have" == "$WANT" ]]; then log "$IMAGE (stand-in, $WANT) is present"; exit 0; fi
  if [[ -z "$have" || "$have" == "<no value>" ]]; then log "$IMAGE is present and is not a stand-in: kept as it is"; exit 0; fi
  log "$IMAGE is a stand-in for $have; rebuilding for $WANT"
fi

t0=$(date +%s)
mkdir -p "$CACHE"
if [[ ! -s "$ROOTFS_TAR" ]]; then
  command -v debootstrap >/dev/null || die "debootstrap is not installed (bash test/services/podman.sh installs it)"
  log "debootstrap bookworm (minbase) from $MIRROR into the cache (first time only, ~1-2 min)"
  work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  chroot "$work/root" apt-get clean
  rm -rf "$work/root"/var/lib/apt/lists/* "$work/root"/var/cache/apt/*.bin "$work/root"/var/log/*.log "$work/root"/debootstrap
  tar --numeric-owner --xattrs -C "$work/root" -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$work"
  trap - EXIT
fi

log "assembling $IMAGE: cached rootfs + Node $NODE_VERSION from $NODE_BIN"
root=$(mktemp -d /var/tmp/im-bridge-standin.XXXXXX)
trap 'rm -rf "$root"' EXIT
tar --numeric-owner --xattrs -C "$root" -xf "$ROOTFS_TAR"

# The host's Node and npm, where the official image has them.
install -D -m 0755 "$NODE_BIN" "$root/usr/local/bin/node"
NPM_DIR=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
[[ -f "$NPM_DIR/package.json" ]] || die "cannot find npm's directory (looked at $NPM_DIR)"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
mkdir -p "$root/usr/local/etc"
printf 'update-notifier=false\n' >"$root/usr/local/etc/npmrc"   # npm's global config ($PREFIX/etc/npmrc)
# Headers for node-gyp (nodejs.org, where node-gyp would download them from, may be unreachable).
NODE_PREFIX=$(dirname "$(dirname "$NODE_BIN")")
if [[ -f "$NODE_PREFIX/include/node/node.h" ]]; then
  mkdir -p "$root/usr/local/include"
  cp -a "$NODE_PREFIX/include/node" "$root/usr/local/include/node"
  printf 'nodedir=/usr/local\n' >>"$root/usr/local/etc/npmrc"
else
  log "WARNING: no Node headers at $NODE_PREFIX/include/node; node-gyp will try to download them"
fi
# The CAs this machine trusts beyond Debian's (e.g. a TLS-inspecting egress proxy's): without them
# `npm ci` and `apt-get` over https fail in the build with SELF_SIGNED_CERT_IN_CHAIN. npm is told to
# use the system bundle (Node's built-in list does not have them).
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >>"$root/usr/local/etc/npmrc"
  log "added this machine's extra CAs: $(cd /usr/local/share/ca-certificates && echo *.crt)"
fi
# Check that the copied binary runs on the stand-in's libraries.
chroot "$root" /usr/local/bin/node -e 'process.exit(0)' || die "the host's node does not run inside the bookworm rootfs"
chroot "$root" /usr/local/bin/node /usr/local/bin/npm --version >/dev/null || die "npm does not run inside the bookworm rootfs"

# The official image's node user.
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

# The same apt sources as this host (deb822 or one-line), so `apt-get update` in a build reaches the
# mirror that works here.
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  rm -f "$root/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
elif [[ -s /etc/apt/sources.list ]]; then
  grep -E '^\s*deb\s.*debian' /etc/apt/sources.list >"$root/etc/apt/sources.list" || true
fi
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
: >"$root/etc/resolv.conf"

tar --numeric-owner --xattrs -C "$root" -c . |
  podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    --change 'CMD ["node"]' \
    --change "LABEL $LABEL=$WANT" \
    --message "im-bridge stand-in for node:20-bookworm-slim (Debian bookworm minbase + Node $NODE_VERSION)" \
    - "$IMAGE" >/dev/null
log "$IMAGE built in $(($(date +%s) - t0))s"

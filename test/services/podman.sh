#!/usr/bin/env bash
# podman for the container test (test/e2e/container.test.ts): Debian's podman (+ buildah, debootstrap)
# and a local stand-in for the Dockerfile's base image docker.io/library/node:20-bookworm-slim
# (scripts/container/standin-base.sh), since Docker Hub cannot be reached from the test machines.
# usage: bash test/services/podman.sh up|status
#   up      install what is missing (apt-get, needs root; IM_BRIDGE_SERVICES_NO_INSTALL=1 forbids it),
#           build the stand-in base image unless present. Fast (~1 s) when everything is there.
#           Exit non-zero with the reason when it cannot; `all.sh up` then only warns.
#   status  exit 0 if podman and the base image are present (what the container test checks, too)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BASE_IMAGE=docker.io/library/node:20-bookworm-slim
PACKAGES=(podman buildah debootstrap crun fuse-overlayfs uidmap)
LOG_DIR=${IM_BRIDGE_PODMAN_CACHE:-/var/cache/im-bridge-podman}
log() { echo "[services] podman: $*" >&2; }
die() { echo "[services] podman: ERROR: $*" >&2; exit 1; }

install_packages() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v buildah >/dev/null || missing+=(buildah)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  ((${#missing[@]} == 0)) && return 0
  [[ "${IM_BRIDGE_SERVICES_NO_INSTALL:-0}" != 1 ]] || die "${missing[*]} not installed and IM_BRIDGE_SERVICES_NO_INSTALL=1"
  [[ "$(id -u)" == 0 ]] || die "${missing[*]} not installed, and installing needs root (apt-get install ${PACKAGES[*]})"
  command -v apt-get >/dev/null || die "${missing[*]} not installed and there is no apt-get here (Debian 12: apt-get install ${PACKAGES[*]})"
  log "installing Debian packages: ${PACKAGES[*]}"
  mkdir -p "$LOG_DIR"
  local apt_log="$LOG_DIR/apt.log"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" ||
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; }; } >"$apt_log" 2>&1 ||
    { tail -20 "$apt_log" >&2; die "apt-get install ${PACKAGES[*]} failed (log: $apt_log)"; }
  command -v podman >/dev/null || die "podman still not on PATH after apt-get install"
}

case "${1:-up}" in
  up)
    install_packages
    mkdir -p "$LOG_DIR"
    podman info >/dev/null 2>"$LOG_DIR/podman-info.err" || { cat "$LOG_DIR/podman-info.err" >&2; die "podman info fails"; }
    bash "$REPO/scripts/container/standin-base.sh"
    podman image exists "$BASE_IMAGE" || die "$BASE_IMAGE is missing after standin-base.sh"
    log "ready (podman $(podman version --format '{{.Client.Version}}'), base image $BASE_IMAGE)"
    ;;
  status)
    if command -v podman >/dev/null && podman image exists "$BASE_IMAGE" 2>/dev/null; then
      log "ready (base image $BASE_IMAGE present)"
    else
      log "NOT READY (podman or $BASE_IMAGE missing: bash test/services/podman.sh up)"
      exit 1
    fi
    ;;
  *)
    echo "usage: bash test/services/podman.sh up|status" >&2
    exit 2
    ;;
esac

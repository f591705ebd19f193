#!/usr/bin/env bash
# Runs a command while another process keeps one core busy (a spinning node process at normal
# priority), so that tests which only pass on an idle machine fail here before they land.
# Usage: scripts/with-cpu-burner.sh <command> [args...]     (npm run test:stress; .ci/run --cpu-burner)
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 <command> [args...]" >&2; exit 2; }
node -e 'for (;;) {}' &
burner=$!
trap 'kill "$burner" 2>/dev/null || true' EXIT INT TERM
echo "cpu burner: pid $burner keeps one core busy for the whole run" >&2
"$@"

#!/usr/bin/env bash
# readme-demo.sh — runs the demo command of README.md's quick start exactly as written there, as a
# newcomer would: waits until it serves, checks that the portal and the dashboard answer at the
# address it printed, then stops it with Ctrl-C (SIGINT) and checks it ended cleanly. test.sh runs
# it, so a quick start that no longer works fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=$(sed -n '/^## Quick start/,/^## /p' README.md | grep -m1 '^go run ./cmd/unspoof demo' | sed 's/ *#.*$//')
[ -n "$cmd" ] || { echo "readme-demo: README.md's quick start has no 'go run ./cmd/unspoof demo' line" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "readme-demo: $cmd"
setsid bash -c "exec $cmd" >"$log" 2>&1 &
pid=$!
stop() { kill -INT -- "-$pid" 2>/dev/null || true; }
for _ in $(seq 600); do
	grep -q 'serving until Ctrl-C' "$log" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 1
done
if ! grep -q 'serving until Ctrl-C' "$log"; then
	stop
	cat "$log" >&2
	echo "readme-demo: the demo did not reach 'serving until Ctrl-C'" >&2
	exit 1
fi
cat "$log"
hostport=$(grep -o 'dashboard: *http://[^/ ]*' "$log" | sed 's|.*http://||')
# GET a path over plain HTTP with bash alone (no curl on a fresh machine) and print the status line.
get() {
	local h=${hostport%:*} p=${hostport##*:}
	exec 3<>"/dev/tcp/$h/$p"
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" "$hostport" >&3
	head -n 1 <&3 | tr -d '\r'
	exec 3<&-
}
for path in / /report /staff/login; do
	status=$(get "$path")
	case $status in
	*" 200 "*) echo "readme-demo: GET $path: $status" ;;
	*) stop; echo "readme-demo: GET http://$hostport$path: '$status', want 200" >&2; exit 1 ;;
	esac
done
stop
rc=0
wait "$pid" || rc=$?
grep -q '^stopped' "$log" || { cat "$log" >&2; echo "readme-demo: no clean stop after Ctrl-C (exit $rc)" >&2; exit 1; }
echo "readme-demo: stopped cleanly by Ctrl-C (exit $rc)"

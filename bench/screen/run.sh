#!/usr/bin/env bash
# bench/screen/run.sh — the screening HTTP API under load, on loopback, with wrk.
#
# Installs wrk (Debian package) if missing, builds the real unspoof binary, starts
# `unspoof screen serve` on a free loopback port with every rule on (the DNO and egress lists of
# screen/testdata; the per-address velocity thresholds raised as an operator would for 1,024
# busy peers), and drives it with wrk and bench/screen/post.lua: 65,536 distinct calls in turn,
# one in twenty a DNO-spoofed call from abroad. It checks that no response was an error and
# prints wrk's report (requests/s and the latency distribution, p99 included) and the server's
# own verdict counts. Optionally profiles the server during the run.
#
# Usage: bench/screen/run.sh [--duration 20s] [--connections 64] [--threads 1] [--warmup 5s]
#                            [--gomaxprocs N] [--profile DIR] [--cpus LIST]
#   --duration D      wrk's measured run (default 20s), after a --warmup run (default 5s)
#   --connections N   concurrent keep-alive connections (default 64)
#   --threads N       wrk threads (default 1: wrk and the server share this machine's cores)
#   --gomaxprocs N    GOMAXPROCS of the server (default: all cores)
#   --cpus LIST       pin the server to these CPUs and wrk to the others (taskset), e.g. 0
#   --profile DIR     write a CPU profile of the server (warm-up and run) to DIR/cpu.pprof, and the
#                     binary to DIR/unspoof, for go tool pprof
#
# Example:
#   bench/screen/run.sh --duration 30s --connections 64
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
duration=20s
warmup=5s
connections=64
threads=1
gomaxprocs=
cpus=
profile=
log() { echo "bench/screen: $*" >&2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) duration=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--connections) connections=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--gomaxprocs) gomaxprocs=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--profile) profile=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) log "unknown argument $1 (see --help)"; exit 2 ;;
	esac
done

if ! command -v wrk >/dev/null; then
	log "installing wrk"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
command -v go >/dev/null || { log "Go 1.26 is needed"; exit 1; }

work=$(mktemp -d)
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

log "building unspoof"
(cd "$root" && go build -o "$work/unspoof" ./cmd/unspoof)

pin_server=() pin_wrk=()
if [ -n "$cpus" ]; then
	all=$(seq -s, 0 $(($(nproc) - 1)))
	others=$(echo ",$all," | sed "s/,\($(echo "$cpus" | sed 's/,/\\|/g')\),/,/g; s/^,//; s/,$//")
	pin_server=(taskset -c "$cpus") pin_wrk=(taskset -c "${others:-$cpus}")
fi

prof=()
if [ -n "$profile" ]; then
	mkdir -p "$profile"
	cp "$work/unspoof" "$profile/unspoof"
	prof=(--cpuprofile "$profile/cpu.pprof")
fi

log "starting unspoof screen serve"
(
	[ -n "$gomaxprocs" ] && export GOMAXPROCS=$gomaxprocs
	exec "${pin_server[@]}" "$work/unspoof" "${prof[@]}" --db "$work/unused.db" screen serve --http 127.0.0.1:0 --watch 0 \
		--dno "$root/screen/testdata/dno.csv" --egress "$root/screen/testdata/egress.csv" \
		--ip-calls-per-minute 100000 --ip-numbers-per-minute 500
) 2>"$work/serve.log" &
server=$!
url=
for _ in $(seq 100); do
	url=$(sed -n 's/^screening HTTP on \(http:[^ ]*\).*/\1/p' "$work/serve.log")
	[ -n "$url" ] && break
	kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
	sleep 0.1
done
[ -n "$url" ] || { log "serve did not start"; cat "$work/serve.log" >&2; exit 1; }
log "serving on $url; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

wrk_run() {
	"${pin_wrk[@]}" wrk -t"$threads" -c"$connections" -d"$1" --latency --timeout 5s -s "$root/bench/screen/post.lua" "$url/v1/screen"
}

log "warm-up, $warmup"
wrk_run "$warmup" >/dev/null

log "measuring, $duration: wrk -t$threads -c$connections -d$duration --latency -s bench/screen/post.lua"
out=$(wrk_run "$duration")
echo "$out"
ps -o rss=,time= -p "$server" | awk '{printf "server: RSS %.0f MB, CPU time %s\n", $1/1024, $2}'
curl -s "$url/metrics" | grep '^unspoof_screen_verdicts_total' | grep -v ' 0$' || true
kill -TERM "$server" && wait "$server" || true
server=
[ -n "$profile" ] && log "profile: go tool pprof -top $profile/unspoof $profile/cpu.pprof"
if echo "$out" | grep -q "Non-2xx"; then
	log "some responses were errors"
	exit 1
fi

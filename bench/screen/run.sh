#!/usr/bin/env bash
# bench/screen/run.sh — the screening HTTP API under load, on loopback, with wrk: unspoof's two
# HTTP servers and an empty-handler baseline of each, side by side.
#
# Installs wrk (Debian package) if missing, builds the real unspoof binary and the baseline
# (bench/screen/emptyhttp: every answer the same verdict, nothing read or screened). Then, --rounds
# times, interleaved so that others' load on the machine falls on each alike, for each server of
# --servers:
#   net/http, fasthttp       `unspoof screen serve --http-server NAME` on a free loopback port
#                            with every rule on (the DNO and egress lists of screen/testdata; the
#                            per-address velocity thresholds raised as an operator would for
#                            1,024 busy peers);
#   empty-net/http, empty-fasthttp   the baseline on that server;
# it starts the server, drives it with wrk and bench/screen/post.lua (65,536 distinct calls in
# turn, one in twenty a DNO-spoofed call from abroad) for --warmup, then for --duration measured,
# and stops it. It checks that no response was an error and that unspoof counted (its metrics)
# at least the verdicts wrk got, and prints one line per run (requests/s, p50, p99, the server's CPU time) and
# a markdown table of medians per server on stdout; wrk's reports and progress go to stderr.
#
# Usage: bench/screen/run.sh [--servers LIST] [--rounds N] [--duration 10s] [--warmup 3s]
#                            [--connections 16] [--threads 1] [--gomaxprocs N] [--cpus LIST]
#                            [--quiet S] [--profile DIR]
#   --servers LIST    comma-separated, from net/http, fasthttp, empty-net/http, empty-fasthttp
#                     (default all four)
#   --rounds N        runs per server, interleaved (default 3)
#   --duration D      wrk's measured run (default 10s), after a --warmup run (default 3s)
#   --connections N   concurrent keep-alive connections (default 16)
#   --threads N       wrk threads (default 1: wrk and the server share this machine's cores)
#   --gomaxprocs N    GOMAXPROCS of the server (default: all cores)
#   --cpus LIST       pin the server to these CPUs and wrk to the others (taskset), e.g. 0
#   --quiet S         before each server's start, wait up to S seconds for the 1-minute load
#                     average (the benchmark's own runs included) to fall below 1 (default 0)
#   --profile DIR     write a CPU profile of each unspoof server (warm-up and run) to
#                     DIR/cpu-SERVER-ROUND.pprof, and the binary to DIR/unspoof, for go tool pprof
#
# Example:
#   flock /tmp/unspoof-bench.lock bench/screen/run.sh --rounds 3 --duration 10s
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
servers=net/http,fasthttp,empty-net/http,empty-fasthttp
rounds=3
duration=10s
warmup=3s
connections=16
threads=1
gomaxprocs=
cpus=
quiet=0
profile=
log() { echo "bench/screen: $*" >&2; }
source "$root/bench/lib.sh" # wait_quiet
while [ $# -gt 0 ]; do
	case "$1" in
	--servers) servers=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--connections) connections=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--gomaxprocs) gomaxprocs=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--quiet) quiet=$2; shift 2 ;;
	--profile) profile=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) log "unknown argument $1 (see --help)"; exit 2 ;;
	esac
done
IFS=, read -r -a server_list <<<"$servers"
for s in "${server_list[@]}"; do
	case "$s" in
	net/http|fasthttp|empty-net/http|empty-fasthttp) ;;
	*) log "--servers: unknown server $s (net/http, fasthttp, empty-net/http, empty-fasthttp)"; exit 2 ;;
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

log "building unspoof and bench/screen/emptyhttp"
(cd "$root" && go build -o "$work/unspoof" ./cmd/unspoof && go build -o "$work/emptyhttp" ./bench/screen/emptyhttp)

pin_server=() pin_wrk=()
if [ -n "$cpus" ]; then
	all=$(seq -s, 0 $(($(nproc) - 1)))
	others=$(echo ",$all," | sed "s/,\($(echo "$cpus" | sed 's/,/\\|/g')\),/,/g; s/^,//; s/,$//")
	pin_server=(taskset -c "$cpus") pin_wrk=(taskset -c "${others:-$cpus}")
fi
if [ -n "$profile" ]; then
	mkdir -p "$profile"
	cp "$work/unspoof" "$profile/unspoof"
fi

# start NAME ROUND: start server NAME in the background ($server), its base URL in $url.
start() {
	local name=$1 round=$2 prof=() pattern='^screening HTTP on \(http:[^ ]*\).*'
	if [ -n "$profile" ]; then
		prof=(--cpuprofile "$profile/cpu-${name//\//-}-$round.pprof")
	fi
	(
		[ -n "$gomaxprocs" ] && export GOMAXPROCS=$gomaxprocs
		case "$name" in
		empty-*) exec "${pin_server[@]}" "$work/emptyhttp" -server "${name#empty-}" -addr 127.0.0.1:0 ;;
		*) exec "${pin_server[@]}" "$work/unspoof" "${prof[@]}" --db "$work/unused.db" screen serve --http 127.0.0.1:0 \
			--http-server "$name" --watch 0 --dno "$root/screen/testdata/dno.csv" --egress "$root/screen/testdata/egress.csv" \
			--ip-calls-per-minute 100000 --ip-numbers-per-minute 500 ;;
		esac
	) 2>"$work/serve.log" &
	server=$!
	[[ $name == empty-* ]] && pattern='^emptyhttp on \(http:[^ ]*\).*'
	url=
	for _ in $(seq 100); do
		url=$(sed -n "s/$pattern/\1/p" "$work/serve.log")
		[ -n "$url" ] && return 0
		kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
		sleep 0.1
	done
	log "$name did not start"
	cat "$work/serve.log" >&2
	exit 1
}

wrk_run() {
	"${pin_wrk[@]}" wrk -t"$threads" -c"$connections" -d"$1" --latency --timeout 5s -s "$root/bench/screen/post.lua" "$url/v1/screen"
}

# ms LATENCY: wrk's latency (812.00us, 1.20ms, 1.01s) in milliseconds.
ms() {
	awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; printf "%.2f", n }'
}

log "$(nproc) cores; wrk -t$threads -c$connections -d$duration --latency -s bench/screen/post.lua, after a $warmup warm-up; ${gomaxprocs:+GOMAXPROCS=$gomaxprocs; }$rounds rounds of: ${server_list[*]}"
results=$work/results
failed=0
for round in $(seq "$rounds"); do
	for name in "${server_list[@]}"; do
		wait_quiet 1
		start "$name" "$round"
		wrk_run "$warmup" >/dev/null
		load=$(cut -d' ' -f1 /proc/loadavg)
		cpu0=$(awk '{ print $14 + $15 }' "/proc/$server/stat")
		out=$(wrk_run "$duration")
		cpu1=$(awk '{ print $14 + $15 }' "/proc/$server/stat")
		echo "$out" >&2
		rps=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
		sent=$(echo "$out" | awk '/requests in/ { print $1 }')
		p50=$(ms "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
		p99=$(ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
		errors=$(echo "$out" | awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }')
		# CPU time of the server per request, in µs (clock ticks of /proc/PID/stat).
		cpu_us=$(awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v n="$sent" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
		if [[ $name != empty-* ]]; then
			# Every request of warm-up and run got a verdict, counted in the metrics.
			counted=$(curl -s "$url/metrics" | awk '/^unspoof_screen_verdicts_total/ { n += $2 } END { print n + 0 }')
			if [ "$counted" -lt "$sent" ]; then
				log "$name: the server counted $counted verdicts; wrk got $sent in the measured run alone"
				failed=1
			fi
		fi
		kill -TERM "$server" && wait "$server" || true
		server=
		if [ "$errors" != 0 ]; then
			log "$name: $errors responses were errors"
			failed=1
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$rps" "$p50" "$p99" "$cpu_us" "$load" | tee -a "$results" >&2
	done
done

# Medians per server, in --servers order.
echo "| server | requests/s (median; each run) | p50 ms | p99 ms (median; each run) | server CPU µs/request | load |"
echo "|---|---|---|---|---|---|"
for name in "${server_list[@]}"; do
	awk -F'\t' -v s="$name" '
		function median(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		}
		$1 == s { n++; rps[n] = $3; p50[n] = $4; p99[n] = $5; cpu[n] = $6; runs = runs sep $3; p99s = p99s sep $5; loads = loads sep $7; sep = ", " }
		END { printf "| %s | **%d** (%s) | %.2f | **%.2f** (%s) | %.1f | %s |\n", s, median(rps, n), runs, median(p50, n), median(p99, n), p99s, median(cpu, n), loads }
	' "$results"
done
[ -n "$profile" ] && log "profiles: go tool pprof -top $profile/unspoof $profile/cpu-fasthttp-1.pprof"
exit "$failed"

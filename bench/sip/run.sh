#!/usr/bin/env bash
# bench/sip/run.sh — the SIP redirect server under sipp load.
#
# For each rate, runs TestSippLoad (load_test.go beside this file): the redirect server in
# process on the real screening engine (numbering, DNO, ingress, velocity; unsigned calls, 1 %
# of them on the DNO list and declined), and sipp (Debian's sip-tester) as a proxy offering
# calls at that rate for --seconds: INVITE, 302 or 603, ACK (scenario load.xml). Prints a
# markdown table for docs/performance.md on stdout; progress goes to stderr. The exit status is
# 1 when a run had failed calls (the table is printed anyway).
#
# Columns: offered rate, calls, calls that succeeded and failed (no answer within 5 s, after
# sipp's retransmissions), the answered rate sipp achieved, sipp's INVITE-to-answer time at
# p50, p99 and max (sipp's clock ticks every 4 ms here, so its times are multiples of 4 ms),
# and the server's own INVITE-to-answer p99 (the bucket of unspoof_sip_invite_seconds).
#
# Usage: bench/sip/run.sh [--rates LIST] [--seconds S] [--transport u1|t1] [--target HOST:PORT]
#                         [--quiet S]
#   --rates LIST      comma-separated calls per second (default 1000,2000,4000)
#   --seconds S       length of each run (default 20)
#   --transport T     u1 (UDP, default) or t1 (TCP)
#   --target H:P      a redirect server already running (e.g. unspoof screen serve --sip) instead
#                     of the in-process one; its p99 column is then "-"
#   --quiet S         before each run, wait up to S seconds for the 1-minute load average to
#                     fall below the number of cores, others' work skewing the figures (default 0)
#
# Examples:
#   bench/sip/run.sh --rates 500 --seconds 5      # a quick check
#   bench/sip/run.sh                              # the figures of docs/performance.md
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rates=1000,2000,4000
seconds=20
transport=u1
target=
quiet=0

log() { echo "bench/sip: $*" >&2; }
die() {
	log "$*"
	exit 1
}

while (($#)); do
	case $1 in
	--rates) rates=$2 && shift ;;
	--seconds) seconds=$2 && shift ;;
	--transport) transport=$2 && shift ;;
	--target) target=$2 && shift ;;
	--quiet) quiet=$2 && shift ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done

[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive whole number, got $seconds"
[[ $transport == u1 || $transport == t1 ]] || die "--transport must be u1 or t1, got $transport"
command -v sipp >/dev/null || die "sipp is not installed (apt-get install sip-tester)"

cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "building the test binary"
go test -c -o "$work/sipbench.test" ./bench/sip/

settle() {
	local waited=0 cores
	cores=$(nproc)
	while ((waited < quiet)); do
		awk -v c="$cores" '{exit !($1 < c)}' /proc/loadavg && return
		sleep 5
		waited=$((waited + 5))
	done
}

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
echo
echo "| transport | offered | calls | ok | failed | answered/s | p50 | p99 | max | server p99 |"
echo "|---|---|---|---|---|---|---|---|---|---|"
status=0
IFS=, read -ra list <<<"$rates"
for r in "${list[@]}"; do
	[[ $r =~ ^[1-9][0-9]*$ ]] || die "bad rate $r"
	settle
	log "$r calls/s for ${seconds}s (load average $(cut -d' ' -f1 /proc/loadavg))"
	out=$(cd bench/sip && "$work/sipbench.test" -test.run '^TestSippLoad$' -test.v \
		-sipp.rate "$r" -sipp.calls $((r * seconds)) -sipp.transport "$transport" \
		${target:+-sipp.target "$target"} 2>&1) || status=1
	row=$(grep '^|' <<<"$out" || true)
	if [[ -z $row ]]; then
		log "no result at $r calls/s:"
		tail -20 <<<"$out" >&2
		status=1
		continue
	fi
	echo "$row"
done
exit $status

#!/usr/bin/env bash
# bench/portal/run.sh — the portal's and dashboard's load benchmark (issue: portal and dashboard).
#
# Builds the real unspoof binary, simulates a case at --scale (default 0.01: ~100,000 calls; 1.0
# is the full 10M-call year), ingests and ranks it into a fresh SQLite store, adds a member of
# staff, starts "unspoof serve" on loopback with the per-client report limit off, then with wrk
# (Debian package wrk, installed if missing):
#   1. report submissions: POST /report/send with a full, valid form (CSRF cookie and token
#      taken from a real GET), for --duration seconds: requests/s and latency percentiles;
#   2. the dashboard's headline page GET /staff (signed in), one request at a time, once the
#      evidence figures are cached and the reports just sent are linked: requests/s and latency
#      percentiles.
# Every report wrk sends is checked to be stored (count before and after). Prints a markdown
# table on stdout; progress on stderr.
#
# Usage: bench/portal/run.sh [--scale S] [--duration SECONDS] [--connections N] [--keep]
# Example: bench/portal/run.sh --scale 1.0 --duration 20
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scale=0.01
duration=15
conns=32
keep=0
while (($#)); do
	case $1 in
	--scale) scale=$2 && shift ;;
	--duration) duration=$2 && shift ;;
	--connections) conns=$2 && shift ;;
	--keep) keep=1 ;;
	*) echo "bench/portal: unknown flag $1" >&2 && exit 2 ;;
	esac
	shift
done
log() { echo "bench/portal: $*" >&2; }
command -v wrk >/dev/null || { log "installing wrk"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

work=$(mktemp -d "${TMPDIR:-/tmp}/unspoof-bench-portal.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	if ((keep)); then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log "building"
(cd "$root" && go build -o "$work/unspoof" ./cmd/unspoof)
u="$work/unspoof"
db="$work/unspoof.db"
log "simulating scale $scale, ingesting, ranking"
"$u" simulate --preset ispoof --scale "$scale" --seed 1 --out "$work/case" >/dev/null
for k in orgs accounts payments calls; do "$u" --db "$db" ingest --no-progress --kind "$k" "$work/case/$k.csv" >/dev/null; done
"$u" --db "$db" victims rank --rule met-2022 >/dev/null
"$u" --db "$db" suspects rank --rule harm >/dev/null
UNSPOOF_PASSWORD=bench-password-1 "$u" --db "$db" staff add bench --role analyst >/dev/null

"$u" --db "$db" serve --http 127.0.0.1:0 --reports-per-minute -1 >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q serving "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's|serving on \(http://[0-9.:]*\)/ .*|\1|p' "$work/serve.out")
[ -n "$base" ] || { cat "$work/serve.err" >&2; exit 1; }
log "serving on $base"

# A real browser's CSRF cookie and token.
jar="$work/cookies"
token=$(curl -s -c "$jar" "$base/report" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
cookie=$(awk '$6 == "unspoof_csrf" {print $7}' "$jar")
code=$("$u" --db "$db" victims export --format csv | awk -F, 'NR == 2 {print $3}')
body="csrf=$token&reference=$code&phone=07911+123456&called-on-day=1&called-on-month=3&called-on-year=2022&org=Northbridge+Bank&lost=yes&amount=2500&paid-by=bank-transfer&story=They+said+my+account+was+at+risk&contact-by=email&contact=a%40example.org&consent=yes"
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "unspoof_csrf=$cookie"
EOF

before=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Cookie: unspoof_csrf=$cookie" -H 'Content-Type: application/x-www-form-urlencoded' --data "$body" "$base/report/send")
[ "$before" = 303 ] || { log "a single report got HTTP $before, not 303"; exit 1; }

log "report submissions: wrk -t2 -c$conns -d${duration}s"
wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$work/post.lua" "$base/report/send" >"$work/wrk-report.txt"
cat "$work/wrk-report.txt" >&2

# Sign in and wait for the evidence figures.
session=$(curl -s -X POST -H 'Content-Type: application/json' --data '{"username":"bench","password":"bench-password-1"}' "$base/api/v1/login" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
for _ in $(seq 600); do
	curl -s -H "Authorization: Bearer $session" "$base/api/v1/figures" | grep -q '"evidence_ready":true' && break
	sleep 0.5
done
# … and for the background linker to finish the reports just sent: the dashboard is measured on
# its own, as a member of staff would load it.
for _ in $(seq 1200); do
	curl -s -H "Authorization: Bearer $session" "$base/api/v1/reports?status=new" | grep -Eq '"total":0[,}]' && break
	sleep 0.5
done
cat >"$work/dash.lua" <<EOF
wrk.headers["Cookie"] = "unspoof_session=$session"
EOF
log "dashboard: wrk -t1 -c1 -d${duration}s"
wrk -t1 -c1 -d"${duration}s" --latency -s "$work/dash.lua" "$base/staff" >"$work/wrk-dash.txt"
cat "$work/wrk-dash.txt" >&2
figures=$(curl -s -H "Authorization: Bearer $session" "$base/api/v1/figures")
stored=$(echo "$figures" | sed -n 's/.*"reports":\([0-9]*\).*/\1/p')
calls=$(echo "$figures" | sed -n 's/.*"calls":\([0-9]*\).*/\1/p')

field() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
rps() { awk '/^Requests\/sec/ {printf "%.0f", $2}' "$1"; }
non2xx() { awk '/Non-2xx/ {print $NF}' "$1"; }
sent=$(awk '/requests in/ {print $1}' "$work/wrk-report.txt")
echo "| page | store | requests/s | p50 | p99 | requests | non-2xx/3xx |"
echo "|---|---|---|---|---|---|---|"
echo "| POST /report/send (303) | SQLite, $calls calls | $(rps "$work/wrk-report.txt") | $(field "$work/wrk-report.txt" 50%) | $(field "$work/wrk-report.txt" 99%) | $sent | $(non2xx "$work/wrk-report.txt") |"
echo "| GET /staff (signed in) | SQLite, $calls calls | $(rps "$work/wrk-dash.txt") | $(field "$work/wrk-dash.txt" 50%) | $(field "$work/wrk-dash.txt" 99%) | $(awk '/requests in/ {print $1}' "$work/wrk-dash.txt") | $(non2xx "$work/wrk-dash.txt") |"
echo
echo "reports stored: $stored (wrk sent $sent, plus 1 before)"

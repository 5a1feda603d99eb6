#!/usr/bin/env bash
# bench/campaign/run.sh — the campaign engine's throughput benchmark, end to end.
#
# Builds the real unspoof binary and the victims seeder (bench/campaign/seed) with go build -o,
# then, for each engine (a fresh SQLite file; a throwaway PostgreSQL cluster from
# scripts/pg-test-cluster.sh on loopback, stopped on exit):
#   - starts a fresh test SMSC, the npm peer (test/peers/smsc/smsc.js, `npm ci` there first when
#     node_modules is missing) on a free loopback port, receipts 50 ms after each response;
#   - seeds N synthetic UK mobile victims (tier high, channel sms) into the store;
#   - unspoof campaign create (timed) as alice, approve as bob;
#   - unspoof campaign run, no throttle, window 10, under /usr/bin/time -v for peak memory;
#   - checks the peer's log (accepted submit_sm = N, no destination twice) and
#     unspoof campaign status (N delivered).
# The result is a markdown table on stdout, ready for docs/performance.md; progress goes to
# stderr. The exit status is 1 when a check failed (the table is printed anyway).
#
# Usage: bench/campaign/run.sh [--n N] [--engines LIST] [--timeout S] [--profile DIR] [--keep]
#   --n N            victims, hence messages, per engine (default 70000)
#   --engines LIST   comma-separated subset of sqlite,postgres (default both)
#   --timeout S      limit on each step, in seconds (default $UNSPOOF_BENCH_TIMEOUT or 1800)
#   --profile DIR    also write a CPU profile of each run to DIR/cpu-ENGINE.pprof (and the binary
#                    to DIR/unspoof, for go tool pprof), and the PostgreSQL server's statements
#                    during the run (pg_stat_statements, by total time) to DIR/pg-statements.txt;
#                    profiling slows the run a little
#   --keep           keep the work directory (databases, peer logs, outputs) instead of removing it
#
# Examples:
#   bench/campaign/run.sh --n 5000 --engines sqlite   # a quick check, under a minute
#   bench/campaign/run.sh                             # 70,000 messages on SQLite and PostgreSQL
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
n=70000
engines=sqlite,postgres
limit=${UNSPOOF_BENCH_TIMEOUT:-1800}
profile=
keep=0
argv="$*"

log() { echo "bench/campaign: $*" >&2; }
die() {
	log "$*"
	exit 1
}

while (($#)); do
	case $1 in
	--n) n=$2 && shift ;;
	--engines) engines=$2 && shift ;;
	--timeout) limit=$2 && shift ;;
	--profile) profile=$2 && shift ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done

[[ $n =~ ^[1-9][0-9]*$ ]] || die "--n must be a positive whole number, got $n"
[[ $limit =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got $limit"
want() { [[ ,$engines, == *,$1,* ]]; }
for e in ${engines//,/ }; do
	[[ $e == sqlite || $e == postgres ]] || die "unknown engine $e (want sqlite, postgres)"
done

[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
command -v timeout >/dev/null || die "timeout (coreutils) is missing"
node=$(command -v node || command -v nodejs) || die "Node.js is missing: apt-get install nodejs npm"
peerdir=$root/test/peers/smsc
if [[ ! -d $peerdir/node_modules/smpp ]]; then
	log "installing the test SMSC's npm packages (npm ci in $peerdir)"
	(cd "$peerdir" && npm ci --no-audit --no-fund >&2) || die "npm ci in $peerdir failed"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/unspoof-bench-campaign.XXXXXX")
pg_started=0
peer_pid=
source "$root/bench/lib.sh" # bounded, wait_quiet, measure, pg_cpu; sets child
failed=0

cleanup() {
	local rc=$?
	if [[ -n $child ]]; then # a step still running: timeout passes the signal on to it
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	stop_peer
	if ((pg_started)); then
		"$root/scripts/pg-test-cluster.sh" stop >&2 || log "could not stop PostgreSQL in $UNSPOOF_PG_DIR"
	fi
	if ((keep)); then
		log "work directory kept: $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ------------------------------------------------------------------------------------
mkdir -p "$work/bin"
log "building unspoof and the seeder"
(cd "$root" && go build -o "$work/bin/unspoof" ./cmd/unspoof) || die "go build ./cmd/unspoof failed"
(cd "$root" && go build -o "$work/bin/seed" ./bench/campaign/seed) || die "go build ./bench/campaign/seed failed"
unspoof=$work/bin/unspoof
if [[ -n $profile ]]; then
	mkdir -p "$profile"
	cp "$unspoof" "$profile/unspoof"
fi

# A one-part alert (138 characters at worst) that passes the template linter.
template=$work/alert.txt
echo 'Police alert: calls claiming to be {{org}} were scams. Your reference is {{reference}}. We will never ask for money.' >"$template"

# --- the peer ---------------------------------------------------------------------------------
# start_peer NAME starts a fresh SMSC logging to $work/NAME-submits.jsonl and sets $port.
start_peer() {
	local out=$work/$1-peer.out i
	: >"$out"
	"$node" "$peerdir/smsc.js" --port 0 --log "$work/$1-submits.jsonl" --receipt-delay 50 \
		>"$out" 2>"$work/$1-peer.err" </dev/null &
	peer_pid=$!
	port=
	for ((i = 0; i < 300; i++)); do
		port=$(sed -n 's/^{"event":"listening","port":\([0-9]*\)}$/\1/p' "$out" | head -n 1)
		[[ -n $port ]] && break
		kill -0 "$peer_pid" 2>/dev/null || break
		sleep 0.1
	done
	[[ -n $port ]] || {
		cat "$work/$1-peer.err" >&2
		die "the test SMSC did not start listening"
	}
	log "$1: test SMSC (pid $peer_pid) on 127.0.0.1:$port"
}

# stop_peer stops the peer with SIGTERM (it unbinds the client and fsyncs its log) and waits.
stop_peer() {
	[[ -n $peer_pid ]] || return 0
	kill -TERM "$peer_pid" 2>/dev/null || true
	wait "$peer_pid" 2>/dev/null || true
	peer_pid=
}

# cpu_of PID prints the CPU seconds (user + system) process PID has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo "?"; }

# pg_statements reset empties pg_stat_statements (creating the extension first); pg_statements
# prints the statements run since, by total execution time.
pg_statements() {
	if [[ ${1:-} == reset ]]; then
		psql -X -q "$dsn" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' -c 'SELECT pg_stat_statements_reset()' >/dev/null
		return
	fi
	psql -X "$dsn" -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
		round((total_exec_time / calls)::numeric, 3) AS mean_ms, rows,
		left(regexp_replace(query, '\s+', ' ', 'g'), 200) AS query
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25"
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# --- run --------------------------------------------------------------------------------------
started=$(date -u '+%Y-%m-%d %H:%M UTC')
results=() # engine|messages|create_s|run_s|rate|rss_kb|duplicates|delivered
notes=()

for e in sqlite postgres; do
	want "$e" || continue
	if [[ $e == sqlite ]]; then
		db=$work/sqlite.db
	else
		log "postgres: starting a throwaway cluster"
		export UNSPOOF_PG_DIR=${UNSPOOF_BENCH_PG_DIR:-/tmp/unspoof-pg-bench-campaign}
		[[ -n $profile ]] && export UNSPOOF_PG_STATS=1
		[[ -e $UNSPOOF_PG_DIR ]] && die "$UNSPOOF_PG_DIR exists: another run is using it, or one was killed (UNSPOOF_PG_DIR=$UNSPOOF_PG_DIR scripts/pg-test-cluster.sh stop)"
		pg_started=1
		dsn=$("$root/scripts/pg-test-cluster.sh" start) || die "could not start PostgreSQL"
		[[ $dsn == postgres://*@127.0.0.1:* ]] || die "unexpected DSN (not loopback): $dsn"
		db=$dsn
	fi
	start_peer "$e"

	log "$e: seeding $n victims"
	t0=$(now)
	bounded "$work/bin/seed" --db "$db" --n "$n" >&2 || die "$e: seeding failed"
	seed_s=$(since "$t0")

	log "$e: campaign create"
	t0=$(now)
	bounded "$unspoof" --db "$db" campaign create --name bench --template "$template" --sender-id 447700900999 \
		--hours 0-24 --as alice >"$work/$e-create.out" 2>"$work/$e-create.err" ||
		{ cat "$work/$e-create.err" >&2; die "$e: campaign create failed"; }
	create_s=$(since "$t0")
	bounded "$unspoof" --db "$db" campaign approve 1 --as bob >&2 || die "$e: campaign approve failed"

	log "$e: campaign run"
	prof=()
	[[ -n $profile ]] && prof=(--cpuprofile "$profile/cpu-$e.pprof")
	if ((pg_started)); then
		pg0=$(pg_cpu)
		[[ -n $profile ]] && pg_statements reset
	fi
	l0=$(loadavg)
	t0=$(now)
	UNSPOOF_SMPP_PASSWORD=secret bounded /usr/bin/time -v -o "$work/$e-run.time" \
		"$unspoof" "${prof[@]}" --db "$db" campaign run 1 --smsc "127.0.0.1:$port" --no-progress --linger 30s \
		>"$work/$e-run.out" 2>"$work/$e-run.err" ||
		{ tail -n 20 "$work/$e-run.err" >&2; die "$e: campaign run failed"; }
	run_s=$(since "$t0")
	load="load avg $l0 → $(loadavg)"
	peer_cpu=$(cpu_of "$peer_pid")
	server_cpu=
	((pg_started)) && sleep 1 && server_cpu=$(awk -v a="$pg0" -v b="$(pg_cpu)" 'BEGIN { printf "%.1f", b - a }')
	stop_peer
	((pg_started)) && [[ -n $profile ]] && pg_statements >"$profile/pg-statements.txt"
	cat "$work/$e-run.out" >&2

	# The run's own summary: "… submitted 70,000 messages (70,000 parts) in 12.3s, 5678 messages/s…"
	summary=$(grep -m 1 'messages/s' "$work/$e-run.out" || true)
	submitted=$(sed -n 's/.*submitted \([0-9,]*\) messages.*/\1/p' <<<"$summary" | tr -d ,)
	elapsed=$(sed -n 's/.*parts) in \([^,]*\), .*/\1/p' <<<"$summary")
	rate=$(sed -n 's/.*, \([0-9.]*\) messages\/s.*/\1/p' <<<"$summary")
	rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/$e-run.time")
	cpu=$(awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.1f", t }' "$work/$e-run.time")

	# The peer's log: one line per accepted submit_sm.
	subs=$work/$e-submits.jsonl
	accepted=$(wc -l <"$subs")
	distinct=$(grep -o '"dest":"[^"]*"' "$subs" | sort -u | wc -l)
	duplicates=$((accepted - distinct))

	"$unspoof" --db "$db" campaign status 1 >"$work/$e-status.out"
	delivered=$(awk '$1 == "id" { for (i = 1; i <= NF; i++) if ($i == "delivered") col = i; next }
		col && $1 == "1" { gsub(/,/, "", $col); print $col; exit }' "$work/$e-status.out")

	ok=1
	[[ $accepted == "$n" ]] || { ok=0; log "$e: CHECK FAILED: the SMSC accepted $accepted submit_sm, want $n"; }
	[[ $duplicates == 0 ]] || { ok=0; log "$e: CHECK FAILED: $duplicates submit_sm to a number already sent to"; }
	[[ $delivered == "$n" ]] || { ok=0; log "$e: CHECK FAILED: $delivered delivered, want $n"; cat "$work/$e-status.out" >&2; }
	[[ $submitted == "$n" ]] || { ok=0; log "$e: CHECK FAILED: the run says it submitted ${submitted:-?}, want $n"; }
	((ok)) || failed=1

	results+=("$e|$accepted|$create_s|$run_s|${rate:-?}|$rss_kb|$duplicates|${delivered:-?}")
	notes+=("$e: seeding $n victims $seed_s s (not counted); the run's own figure: $submitted submitted in $elapsed (first claim to last submit response); run process CPU $cpu s, test SMSC (node) CPU $peer_cpu s${server_cpu:+, PostgreSQL server CPU $server_cpu s}; $load$( ((ok)) || echo "; CHECKS FAILED")")
	log "$e: $accepted accepted, $duplicates duplicates, $delivered delivered, ${rate:-?} messages/s, run ${run_s} s"

	if [[ $e == postgres ]]; then
		"$root/scripts/pg-test-cluster.sh" stop >&2
		pg_started=0
	fi
done

# --- report -----------------------------------------------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
[[ -n $(git -C "$root" status --porcelain 2>/dev/null) ]] && commit+=" + local changes"
cpuname=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)

{
	echo "Measured $started with \`bench/campaign/run.sh${argv:+ $argv}\`"
	echo "on $(nproc) × $cpuname, $mem RAM, $(go version | awk '{ print $3 }'), Node.js $("$node" --version), commit $commit."
	echo
	echo "| engine | messages | create s | run s | messages/s | peak RSS MiB | duplicates | delivered |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${results[@]}"; do
		IFS='|' read -r engine msgs cs rs rate kb dups dlv <<<"$r"
		awk -v e="$engine" -v n="$msgs" -v cs="$cs" -v rs="$rs" -v rate="$rate" -v kb="$kb" -v dups="$dups" -v dlv="$dlv" '
			function commas(x,   s) {
				if (x !~ /^[0-9.]+$/) return x
				s = sprintf("%.0f", x)
				while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
				return s
			}
			BEGIN { printf "| %s | %s | %.2f | %.2f | %s | %.0f | %s | %s |\n", e, commas(n), cs, rs, commas(rate), kb / 1024, dups, commas(dlv) }'
	done
	echo
	echo "messages: submit_sm the test SMSC accepted (its log). create s: wall clock of \`unspoof campaign"
	echo "create\` (select the victims, lint, render, store the messages). run s: wall clock of"
	echo "\`unspoof campaign run\` from start to exit: open, send with no throttle (window 10), then wait"
	echo "for the last receipts (sent 50 ms after each response) to be applied. messages/s: the run's"
	echo "own summary, messages over the time from its first claim to its last submit response."
	echo "Peak RSS: /usr/bin/time's maximum resident set size of the run. duplicates: accepted"
	echo "submit_sm to a number already accepted. delivered: \`unspoof campaign status\` afterwards."
	echo "The test SMSC (Node.js) and the PostgreSQL server share the machine's cores with the run."
	echo
	for note in "${notes[@]}"; do echo "- $note"; done
}

exit "$failed"

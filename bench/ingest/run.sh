#!/usr/bin/env bash
# bench/ingest/run.sh — the ingest benchmark of the evidence spine.
#
# Builds the real unspoof binary (go build -o) and the DuckDB baseline (bench/duckdb, its own Go
# module), simulates an iSpoof-like dataset once per scale and seed (cached), then, at the full
# scale and at a small one (to show that peak memory does not grow with the file):
#   - ingests accounts.csv (timed apart, not counted in the calls rate), then calls.csv, with
#     number normalisation, into a fresh SQLite file and into a throwaway PostgreSQL cluster
#     (scripts/pg-test-cluster.sh, on loopback, stopped on exit);
#   - loads the same calls.csv into DuckDB with read_csv and groups it by callee.
# Each step runs under /usr/bin/time -v for its peak resident set size and under timeout. The
# result is a markdown table on stdout, ready for docs/performance.md; progress goes to stderr.
#
# Usage: bench/ingest/run.sh [--scale S] [--small-scale S|0] [--seed N] [--bad-rows F]
#                            [--engines LIST] [--cache DIR] [--timeout S] [--quiet S]
#                            [--baseline DIR] [--profile] [--keep]
#   --scale S        simulator scale of the main run (default $UNSPOOF_BENCH_SCALE or 1.0: ~10M calls)
#   --small-scale S  second, smaller scale for the memory comparison (default scale/10; 0: none)
#   --seed N         simulator seed (default $UNSPOOF_BENCH_SEED or 1)
#   --bad-rows F     simulator's extra malformed rows per good row, for the quarantine path
#                    (default $UNSPOOF_BENCH_BAD_ROWS or 0.001)
#   --engines LIST   comma-separated subset of sqlite,postgres,duckdb (default all three)
#   --cache DIR      where datasets are kept between runs
#                    (default $UNSPOOF_BENCH_CACHE or ${TMPDIR:-/tmp}/unspoof-bench)
#   --timeout S      limit on each step, in seconds (default $UNSPOOF_BENCH_TIMEOUT or 3600)
#   --quiet S        before each measured step, wait up to S seconds for the 1-minute load average
#                    to fall below half the cores, others' work skewing the figures (default 0)
#   --baseline DIR   also build unspoof from the checkout DIR (e.g. main's) and run its SQLite
#                    ingest next to this one's, interleaved, for a side-by-side comparison
#   --profile        also CPU-profile the SQLite calls ingest (go test -bench in bench/ingest) on
#                    the small dataset and print the top of `go tool pprof`
#   --keep           keep the work directory (databases, logs) instead of removing it
#
# Examples:
#   bench/ingest/run.sh --scale 0.05                 # a quick run, a minute or two
#   bench/ingest/run.sh                              # scale 1.0 and 0.1: ~10M and ~1M calls
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scale=${UNSPOOF_BENCH_SCALE:-1.0}
small=
seed=${UNSPOOF_BENCH_SEED:-1}
bad=${UNSPOOF_BENCH_BAD_ROWS:-0.001}
engines=sqlite,postgres,duckdb
cache=${UNSPOOF_BENCH_CACHE:-${TMPDIR:-/tmp}/unspoof-bench}
limit=${UNSPOOF_BENCH_TIMEOUT:-3600}
profile=0
keep=0
baseline=
quiet=${UNSPOOF_BENCH_QUIET:-0}
argv="$*"

log() { echo "bench/ingest: $*" >&2; }
die() {
	log "$*"
	exit 1
}

while (($#)); do
	case $1 in
	--scale) scale=$2 && shift ;;
	--small-scale) small=$2 && shift ;;
	--seed) seed=$2 && shift ;;
	--bad-rows) bad=$2 && shift ;;
	--engines) engines=$2 && shift ;;
	--cache) cache=$2 && shift ;;
	--timeout) limit=$2 && shift ;;
	--quiet) quiet=$2 && shift ;;
	--baseline) baseline=$2 && shift ;;
	--profile) profile=1 ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done

isnum() { [[ $1 =~ ^[0-9]*\.?[0-9]+$ ]]; }
isnum "$scale" || die "--scale must be a positive number, got $scale"
[[ -n $small ]] || small=$(awk -v s="$scale" 'BEGIN { printf "%g", s / 10 }')
isnum "$small" || die "--small-scale must be a number, got $small"
[[ $seed =~ ^[0-9]+$ ]] || die "--seed must be a whole number, got $seed"
isnum "$bad" || die "--bad-rows must be a number, got $bad"
[[ $limit =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got $limit"
[[ $quiet =~ ^[0-9]+$ ]] || die "--quiet must be whole seconds, got $quiet"
want() { [[ ,$engines, == *,$1,* ]]; }
for e in ${engines//,/ }; do
	[[ $e == sqlite || $e == postgres || $e == duckdb ]] || die "unknown engine $e (want sqlite, postgres, duckdb)"
done

# The scales to run, small first: it is quick and shows at once whether everything works.
scales=()
if awk -v a="$small" -v b="$scale" 'BEGIN { exit !(a > 0 && a < b) }'; then
	scales+=("$small")
fi
scales+=("$scale")

[[ -x /usr/bin/time ]] || {
	log "/usr/bin/time is missing; installing Debian's time package"
	[[ $(id -u) == 0 ]] || die "run: apt-get install time"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >&2 </dev/null ||
		{ apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >&2 </dev/null; }
}
command -v timeout >/dev/null || die "timeout (coreutils) is missing"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
work=$(mktemp -d "$cache/run.XXXXXX")
# Our own cluster, never another one's; outside $work so that the postgres user can reach it.
UNSPOOF_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/unspoof-bench-pg.XXXXXX")
chmod 755 "$UNSPOOF_PG_DIR"
export UNSPOOF_PG_DIR
pg_started=0
sampler=
source "$root/bench/lib.sh" # bounded, wait_quiet, measure, pg_cpu; sets child

quiet_below=$(awk -v n="$(nproc)" 'BEGIN { print n / 2 }') # wait_quiet: below half the cores

cleanup() {
	local rc=$?
	if [[ -n $child ]]; then # a step still running: timeout passes the signal on to it
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	[[ -n $sampler ]] && kill "$sampler" 2>/dev/null
	if ((pg_started)); then
		"$root/scripts/pg-test-cluster.sh" stop >&2 || log "could not stop PostgreSQL in $UNSPOOF_PG_DIR"
	fi
	rmdir "$UNSPOOF_PG_DIR" 2>/dev/null || true
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
log "building unspoof"
(cd "$root" && go build -o "$work/bin/unspoof" ./cmd/unspoof) || die "go build ./cmd/unspoof failed"
unspoof=$work/bin/unspoof
if [[ -n $baseline ]]; then
	log "building the baseline unspoof from $baseline ($(git -C "$baseline" rev-parse --short HEAD 2>/dev/null))"
	(cd "$baseline" && go build -o "$work/bin/unspoof-baseline" ./cmd/unspoof) || die "go build in $baseline failed"
fi
if want duckdb; then
	log "building bench/duckdb (its own module; the first build compiles DuckDB's bindings, about a minute)"
	(cd "$root/bench/duckdb" && go build -o "$work/bin/duckbench" .) || die "go build bench/duckdb failed"
fi

# --- data -------------------------------------------------------------------------------------
# dataset sets $data to the directory of the simulated dataset at scale $1, making it if missing.
dataset() {
	local dir=$cache/scale-$1-seed-$seed-bad-$bad
	if [[ ! -f $dir/.complete ]]; then
		log "simulating scale $1 seed $seed into $dir (once; later runs reuse it)"
		rm -rf "$dir" "$dir.tmp"
		bounded "$unspoof" simulate --preset ispoof --scale "$1" --seed "$seed" --bad-rows "$bad" \
			--out "$dir.tmp" >&2 ||
			die "unspoof simulate failed"
		mv "$dir.tmp" "$dir"
		date -u +%FT%TZ >"$dir/.complete"
	fi
	for f in accounts.csv calls.csv; do
		[[ -f $dir/$f ]] || die "$dir has no $f (was it simulated with --gzip? remove it and run again)"
	done
	data=$dir
}

# --- measuring --------------------------------------------------------------------------------

# rows_read prints the rows read that `unspoof ingest` reported in $work/$1.out.
rows_read() { sed -n 's/.*: \([0-9,]*\) rows read.*/\1/p' "$work/$1.out" | tr -d , | head -n 1; }
quarantined() { sed -n 's/.* \([0-9,]*\) quarantined.*/\1/p' "$work/$1.out" | tr -d , | head -n 1; }

# kv KEY NAME prints the value of KEY=… in $work/NAME.out.
kv() { tr ' ' '\n' <"$work/$2.out" | sed -n "s/^$1=//p"; }

mib() { awk -v k="$1" 'BEGIN { if (k == "" || k < 0) print "?"; else printf "%.0f MiB", k / 1024 }'; }
bytes_mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }

# The PostgreSQL server's memory is not the client's: sample the peak RSS (VmHWM, which counts
# the shared buffers a process touched) of every process of our cluster while it works.
sample_pg() {
	local out=$1 pm max=0 p v
	pm=$(head -n 1 "$UNSPOOF_PG_DIR/data/postmaster.pid")
	while :; do
		for p in $pm $(pgrep -P "$pm" 2>/dev/null); do
			v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
			[[ -n $v ]] && ((v > max)) && max=$v
		done
		echo "$max" >"$out"
		sleep 0.5
	done
}

# pg_statements summarises the server log from line $1 on: the statements that ran longer than
# the DSN's log_min_duration_statement, their time added up by kind (COPY, CREATE INDEX…).
pg_statements() {
	tail -n +"$1" "$UNSPOOF_PG_DIR/server.log" | awk '
		/duration: [0-9.]+ ms +statement: / {
			ms = $0; sub(/.*duration: /, "", ms); sub(/ ms.*/, "", ms)
			st = toupper($0); sub(/.*STATEMENT: +/, "", st)
			split(st, w, /[ (]+/)
			k = w[1]
			if (k == "CREATE" || k == "ALTER") k = k " " w[2]
			if (k == "ALTER TABLE" && st ~ /ADD CONSTRAINT/) k = "ALTER TABLE ADD CONSTRAINT"
			t[k] += ms / 1000; n[k]++
		}
		END { for (k in t) printf "%s%s × %d %.1f s", (i++ ? ", " : ""), k, n[k], t[k] }'
}

pg_dsn=
pg_fresh() {
	if ((pg_started)); then
		"$root/scripts/pg-test-cluster.sh" stop >&2
	fi
	pg_started=1
	pg_dsn=$("$root/scripts/pg-test-cluster.sh" start) || die "could not start PostgreSQL"
	[[ $pg_dsn == postgres://*@127.0.0.1:* ]] || die "unexpected DSN (not loopback): $pg_dsn"
}
pg_size() {
	local psql
	psql=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
	[[ -n $psql ]] && "$psql" -X -Atc "SELECT pg_database_size(current_database())" "$pg_dsn" 2>/dev/null || echo 0
}

# --- run --------------------------------------------------------------------------------------
started=$(date -u '+%Y-%m-%d %H:%M UTC')
results=() # engine|scale|rows|secs|cpu|rss_kb
notes=()
declare -A duck_total

for s in "${scales[@]}"; do
	dataset "$s"
	calls=$data/calls.csv
	size=$(stat -c %s "$calls")
	notes+=("scale $s: calls.csv $(bytes_mib "$size"), $(($(wc -l <"$calls") - 1)) data lines; accounts.csv $(($(wc -l <"$data/accounts.csv") - 1)) lines")

	if want duckdb; then
		log "scale $s: DuckDB load + group by callee"
		measure "duckdb-$s" "$work/bin/duckbench" --csv "$calls" --db "$work/calls-$s.duckdb" || exit 1
		load_s=$(kv load_s "duckdb-$s")
		group_s=$(kv group_s "duckdb-$s")
		total_s=$(kv total_s "duckdb-$s")
		drows=$(kv rows "duckdb-$s")
		duck_total[$s]=$total_s
		load_cpu=$(kv load_cpu_s "duckdb-$s")
		group_cpu=$(kv group_cpu_s "duckdb-$s")
		results+=("DuckDB load (read_csv)|$s|$drows|$load_s|$load_cpu|$(kv load_rss_kb "duckdb-$s")")
		results+=("DuckDB group by callee|$s|$drows|$group_s|$group_cpu|$(kv group_rss_kb "duckdb-$s")")
		results+=("DuckDB load+group|$s|$drows|$total_s|$(awk -v a="$load_cpu" -v b="$group_cpu" 'BEGIN { print a + b }')|$rss_kb")
		notes+=("scale $s: DuckDB $(kv groups "duckdb-$s") callee groups; load $(kv load_s "duckdb-$s") s of which checkpoint (writing the file) $(kv checkpoint_s "duckdb-$s") s; process $secs s wall, $cpu s CPU incl. start-up; threads $(kv threads "duckdb-$s"), memory_limit $(kv memory_limit "duckdb-$s"); database file $(bytes_mib "$(stat -c %s "$work/calls-$s.duckdb")"); load avg $load")
		rm -f "$work/calls-$s.duckdb" "$work/calls-$s.duckdb.wal"
	fi

	# The baseline (--baseline) first, then this checkout's build, each into a fresh file.
	builds=()
	[[ -n $baseline ]] && builds+=(baseline)
	builds+=(current)
	for build in "${builds[@]}"; do
		want sqlite || break
		bin=$unspoof label="unspoof ingest → SQLite" tag=sqlite
		if [[ $build == baseline ]]; then
			bin=$work/bin/unspoof-baseline label="baseline unspoof ingest → SQLite" tag=sqlite-baseline
		fi
		db=$work/$tag-$s.db
		log "scale $s: SQLite ($build): accounts"
		measure "$tag-accounts-$s" "$bin" ingest --db "$db" --kind accounts --no-progress \
			--quarantine "$work/$tag-accounts-$s.quarantine.csv" "$data/accounts.csv" || exit 1
		notes+=("scale $s: SQLite ($build) accounts: $(rows_read "$tag-accounts-$s") rows in $secs s (not counted)")
		log "scale $s: SQLite ($build): calls"
		measure "$tag-calls-$s" "$bin" ingest --db "$db" --kind calls --no-progress \
			--quarantine "$work/$tag-calls-$s.quarantine.csv" "$calls" || exit 1
		results+=("$label|$s|$(rows_read "$tag-calls-$s")|$secs|$cpu|$rss_kb")
		notes+=("scale $s: SQLite ($build) calls: $(quarantined "$tag-calls-$s") quarantined; load avg $load; database file $(bytes_mib "$(($(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0)))")")
		rm -f "$db" "$db-wal" "$db-shm"
	done

	if want postgres; then
		log "scale $s: PostgreSQL: starting a throwaway cluster"
		pg_fresh
		log "scale $s: PostgreSQL: accounts"
		measure "pg-accounts-$s" "$unspoof" ingest --db "$pg_dsn" --kind accounts --no-progress \
			--quarantine "$work/pg-accounts-$s.quarantine.csv" "$data/accounts.csv" || exit 1
		notes+=("scale $s: PostgreSQL accounts: $(rows_read "pg-accounts-$s") rows in $secs s (not counted)")
		log "scale $s: PostgreSQL: calls"
		sample_pg "$work/pg-server-$s.rss" &
		sampler=$!
		cpu0=$(pg_cpu)
		logline=$(($(wc -l <"$UNSPOOF_PG_DIR/server.log") + 1))
		# Statements over 200 ms go to the server log (a superuser setting; we are postgres).
		measure "pg-calls-$s" "$unspoof" ingest --db "$pg_dsn&log_min_duration_statement=200" --kind calls --no-progress \
			--quarantine "$work/pg-calls-$s.quarantine.csv" "$calls" || exit 1
		sleep 1 # let the backend exit, so its time is the postmaster's reaped children's
		server_cpu=$(awk -v a="$cpu0" -v b="$(pg_cpu)" 'BEGIN { printf "%.1f", b - a }')
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		sampler=
		results+=("unspoof ingest → PostgreSQL (client)|$s|$(rows_read "pg-calls-$s")|$secs|$cpu|$rss_kb")
		notes+=("scale $s: PostgreSQL calls: load avg $load; server CPU $server_cpu s; statements over 200 ms: $(pg_statements "$logline"); server's largest process peaked at $(mib "$(cat "$work/pg-server-$s.rss")") (shared_buffers 512MB); database $(bytes_mib "$(pg_size)")")
	fi
done

if ((pg_started)); then
	"$root/scripts/pg-test-cluster.sh" stop >&2
	pg_started=0
fi

if ((profile)) && want sqlite; then
	pdata=$cache/scale-${scales[0]}-seed-$seed-bad-$bad
	log "profiling the SQLite calls ingest on $pdata"
	UNSPOOF_BENCH_DATA=$pdata bounded go -C "$root" test ./bench/ingest -run '^$' \
		-bench IngestCallsSQLite -benchtime 1x -cpuprofile "$work/cpu.out" -o "$work/ingestbench.test" >&2
	cp "$work/cpu.out" "$cache/cpu-scale-${scales[0]}.out"
	go tool pprof -top -nodecount 30 "$work/ingestbench.test" "$work/cpu.out" 2>/dev/null >"$cache/cpu-scale-${scales[0]}.txt"
	go tool pprof -top -cum -nodecount 40 "$work/ingestbench.test" "$work/cpu.out" 2>/dev/null >>"$cache/cpu-scale-${scales[0]}.txt"
	cp "$work/ingestbench.test" "$cache/ingestbench.test"
	log "profile: $cache/cpu-scale-${scales[0]}.out (binary $cache/ingestbench.test), top in $cache/cpu-scale-${scales[0]}.txt"
	head -n 40 "$cache/cpu-scale-${scales[0]}.txt" >&2
fi

# --- report -----------------------------------------------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
[[ -n $(git -C "$root" status --porcelain 2>/dev/null) ]] && commit+=" + local changes"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
cmd="bench/ingest/run.sh${argv:+ $argv}"

{
	echo "Measured $started with \`$cmd\` (scales ${scales[*]}, seed $seed, bad rows $bad)"
	echo "on $(nproc) × $cpu, $mem RAM, $(go version | awk '{ print $3 }'), commit $commit."
	echo
	echo "| engine | scale | rows | seconds | rows/s | CPU s | peak RSS | × DuckDB load+group |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${results[@]}"; do
		IFS='|' read -r engine sc rows secs c kb <<<"$r"
		awk -v e="$engine" -v sc="$sc" -v n="$rows" -v t="$secs" -v c="$c" -v kb="$kb" -v d="${duck_total[$sc]:-}" '
			function commas(x,   s) {
				s = sprintf("%.0f", x)
				while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
				return s
			}
			BEGIN {
				ratio = (d > 0) ? sprintf("%.1f", t / d) : "–"
				printf "| %s | %s | %s | %.2f | %s | %.2f | %.0f MiB | %s |\n", e, sc, commas(n), t, commas(t > 0 ? n / t : 0), c, kb / 1024, ratio
			}'
	done
	echo
	echo "rows: data rows read from calls.csv (ingest counts quarantined rows too; DuckDB's are the rows"
	echo "it kept, having skipped those it could not read). unspoof rows are end to end: process start,"
	echo "SHA-256 of the file, schema check, normalisation of callee and CLI, write and commit; seconds"
	echo "are wall clock, rows/s = rows / seconds, CPU s = user + system time of the process (DuckDB"
	echo "uses every core; the PostgreSQL server's CPU is not counted). Peak RSS is /usr/bin/time's"
	echo "maximum resident set size of the process (DuckDB load and group: the peak reached by the end"
	echo "of that step). The ratio is seconds over DuckDB's load+group seconds at the same scale."
	echo
	for n in "${notes[@]}"; do echo "- $n"; done
} | LC_ALL=C.UTF-8 tee "$cache/result-$(date -u +%Y%m%dT%H%M%SZ).md"

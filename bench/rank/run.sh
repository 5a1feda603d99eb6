#!/usr/bin/env bash
# bench/rank/run.sh — victims rank and suspects rank on SQLite, PostgreSQL and DuckDB, side by
# side, over one simulated case.
#
# Builds the real unspoof binary and the DuckDB baseline (bench/duckdb, its own Go module),
# simulates a case once per scale, seed and generator version (cached), ingests it into a fresh
# SQLite file and a throwaway PostgreSQL cluster (scripts/pg-test-cluster.sh, on loopback,
# stopped on exit), exports the normalised calls, organisations' numbers, accounts and payments
# from PostgreSQL as CSV and loads them into a DuckDB file (`duckbench rank --load`). Then, --runs
# times, interleaved so that others' load on the machine falls on every engine alike:
#   - unspoof victims rank --rule score, on SQLite, then PostgreSQL;
#   - duckbench rank: the same ranking and the suspects one in SQL on DuckDB, timed apart;
#   - unspoof suspects rank --rule harm, on SQLite, then PostgreSQL.
# unspoof's times are the whole command's wall clock (start, one pass over calls, scoring, and
# writing the table in one transaction); DuckDB's are the two CREATE TABLE … AS statements on an
# open database. The numbers ranked, the numbers selected and the suspects must agree across the
# three, and DuckDB's selected numbers must be unspoof's (checked once). The result is a markdown
# table on stdout, ready for docs/performance.md; progress goes to stderr.
#
# Usage: bench/rank/run.sh [--scale S] [--seed N] [--runs R] [--quiet S] [--cache DIR]
#                          [--timeout S] [--keep]
#   --scale S      simulator scale (default $UNSPOOF_BENCH_SCALE or 1.0: ~10M calls)
#   --seed N       simulator seed (default $UNSPOOF_BENCH_SEED or 1)
#   --runs R       timed runs per engine and command (default 3)
#   --quiet S      before each timed step, wait up to S seconds for the 1-minute load average to
#                  fall below the number of cores (default $UNSPOOF_BENCH_QUIET or 0)
#   --cache DIR    where datasets are kept between runs
#                  (default $UNSPOOF_BENCH_CACHE or ${TMPDIR:-/tmp}/unspoof-bench)
#   --timeout S    limit on each step, in seconds (default $UNSPOOF_BENCH_TIMEOUT or 3600)
#   --keep         keep the work directory (databases, outputs) instead of removing it
#
# Examples:
#   bench/rank/run.sh --scale 0.1     # ~1M calls: a few minutes
#   bench/rank/run.sh                 # ~10M calls: ingest alone takes minutes per engine
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scale=${UNSPOOF_BENCH_SCALE:-1.0}
seed=${UNSPOOF_BENCH_SEED:-1}
runs=3
quiet=${UNSPOOF_BENCH_QUIET:-0}
cache=${UNSPOOF_BENCH_CACHE:-${TMPDIR:-/tmp}/unspoof-bench}
limit=${UNSPOOF_BENCH_TIMEOUT:-3600}
keep=0
argv="$*"

log() { echo "bench/rank: $*" >&2; }
die() {
	log "$*"
	exit 1
}

while (($#)); do
	case $1 in
	--scale) scale=$2 && shift ;;
	--seed) seed=$2 && shift ;;
	--runs) runs=$2 && shift ;;
	--quiet) quiet=$2 && shift ;;
	--cache) cache=$2 && shift ;;
	--timeout) limit=$2 && shift ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done

[[ $scale =~ ^[0-9]*\.?[0-9]+$ ]] || die "--scale must be a positive number, got $scale"
[[ $seed =~ ^[0-9]+$ ]] || die "--seed must be a whole number, got $seed"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive whole number, got $runs"
[[ $limit =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got $limit"
[[ $quiet =~ ^[0-9]+$ ]] || die "--quiet must be whole seconds, got $quiet"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (Debian: apt-get install time)"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
work=$(mktemp -d "$cache/rank.XXXXXX")
# Our own cluster, never another one's; outside $work so that the postgres user can reach it.
UNSPOOF_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/unspoof-bench-pg.XXXXXX")
chmod 755 "$UNSPOOF_PG_DIR"
export UNSPOOF_PG_DIR
pg_started=0
source "$root/bench/lib.sh" # bounded, wait_quiet, measure, pg_cpu; sets child

cleanup() {
	local rc=$?
	if [[ -n $child ]]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
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


# kv KEY NAME prints the value of KEY=… in $work/NAME.out.
kv() { tr ' ' '\n' <"$work/$2.out" | sed -n "s/^$1=//p"; }
# plain prints a count as unspoof printed it ("1,116,684") without its commas.
plain() { tr -d , <<<"$1"; }

# --- build ------------------------------------------------------------------------------------
mkdir -p "$work/bin"
log "building unspoof and bench/duckdb (the first build compiles DuckDB's bindings, about a minute)"
(cd "$root" && go build -o "$work/bin/unspoof" ./cmd/unspoof) || die "go build ./cmd/unspoof failed"
(cd "$root/bench/duckdb" && go build -o "$work/bin/duckbench" .) || die "go build bench/duckdb failed"
unspoof=$work/bin/unspoof

# --- data -------------------------------------------------------------------------------------
# The cache is keyed by the generator's version too: another model gives other calls and truth.
gen=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$root/simulate/simulate.go" | tr '/' '-')
[[ -n $gen ]] || die "cannot read the generator's version from simulate/simulate.go"
data=$cache/rank-scale-$scale-seed-$seed-$gen
if [[ ! -f $data/.complete ]]; then
	log "simulating scale $scale seed $seed into $data (once; later runs reuse it)"
	rm -rf "$data" "$data.tmp"
	bounded "$unspoof" simulate --preset ispoof --scale "$scale" --seed "$seed" --out "$data.tmp" >&2 || die "simulate failed"
	mv "$data.tmp" "$data"
	date -u +%FT%TZ >"$data/.complete"
fi

started=$(date -u '+%Y-%m-%d %H:%M UTC')
notes=()
sqlite=$work/case.db
log "PostgreSQL: starting a throwaway cluster"
pg_started=1
pg=$("$root/scripts/pg-test-cluster.sh" start) || die "could not start PostgreSQL"
[[ $pg == postgres://*@127.0.0.1:* ]] || die "unexpected DSN (not loopback): $pg"
# dsn ENGINE prints the --db of sqlite or postgres.
dsn() { if [[ $1 == postgres ]]; then echo "$pg"; else echo "$sqlite"; fi; }
for engine in sqlite postgres; do
	db=$(dsn "$engine")
	for kind in orgs accounts payments calls; do
		log "$engine: ingest $kind"
		measure "ingest-$engine-$kind" "$unspoof" --db "$db" ingest --kind "$kind" --no-progress "$data/$kind.csv" ||
			die "ingest failed"
	done
	notes+=("$engine: calls ingested in $secs s (load avg $load), not part of the ranking")
done

log "DuckDB: exporting the normalised tables from PostgreSQL and loading them"
psql=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
[[ -x $psql ]] || psql=$(command -v psql) || die "psql not found"
mkdir -p "$work/duck"
for q in "calls:SELECT account_id, extract(epoch FROM started_at)::bigint AS started_at, duration_s, coalesce(cli_e164, '') AS cli_e164, callee_e164 FROM calls" \
	"org_numbers:SELECT n.e164, n.org_id, o.sector FROM org_numbers n JOIN orgs o ON o.id = n.org_id" \
	"accounts:SELECT id, country FROM accounts" \
	"payments:SELECT account_id, amount_minor FROM payments"; do
	"$psql" -X -q -v ON_ERROR_STOP=1 -c "\\copy (${q#*:}) TO '$work/duck/${q%%:*}.csv' WITH (FORMAT csv, HEADER)" "$pg" ||
		die "export of ${q%%:*} failed"
done
measure duck-load "$work/bin/duckbench" rank --db "$work/case.duckdb" --load "$work/duck" || die "duckbench load failed"
notes+=("DuckDB: $(kv calls duck-load) calls loaded from the exported CSV in $(kv load_s duck-load) s, not part of the ranking; threads $(kv threads duck-load)")
rm -rf "$work/duck"

# --- measure ----------------------------------------------------------------------------------
declare -A times cpus rss loads
add() { # add KEY SECS CPU RSS_KB LOAD
	times[$1]+="${times[$1]:+, }$2"
	cpus[$1]+="${cpus[$1]:+, }$3"
	((${rss[$1]:-0} > $4)) || rss[$1]=$4
	loads[$1]+="${loads[$1]:+; }$5"
}
# timed NAME KEY ENGINE ARGS... runs unspoof ARGS on ENGINE under measure and adds its figures
# to KEY; on PostgreSQL the CPU the server spent meanwhile counts too.
timed() {
	local name=$1 key=$2 engine=$3 c0
	shift 3
	log "run $i: $engine $*"
	c0=$(pg_cpu)
	measure "$name" "$unspoof" --db "$(dsn "$engine")" "$@" || die "$engine $* failed"
	if [[ $engine == postgres ]]; then
		sleep 1 # let the backend's time reach the postmaster's reaped children
		cpu+=" + server $(awk -v a="$c0" -v b="$(pg_cpu)" 'BEGIN { printf "%.1f", b - a }')"
	fi
	add "$key" "$secs" "$cpu" "$rss_kb" "$load"
}
for ((i = 1; i <= runs; i++)); do
	for engine in sqlite postgres; do
		timed "v-$engine-$i" "victims $engine" "$engine" victims rank --rule score
		line=$(head -n 1 "$work/v-$engine-$i.out")
		sel=$(plain "$(sed -n 's/.*selected \([0-9,]*\) of.*/\1/p' <<<"$line")")
		cand=$(plain "$(sed -n 's/.* of \([0-9,]*\) numbers called.*/\1/p' <<<"$line")")
		printf '%s %s\n' "$sel" "$cand" >"$work/v-$engine.counts"
	done
	log "run $i: DuckDB victims + suspects"
	check=()
	((i == 1)) && check=(--victims-out "$work/duck-victims.txt")
	measure "duck-$i" "$work/bin/duckbench" rank --db "$work/case.duckdb" "${check[@]}" || die "duckbench rank failed"
	add "victims duckdb" "$(kv victims_s "duck-$i")" "$(kv victims_cpu_s "duck-$i")" "$rss_kb" "$load"
	add "suspects duckdb" "$(kv suspects_s "duck-$i")" "$(kv suspects_cpu_s "duck-$i")" "$rss_kb" "$load"
	for engine in sqlite postgres; do
		timed "s-$engine-$i" "suspects $engine" "$engine" suspects rank --rule harm
		plain "$(sed -n 's/.*selected \([0-9,]*\) of.*/\1/p' "$work/s-$engine-$i.out" | head -n 1)" >"$work/s-$engine.count"
	done
done

# --- check ------------------------------------------------------------------------------------
ok=1
read -r vsel vcand <"$work/v-sqlite.counts"
for engine in postgres; do
	if [[ $(cat "$work/v-$engine.counts") != "$vsel $vcand" || $(cat "$work/s-$engine.count") != $(cat "$work/s-sqlite.count") ]]; then
		log "CHECK FAILED: $engine ranked differently from SQLite"
		ok=0
	fi
done
if [[ $(kv selected duck-1) != "$vsel" || $(kv candidates duck-1) != "$vcand" || $(kv suspects duck-1) != $(cat "$work/s-sqlite.count") ]]; then
	log "CHECK FAILED: DuckDB: $(cat "$work/duck-1.out"); SQLite: $vsel of $vcand, $(cat "$work/s-sqlite.count") suspects"
	ok=0
fi
"$unspoof" --db "$sqlite" victims rank --rule score >/dev/null
"$unspoof" --db "$sqlite" victims export --format csv 2>/dev/null | awk -F, 'NR > 1 { print $2 }' | sort >"$work/unspoof-victims.txt"
if ! cmp -s "$work/unspoof-victims.txt" "$work/duck-victims.txt"; then
	log "CHECK FAILED: DuckDB selected other numbers than unspoof ($(comm -3 "$work/unspoof-victims.txt" "$work/duck-victims.txt" | wc -l) differ)"
	ok=0
fi
notes+=("all three rank $vcand UK numbers, select the same $vsel (DuckDB's list equals unspoof's: $( ((ok)) && echo yes || echo NO)) and $(cat "$work/s-sqlite.count") suspects")

# --- report -----------------------------------------------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
[[ -n $(git -C "$root" status --porcelain 2>/dev/null) ]] && commit+=" + local changes"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	echo "Measured $started with \`bench/rank/run.sh${argv:+ $argv}\` (scale $scale, seed $seed, $gen, $runs runs)"
	echo "on $(nproc) × $cpu, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(go version | awk '{ print $3 }'), commit $commit."
	echo
	echo "| command | engine | seconds (each run) | CPU s (each run) | peak RSS | load avg (before → after, each run) |"
	echo "|---|---|---|---|---:|---|"
	for cmd in victims suspects; do
		for engine in sqlite postgres duckdb; do
			k="$cmd $engine"
			what="unspoof $cmd rank --rule $([[ $cmd == victims ]] && echo score || echo harm)"
			[[ $engine == duckdb ]] && what="the same in SQL (duckbench rank)"
			printf '| %s | %s | %s | %s | %s MiB | %s |\n' "$what" "$engine" "${times[$k]}" "${cpus[$k]}" "$((${rss[$k]} / 1024))" "${loads[$k]}"
		done
	done
	echo
	echo "unspoof: the whole command's wall clock (process start, one pass over calls, scoring, the table"
	echo "written in one transaction). DuckDB: the CREATE TABLE … AS statement alone, on an open file (its"
	echo "process does both, so its peak RSS is shared). CPU s: user + system time of the process (DuckDB:"
	echo "during the statement; it uses every core); for PostgreSQL, client + the server's processes (their"
	echo "memory is not counted)."
	echo
	for n in "${notes[@]}"; do echo "- $n"; done
} | LC_ALL=C.UTF-8 tee "$cache/rank-result-$(date -u +%Y%m%dT%H%M%SZ).md"
((ok)) || exit 1

# bench/lib.sh — what the bench/*/run.sh scripts share: bounded steps, waiting for a quiet
# machine, timing a process, and the CPU our PostgreSQL cluster used. Sourced, not run.
#
# The script that sources it defines log (its own prefix) and sets:
#   limit   seconds a bounded step may take (--timeout)
#   quiet   seconds wait_quiet may wait (--quiet)
#   work    the directory measure writes NAME.out, NAME.err and NAME.time to
# and its cleanup kills $child, the bounded step running, if any.

child=

loadavg() { cut -d ' ' -f 1 /proc/loadavg; }

# bounded CMD... runs CMD under timeout --timeout, in the background so that an interrupt
# reaches the script (and its cleanup) at once; it returns CMD's status (124: timed out).
bounded() {
	local rc=0
	timeout -k 10 "$limit" "$@" &
	child=$!
	wait "$child" || rc=$?
	child=
	return "$rc"
}

# wait_quiet [BELOW] waits, up to --quiet seconds, for the 1-minute load average to fall below
# BELOW (default: the number of cores), saying so once if it has to wait.
wait_quiet() {
	local below=${1:-$(nproc)} until=$((SECONDS + quiet)) said=0
	while ((SECONDS < until)) && awk -v l="$(loadavg)" -v n="$below" 'BEGIN { exit !(l >= n) }'; do
		((said)) || log "load average $(loadavg): waiting up to ${quiet}s for it to fall below $below"
		said=1
		sleep 2
	done
}

# measure NAME CMD... waits for a quiet machine (wait_quiet $quiet_below), runs CMD bounded and
# under /usr/bin/time, its output in $work/NAME.out and .err, and sets $secs (wall clock, from
# just before to just after), $cpu (user + system CPU seconds of the process), $rss_kb (its peak
# RSS) and $load (the 1-minute load average before → after: others' work on the machine shows
# there). On failure it shows the ends of CMD's output and returns 1.
measure() {
	local name=$1 t0 t1 l0 rc=0
	shift
	wait_quiet "${quiet_below:-}"
	l0=$(loadavg)
	t0=$(date +%s.%N)
	bounded /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
	t1=$(date +%s.%N)
	if ((rc != 0)); then
		log "$name failed (exit $rc$( ((rc == 124)) && echo ", timed out after ${limit}s")):"
		tail -n 20 "$work/$name.err" >&2
		tail -n 5 "$work/$name.out" >&2
		return 1
	fi
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	cpu=$(awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.2f", t }' "$work/$name.time")
	rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/$name.time")
	load="$l0 → $(loadavg)"
}

# pg_cpu prints the CPU seconds our PostgreSQL cluster ($UNSPOOF_PG_DIR) has used: the
# postmaster and its live children, plus the children it has reaped, so that a backend that has
# exited still counts.
pg_cpu() {
	local pm p
	pm=$(head -n 1 "$UNSPOOF_PG_DIR/data/postmaster.pid")
	for p in $pm $(pgrep -P "$pm" 2>/dev/null); do
		awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || true
	done | awk -v hz="$(getconf CLK_TCK)" '{ t += $1 } END { printf "%.2f", t / hz }'
}

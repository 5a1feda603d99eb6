#!/usr/bin/env bash
# bench/stirshaken/run.sh — STIR/SHAKEN verification: unspoof beside bare crypto/ecdsa and
# beside Debian's secsipidx, on the same machine in one run.
#
#   1. go test -bench in ./stirshaken: VerifyCall (a signed header, certificate cache warm) and
#      bare crypto/ecdsa P-256 verification of the same signing input, plus the two alternated
#      in one loop (VerifyCallVsECDSA), whose throughput-ratio is the figure to watch
#      (target >= 0.8);
#   2. go test -bench in ./bench/stirshaken: the libstirshaken README tokens verified by
#      VerifyCall in process, by secsipidx's HTTP check service on loopback, and by each CLI
#      once per process.
#
# Usage: bench/stirshaken/run.sh [--count N] [--benchtime D] [--quiet S]
#   --count N       repeat each benchmark N times (default 3)
#   --benchtime D   go test -benchtime for the in-process benchmarks (default 2s)
#   --quiet S       wait up to S seconds for the 1-minute load average to fall below half the
#                   cores before starting, others' work skewing the figures (default 0)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
count=3 benchtime=2s quiet=0
while [ $# -gt 0 ]; do
  case $1 in
    --count) count=$2; shift 2 ;;
    --benchtime) benchtime=$2; shift 2 ;;
    --quiet) quiet=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v secsipidx >/dev/null || { echo "run.sh: secsipidx is needed (apt-get install secsipidx)" >&2; exit 1; }
cd "$root"

half=$(( $(nproc) / 2 )); [ "$half" -ge 1 ] || half=1
for ((i = 0; i < quiet; i++)); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk -v l="$load" -v h="$half" 'BEGIN { exit !(l < h) }' && break
  sleep 1
done
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(go version | cut -d' ' -f3); secsipidx $(dpkg-query -W -f '${Version}' secsipidx 2>/dev/null || echo '?')" >&2

out=$(mktemp); trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'VerifyCall|ECDSAVerify' -benchmem -benchtime "$benchtime" -count "$count" ./stirshaken/ | tee -a "$out" >&2
go test -run '^$' -bench 'VerifyCallVectors|SecsipidxHTTP' -benchtime "$benchtime" -count "$count" ./bench/stirshaken/ | tee -a "$out" >&2
go test -run '^$' -bench 'CLI' -benchtime 20x -count 1 ./bench/stirshaken/ | tee -a "$out" >&2

# A markdown table of the medians.
awk '
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
    for (i = 3; i < NF; i++) {
      if ($(i+1) == "ns/op" && name !~ /VsECDSA/) ns[name] = ns[name] " " $i
      if ($(i+1) == "throughput-ratio") ratio = ratio " " $i
      if ($(i+1) == "verifycall-cpu-ns/op") vcpu = vcpu " " $i
      if ($(i+1) == "ecdsa-cpu-ns/op") ecpu = ecpu " " $i
    }
  }
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    print "| benchmark | median time/op | verifications/s |"
    print "|---|---:|---:|"
    for (k in ns) {
      m = median(ns[k])
      unit = m >= 1e6 ? sprintf("%.1f ms", m / 1e6) : sprintf("%.1f µs", m / 1e3)
      printf "| %s | %s | %.0f |\n", k, unit, 1e9 / m
    }
    if (ratio != "") {
      printf "\nAlternated in one loop, CPU time per verification (medians): VerifyCall %.1f µs, bare ECDSA %.1f µs\n", median(vcpu) / 1e3, median(ecpu) / 1e3
      printf "VerifyCall throughput / bare ECDSA throughput: %s (runs:%s; target >= 0.8)\n", median(ratio), ratio
    }
  }' "$out"

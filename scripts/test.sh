#!/usr/bin/env bash
# Runs unspoof's whole test suite on a fresh Debian machine: installs what the tests need,
# starts a throwaway PostgreSQL cluster so every store test runs on both engines, runs the
# tests, and stops the cluster. Usage: scripts/test.sh [go test flags…]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev)   # mattn/go-sqlite3 is cgo
command -v node >/dev/null || need_apt+=(nodejs)         # the test SMSC (test/peers/smsc)
command -v npm >/dev/null || need_apt+=(npm)
command -v sipp >/dev/null || need_apt+=(sip-tester)     # SIP caller/callee (test/peers/sipp)
[ -x /usr/sbin/kamailio ] || need_apt+=(kamailio)        # the SIP proxy (test/peers/kamailio)
dpkg -s kamailio-secsipid-modules >/dev/null 2>&1 || need_apt+=(kamailio-secsipid-modules)
command -v secsipidx >/dev/null || need_apt+=(secsipidx)  # STIR/SHAKEN interop peer (stirshaken/)
command -v chromium >/dev/null || need_apt+=(chromium)    # browser tests (test/peers/browser, web/webtest)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=; [ "$(id -u)" = 0 ] || sudo="sudo -E"   # a developer's machine; CI runs as root
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi
command -v go >/dev/null || { echo "test.sh: Go 1.26 is needed (https://go.dev/dl)" >&2; exit 1; }
(cd test/peers/smsc && npm ci --no-audit --no-fund --loglevel=error >/dev/null)   # its npm smpp
(cd test/peers/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)   # playwright-core, axe-core

# A throwaway PostgreSQL: installed from Debian if missing, in a temp dir of its own (so a
# developer's running cluster is left alone), on loopback.
export UNSPOOF_PG_DIR="${TMPDIR:-/tmp}/unspoof-pg-test-$$"
dsn=$(scripts/pg-test-cluster.sh start)
trap 'scripts/pg-test-cluster.sh stop >/dev/null 2>&1 || true' EXIT
export UNSPOOF_TEST_PG="$dsn"
export CI="${CI:-true}"   # store tests fail, not skip, when an engine is missing
export UNSPOOF_ARTIFACTS="${UNSPOOF_ARTIFACTS:-$PWD/artifacts}"   # browser screenshots of every main page

echo "== go vet"
go vet ./...
echo "== go test (SQLite and PostgreSQL: $dsn)"
go test -count=1 -timeout 30m "$@" ./...
echo "== the README's quick start, as written there: the demo, serving until Ctrl-C"
scripts/readme-demo.sh
echo "== fuzz (bounded): phonenum agrees with libphonenumber"
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 30s ./phonenum/
echo "== fuzz (bounded): the SMPP decoder and the STIR/SHAKEN parsers"
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 15s ./smpp/
go test -run '^$' -fuzz '^FuzzParseIdentity$' -fuzztime 15s ./stirshaken/

#!/usr/bin/env bash
# pg-test-cluster.sh start|stop|dsn — a throwaway PostgreSQL cluster for tests and benchmarks.
#
#   start  installs PostgreSQL (Debian's package) if initdb is missing, creates a cluster in
#          $UNSPOOF_PG_DIR (default ${TMPDIR:-/tmp}/unspoof-pg-$UID), starts it on a Unix socket
#          in that directory and a free loopback port, creates the database "unspoof" and prints
#          its DSN on stdout. Starting a cluster that is already running just prints the DSN.
#   stop   stops the cluster and removes its directory.
#   dsn    prints the DSN of the running cluster.
#
# Settings favour speed over durability (fsync off): never keep data you care about in it.
# With UNSPOOF_PG_STATS=1 a new cluster also loads pg_stat_statements (CREATE EXTENSION
# pg_stat_statements to read it), for profiling the server's side of a benchmark.
# Run as root, the server runs as the "postgres" user (created if missing), since PostgreSQL
# refuses to run as root; the directory's parents must then be searchable by that user. Example:
#
#   export UNSPOOF_TEST_PG=$(scripts/pg-test-cluster.sh start)
#   go test ./postgres/
#   scripts/pg-test-cluster.sh stop
set -euo pipefail

dir=$(realpath -m "${UNSPOOF_PG_DIR:-${TMPDIR:-/tmp}/unspoof-pg-$(id -u)}")
db=unspoof
log() { echo "pg-test-cluster: $*" >&2; }

# bindir prints the directory holding initdb, pg_ctl, pg_isready, psql and createdb.
bindir() {
	local d
	for d in "$(dirname "$(readlink -f "$(command -v initdb || echo /nonexistent/x)")")" \
		$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/pg_isready && -x $d/psql && -x $d/createdb ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

install() {
	if [[ $(id -u) != 0 ]]; then
		log "initdb not found; install PostgreSQL (Debian: apt-get install postgresql) and retry"
		exit 1
	fi
	log "installing postgresql with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	local sudo=
	[ "$(id -u)" = 0 ] || sudo="sudo -E"
	$sudo apt-get update -qq >&2
	$sudo apt-get install -y -qq --no-install-recommends postgresql >&2 </dev/null
}

# as runs a command as the cluster's owner: the postgres user when we are root.
as() {
	if [[ $(id -u) == 0 ]]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

running() { [[ -f $dir/port ]] && "$bin/pg_isready" -q -h "$dir" -p "$(cat "$dir/port")"; }

dsn() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/$db?sslmode=disable"; }

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

start() {
	bin=$(bindir) || { install; bin=$(bindir); }
	if [[ $(id -u) == 0 ]] && ! id postgres >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin postgres
	fi
	if running; then
		dsn
		return 0
	fi
	if [[ ! -f $dir/data/PG_VERSION ]]; then
		[[ -e $dir && ! -f $dir/.unspoof-pg ]] && [[ -n $(ls -A "$dir") ]] &&
			{ log "$dir exists and is not a test cluster; set UNSPOOF_PG_DIR"; exit 1; }
		mkdir -p "$dir"
		touch "$dir/.unspoof-pg"
		rm -rf "$dir/data"
		[[ $(id -u) == 0 ]] && chown -R postgres: "$dir"
		as "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
		cat >>"$dir/data/postgresql.conf" <<-EOF
			# unspoof test cluster: fast, not durable
			listen_addresses = '127.0.0.1'
			unix_socket_directories = '$dir'
			max_connections = 200
			fsync = off
			synchronous_commit = off
			full_page_writes = off
			wal_level = minimal
			max_wal_senders = 0
			max_wal_size = 8GB
			checkpoint_timeout = 30min
			shared_buffers = 512MB
			dynamic_shared_memory_type = mmap
			log_min_messages = warning
		EOF
		if [[ ${UNSPOOF_PG_STATS:-} == 1 ]]; then
			echo "shared_preload_libraries = 'pg_stat_statements'" >>"$dir/data/postgresql.conf"
		fi
	fi
	local port
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		if as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-p $port" start >/dev/null; then
			echo "$port" >"$dir/port"
			break
		fi
		log "start on port $port failed; retrying"
		tail -n 5 "$dir/server.log" >&2 || true
		port=
	done
	[[ -n $port ]] || { log "could not start postgres; see $dir/server.log"; exit 1; }
	if [[ -z $(as "$bin/psql" -X -h "$dir" -p "$port" -U postgres -d postgres -Atc \
		"SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
		as "$bin/createdb" -h "$dir" -p "$port" -U postgres "$db"
	fi
	dsn
}

stop() {
	[[ -d $dir ]] || return 0
	[[ -f $dir/.unspoof-pg ]] || { log "$dir is not a test cluster; not removing it"; exit 1; }
	if [[ -f $dir/data/postmaster.pid ]] && bin=$(bindir); then
		as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

case ${1:-} in
start) start ;;
stop) stop ;;
dsn) bin=$(bindir) && running && dsn || { log "not running"; exit 1; } ;;
*)
	echo "usage: $0 start|stop|dsn" >&2
	exit 2
	;;
esac

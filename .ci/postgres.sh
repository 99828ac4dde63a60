# Sourced by .ci/run; `bash .ci/postgres.sh` runs it alone and prints what it
# would export. It makes sure a PostgreSQL server runs here (starting the
# local cluster if it is down, installing Debian's postgresql if it is
# absent) and exports APIKEY_TEST_POSTGRES for it, so that the PostgreSQL
# tests run and, since internal/pgtest fails instead of skipping when that
# variable names a server it cannot use, cannot silently skip. If that fails
# it warns and leaves APIKEY_TEST_POSTGRES unset: the tests then start a
# throwaway cluster of their own, or skip saying how to enable them.
# An APIKEY_TEST_POSTGRES that is already set is used as it is.

# pg_warn prints a warning that stands out in CI's log.
pg_warn() { printf 'WARNING: %s\n' "$*" >&2; }

# pg_cluster prints "VERSION NAME PORT STATUS" of the local cluster to use:
# the one on port 5432, else the first.
pg_cluster() {
	pg_lsclusters --no-header 2>/dev/null | awk '
		$3 == 5432 && !found { found = $1 " " $2 " " $3 " " $4 }
		NR == 1 { first = $1 " " $2 " " $3 " " $4 }
		END { if (found != "") print found; else if (first != "") print first }'
}

# pg_psql runs psql without ever prompting for a password.
pg_psql() { psql -w -X -q -At "$@" </dev/null; }

# pg_ensure does the work; it returns non-zero, having said why, when no
# server can be had.
pg_ensure() {
	local log ver name port status _ admin
	if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
		echo "PostgreSQL is not installed: installing Debian's postgresql"
		if ! command -v apt-get >/dev/null 2>&1; then
			pg_warn "no apt-get to install PostgreSQL with"
			return 1
		fi
		log=$(mktemp)
		if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >"$log" 2>&1; then
			tail -n 20 "$log" >&2
			rm -f "$log"
			pg_warn "apt-get install postgresql failed"
			return 1
		fi
		rm -f "$log"
	fi

	if [ -z "$(pg_cluster)" ]; then
		# Installed without a cluster (create_main_cluster = false, or it
		# was dropped): make one with the newest server.
		ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
		echo "no PostgreSQL cluster: creating $ver/main"
		pg_createcluster "$ver" main >/dev/null || { pg_warn "pg_createcluster $ver main failed"; return 1; }
	fi
	read -r ver name port status _ <<<"$(pg_cluster)"
	case $status in
	online*) ;;
	*)
		echo "PostgreSQL $ver/$name is $status: starting it"
		# Without systemd (CI), pg_ctlcluster must not hand over to systemctl.
		pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start ||
			{ pg_warn "pg_ctlcluster $ver $name start failed"; return 1; }
		;;
	esac
	for _ in $(seq 60); do
		pg_isready -q -h 127.0.0.1 -p "$port" && break
		sleep 0.5
	done
	pg_isready -h 127.0.0.1 -p "$port" || { pg_warn "PostgreSQL $ver/$name does not answer on 127.0.0.1:$port"; return 1; }

	admin="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	if pg_psql "$admin" -c 'SELECT 1' >/dev/null 2>&1; then
		# Local connections are trusted (as on the development machines):
		# the postgres role, database test.
		if [ -z "$(pg_psql "$admin" -c "SELECT 1 FROM pg_database WHERE datname = 'test'")" ]; then
			pg_psql "$admin" -c 'CREATE DATABASE test' || { pg_warn "cannot create database test"; return 1; }
		fi
		pg_url="postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
	else
		# Debian's defaults: a password over TCP, peer authentication on the
		# socket. Make a role of the tests' own, with a password, through
		# the socket as the postgres system user, rather than change the
		# server's authentication or the postgres role.
		echo "postgres@127.0.0.1 needs a password: using role apikey_test"
		if ! printf '%s\n' \
			"SELECT 'CREATE ROLE apikey_test LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'apikey_test') \\gexec" \
			"ALTER ROLE apikey_test PASSWORD 'apikey_test';" \
			"SELECT 'CREATE DATABASE apikey_test OWNER apikey_test' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'apikey_test') \\gexec" |
			(cd / && runuser -u postgres -- psql -w -X -q -p "$port" -d postgres -v ON_ERROR_STOP=1 >/dev/null); then
			pg_warn "cannot create role and database apikey_test"
			return 1
		fi
		pg_url="postgres://apikey_test:apikey_test@127.0.0.1:$port/apikey_test?sslmode=disable"
	fi
	pg_psql "$pg_url" -c 'SELECT 1' >/dev/null || { pg_warn "cannot connect to the test database"; return 1; }
}

if [ -n "${APIKEY_TEST_POSTGRES:-}" ]; then
	echo "APIKEY_TEST_POSTGRES is already set: using it as it is"
elif pg_ensure; then
	export APIKEY_TEST_POSTGRES=$pg_url
else
	pg_warn "no PostgreSQL server for the tests; APIKEY_TEST_POSTGRES stays unset, so the PostgreSQL tests start a throwaway cluster of their own where initdb is installed, and skip elsewhere"
fi
if [ -n "${APIKEY_TEST_POSTGRES:-}" ]; then
	# Shown without a password, if it has one.
	echo "PostgreSQL tests use APIKEY_TEST_POSTGRES=$(printf '%s' "$APIKEY_TEST_POSTGRES" | sed -E 's#^(postgres(ql)?://[^:/@]*):[^@/]*@#\1:xxxxx@#')"
	if command -v psql >/dev/null 2>&1; then
		echo "server: $(pg_psql "$APIKEY_TEST_POSTGRES" -c 'SELECT version()' 2>&1 | head -n 1)"
	fi
fi

#!/usr/bin/env bash
# bench/portability.sh: time and peak memory of `apikey export` and
# `apikey import` on a store of 100,000 keys, on SQLite and PostgreSQL, and
# of `import --plaintext` of as many legacy keys:
#
#   export  SQLite -> file            import  file -> new SQLite
#   import  file -> new PostgreSQL     export  PostgreSQL -> file
#   import  the same file again (nothing to do), on each engine
#   import --plaintext  N legacy keys from CSV -> new SQLite
#
# Usage: bench/portability.sh
#        N=20000 PG=postgres://user@host/db?sslmode=disable bench/portability.sh
#        PG= bench/portability.sh        (SQLite only)
#
# Each command runs once under /usr/bin/time -f '%e s %M KB' (elapsed time,
# peak resident memory). The store is seeded with bench/seed; the keys of
# PostgreSQL go to a schema of their own, apikey_bench_port, dropped first.
# A sample of secrets is verified against every store the export reached.
# It prints a table of the figures and every command it ran.
set -euo pipefail

N=${N:-100000}
PG=${PG-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/apikey-bench-port.XXXXXX")
trap 'rm -rf "$work"' EXIT
say() { printf '%s\n' "$*" >&2; }

[ -x /usr/bin/time ] || { say "/usr/bin/time is needed (Debian: apt-get install time)"; exit 1; }
if [ -n "$PG" ] && ! command -v psql >/dev/null 2>&1; then
	say "psql not found: PostgreSQL left out"
	PG=
fi

export CGO_ENABLED=${CGO_ENABLED:-0}
say "building apikey and bench/seed"
build=(go build -trimpath "-ldflags=-s -w")
(cd "$root" && "${build[@]}" -o "$work/apikey" . && "${build[@]}" -o "$work/seed" ./bench/seed)
export XDG_CONFIG_HOME=$work/config HOME=$work APIKEY_NO_INPUT=1 NO_COLOR=1 APIKEY_ACTOR=bench
apikey=$work/apikey

say "seeding $N keys"
"$work/seed" -db "$work/src.db" -n "$N" >"$work/secrets"

pgdb=
if [ -n "$PG" ]; then
	schema=apikey_bench_port
	sep='?'
	[[ $PG == *\?* ]] && sep='&'
	pgdb="$PG${sep}search_path=$schema"
	psql "$PG" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >/dev/null 2>&1
fi

rows=()
cmds=()
# measure LABEL COMMAND...: runs it once, keeps time and peak memory.
measure() {
	local label=$1
	shift
	cmds+=("$*")
	if ! /usr/bin/time -o "$work/time" -f '%e s %M KB' "$@" >"$work/out" 2>"$work/err"; then
		say "$label failed:"
		cat "$work/err" >&2
		exit 1
	fi
	rows+=("$(printf '%-44s %10s %12s   %s' "$label" "$(cut -d' ' -f1-2 "$work/time")" "$(cut -d' ' -f3-4 "$work/time")" "$(grep -v '^Command' "$work/err" | tail -1)")")
}

measure "export SQLite -> file" "$apikey" --db "$work/src.db" export -f "$work/a.jsonl"
measure "import file -> new SQLite" "$apikey" --db "$work/b.db" import "$work/a.jsonl"
measure "import the same file again (SQLite)" "$apikey" --db "$work/b.db" import "$work/a.jsonl"
measure "export the imported SQLite -> file" "$apikey" --db "$work/b.db" export -f "$work/b.jsonl"
if [ -n "$pgdb" ]; then
	measure "import file -> new PostgreSQL" "$apikey" --db "$pgdb" import "$work/a.jsonl"
	measure "import the same file again (PostgreSQL)" "$apikey" --db "$pgdb" import "$work/a.jsonl"
	measure "export PostgreSQL -> file" "$apikey" --db "$pgdb" export -f "$work/p.jsonl"
	measure "import PostgreSQL's file -> new SQLite" "$apikey" --db "$work/c.db" import "$work/p.jsonl"
fi

# Legacy keys: as many, from CSV, secrets of 32 characters.
awk -v n="$N" 'BEGIN { srand(1); print "company,name,secret"
	for (i = 0; i < n; i++) { s = ""; for (j = 0; j < 32; j++) s = s substr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", int(rand() * 62) + 1, 1)
		printf "Legacy %d,key %d,%s\n", i % (n / 100 + 1), i, s } }' >"$work/legacy.csv"
measure "import --plaintext (legacy CSV) -> new SQLite" "$apikey" --db "$work/l.db" import --plaintext "$work/legacy.csv"

# A sample of secrets verifies everywhere the keys went.
for db in "$work/b.db" ${pgdb:+"$pgdb"} ${pgdb:+"$work/c.db"}; do
	awk 'NR % 9973 == 2' "$work/secrets" | while read -r s; do
		printf '%s\n' "$s" | "$apikey" --db "$db" verify >/dev/null 2>&1 || [ $? = 4 ] || { say "verify failed on $db"; exit 1; }
	done
done
sed -n 2p "$work/legacy.csv" | cut -d, -f3 | "$apikey" --db "$work/l.db" verify >/dev/null

printf '\napikey export/import, %d keys (%s, %s)\n\n' "$N" "$(uname -sm)" "$(go version | cut -d' ' -f3)"
printf '%-44s %10s %12s   %s\n' "what" "time" "peak memory" "apikey said"
printf '%s\n' "${rows[@]}"
printf '\nexport file: %s bytes (%s lines)\n' "$(wc -c <"$work/a.jsonl")" "$(wc -l <"$work/a.jsonl")"
printf '\ncommands (under /usr/bin/time -f "%%e s %%M KB"):\n'
printf '  %s\n' "${cmds[@]}" | sed "s|$work|\$WORK|g"
if [ -n "$pgdb" ]; then
	psql "$PG" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
fi

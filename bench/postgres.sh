#!/usr/bin/env bash
# bench/postgres.sh: apikey on PostgreSQL with 100,000 keys, against psql on
# the same rows, and `apikey serve` on that store against a do-nothing Go
# server, and checks the targets of docs/scaling.md:
#
#   list -o json   within 2x of psql printing the same rows as JSON
#                  (json_build_object per key, joined with its company)
#   serve          at least 0.8x the do-nothing server, p99 <= 10 ms, no
#                  non-2xx answer (bench/serve, 64 connections)
#
# Usage: bench/postgres.sh
#        PG=postgres://user@host/db N=20000 RUNS=5 SERVE=0 bench/postgres.sh
#
# PG is the server to use (default the local one); the keys go to a schema of
# their own, apikey_bench_N, seeded once with bench/seed and reused (with its
# secrets kept in $TMPDIR) until it is dropped. Times are the mean of RUNS
# runs after one warm-up, from hyperfine when it is installed, else a loop.
set -euo pipefail

N=${N:-100000}
RUNS=${RUNS:-10}
SERVE=${SERVE:-1}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/apikey-bench-pg.XXXXXX")
trap 'rm -rf "$work"' EXIT
say() { printf '%s\n' "$*" >&2; }

command -v psql >/dev/null 2>&1 || { say "psql is needed: it is what apikey is measured against"; exit 1; }
schema=apikey_bench_$N
sep='?'
[[ $PG == *\?* ]] && sep='&'
db="$PG${sep}search_path=$schema"
secrets=${TMPDIR:-/tmp}/apikey-bench-pg-$N.secrets

export CGO_ENABLED=${CGO_ENABLED:-0}
say "building apikey and bench/seed"
build=(go build -trimpath "-ldflags=-s -w")
(cd "$root" && "${build[@]}" -o "$work/apikey" . && "${build[@]}" -o "$work/seed" ./bench/seed)

have=$(psql "$PG" -qAtc "SELECT count(*) FROM information_schema.tables WHERE table_schema = '$schema' AND table_name = 'keys'")
n=0
[ "$have" = 1 ] && n=$(psql "$PG" -qAtc "SELECT count(*) FROM $schema.keys")
if [ "$n" != "$N" ] || [ "$(wc -l <"$secrets" 2>/dev/null || echo 0)" != "$N" ]; then
	say "seeding $N keys into schema $schema"
	psql "$PG" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >/dev/null
	start=$(date +%s%N)
	"$work/seed" -db "$db" -n "$N" >"$secrets"
	say "seeded in $(( ($(date +%s%N) - start) / 1000000 )) ms"
else
	say "reusing the $N keys of schema $schema"
fi

export APIKEY_DB=$db XDG_CONFIG_HOME=$work/config HOME=$work APIKEY_NO_INPUT=1 NO_COLOR=1
cat >"$work/rows.sql" <<EOF
SET search_path = $schema;
SELECT json_build_object(
  'id', k.id, 'name', k.name,
  'status', CASE WHEN k.expires_at <= now() THEN 'expired' ELSE k.status END,
  'company', json_build_object('id', c.id, 'name', c.name, 'ref', c.ref),
  'hint', k.hint, 'scopes', k.scopes, 'metadata', k.metadata,
  'created_at', to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'created_by', k.created_by,
  'updated_at', to_char(k.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'expires_at', to_char(k.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'last_used_at', to_char(k.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
FROM keys k JOIN companies c ON c.id = k.company_id ORDER BY k.seq;
EOF
declare -A cmd=(
	[list]="$work/apikey list -o json"
	[psql_rows]="psql '$PG' -qAt -f $work/rows.sql"
)
order=(list psql_rows)
eval "${cmd[list]}" | grep -c '^    "id": ' | grep -qx "$N" || { say "list -o json did not list $N keys"; exit 1; }
eval "${cmd[psql_rows]}" | grep -c '^{"id"' | grep -qx "$N" || { say "psql did not print $N rows"; exit 1; }

declare -A mean
if command -v hyperfine >/dev/null 2>&1; then
	timer="hyperfine -N --warmup 1 --runs $RUNS"
	hyperfine -N --warmup 1 --runs "$RUNS" --output=null --export-csv "$work/t.csv" "${cmd[list]}" "${cmd[psql_rows]}" >&2
	i=0
	while read -r m; do mean[${order[$i]}]=$m; i=$((i + 1)); done < <(tail -n +2 "$work/t.csv" | awk -F, '{ printf "%.1f\n", $(NF-6) * 1000 }')
else
	timer="loop over date +%s%N, 1 warm-up run, $RUNS timed runs"
	for name in "${order[@]}"; do
		eval "${cmd[$name]}" >/dev/null
		start=$(date +%s%N)
		for ((r = 0; r < RUNS; r++)); do eval "${cmd[$name]}" >/dev/null; done
		mean[$name]=$(awk -v ns="$(( $(date +%s%N) - start ))" -v n="$RUNS" 'BEGIN { printf "%.1f", ns / n / 1e6 }')
	done
fi
peak=-
[ -x /usr/bin/time ] && peak=$(/usr/bin/time -f %M -o "$work/peak" $work/apikey list -o json >/dev/null && awk '{ printf "%.1f", $1 / 1024 }' "$work/peak")
ratio=$(awk -v a="${mean[list]}" -v b="${mean[psql_rows]}" 'BEGIN { printf "%.2f", a / b }')
verdict=FAIL
awk -v r="$ratio" 'BEGIN { exit !(r <= 2) }' && verdict=PASS

echo
echo "apikey on PostgreSQL, $N keys ($(nproc) cores, $(psql "$PG" -qAtc 'SHOW server_version'))"
echo "timer: $timer"
printf '%-12s %10s\n' command "mean ms"
for name in "${order[@]}"; do printf '%-12s %10s\n' "$name" "${mean[$name]}"; done
printf '%-40s %8s %8s  %s\n' target measured limit result
printf '%-40s %8s %8s  %s\n' "list -o json / psql rows as JSON" "${ratio}x" 2x "$verdict"
printf '%-40s %8s\n' "list -o json peak memory (MiB)" "$peak"
echo "commands:"
for name in "${order[@]}"; do printf '  %-10s %s\n' "$name" "${cmd[$name]}"; done

if [ "$SERVE" = 1 ]; then
	echo
	(cd "$root" && go run ./bench/serve -apikey "$work/apikey" -db "$db" -secrets "$secrets" -keys "$N" -conns 64)
fi

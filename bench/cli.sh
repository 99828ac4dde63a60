#!/usr/bin/env bash
# bench/cli.sh: time apikey's commands on a store of 100,000 keys against the
# sqlite3 command-line tool on the same file, and `apikey version` against a
# bare Go binary, and check the targets of docs/performance.md:
#
#   list -o json   within 2x of  sqlite3 -json FILE 'SELECT * FROM keys k
#                  LEFT JOIN key_uses u ON u.created_at = k.created_at AND
#                  u.key_id = k.id' (the same rows: the keys with their last
#                  uses)
#                  peak memory under 64 MiB
#   show ID -o json within 3x of sqlite3 -json FILE "SELECT * FROM keys WHERE id='ID'"
#   version        within 2x of  a hello-world Go binary
#
# A store in service has last uses for most of its keys, which list reads
# from a table of their own (key_uses, one lookup per key): USED percent of
# the keys are marked used after seeding (100 by default; USED=0 for a store
# no server ever wrote to).
#
# Usage: bench/cli.sh            (N=100000 RUNS=10 SHORT_RUNS=50 USED=100 by default)
#        N=20000 RUNS=5 bench/cli.sh
#
# RUNS times the list commands; SHORT_RUNS the commands of a few
# milliseconds (show, version and their references), which need more runs
# for a steady mean on a shared machine.
#
# It builds apikey as the release does (CGO_ENABLED=0 go build -trimpath
# -ldflags='-s -w'; set CGO_ENABLED=1 to measure a cgo build), seeds the
# store with bench/seed into a temporary directory, and times with hyperfine,
# installing it with apt-get when it is missing and that is possible, else
# with a loop over `date +%s%N`. Peak memory comes from /usr/bin/time -f %M.
# It prints a table of figures, the ratios against the targets, and every
# command it timed. Exit status 0 unless something failed to run; with
# STRICT=1, 1 when a target is missed.
set -euo pipefail

N=${N:-100000}
RUNS=${RUNS:-10}
SHORT_RUNS=${SHORT_RUNS:-50}
USED=${USED:-100}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/apikey-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

say() { printf '%s\n' "$*" >&2; }

# install PACKAGE: apt-get install, when we may.
install() {
	if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		say "installing $1 with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1; } ||
			say "could not install $1"
	fi
}

command -v sqlite3 >/dev/null 2>&1 || install sqlite3
command -v sqlite3 >/dev/null 2>&1 || { say "sqlite3 is needed: it is what apikey is measured against"; exit 1; }
command -v hyperfine >/dev/null 2>&1 || install hyperfine
[ -x /usr/bin/time ] || install time

# --- build ------------------------------------------------------------------
export CGO_ENABLED=${CGO_ENABLED:-0}
say "building apikey, bench/seed, bench/floor and hello (CGO_ENABLED=$CGO_ENABLED)"
build=(go build -trimpath "-ldflags=-s -w")
(cd "$root" && "${build[@]}" -o "$work/apikey" . && "${build[@]}" -o "$work/seed" ./bench/seed && "${build[@]}" -o "$work/floor" ./bench/floor)
mkdir "$work/hello"
cat >"$work/hello/main.go" <<'EOF'
package main

import "fmt"

func main() { fmt.Println("hello") }
EOF
printf 'module hello\n\ngo 1.22\n' >"$work/hello/go.mod"
(cd "$work/hello" && GOFLAGS= "${build[@]}" -o "$work/hello-bin" .)

# --- seed -------------------------------------------------------------------
db=$work/apikey.db
say "seeding $N keys"
seed_start=$(date +%s%N)
"$work/seed" -db "$db" -n "$N" -quiet
seed_ms=$(( ($(date +%s%N) - seed_start) / 1000000 ))
mark_used="INSERT INTO key_uses (created_at, key_id, last_used_at) SELECT created_at, id, updated_at FROM keys WHERE abs(random()) % 100 < $USED ORDER BY created_at, id"
sqlite3 "$db" "$mark_used"
used=$(sqlite3 "$db" "SELECT count(*) FROM key_uses")
id=$(sqlite3 "$db" "SELECT id FROM keys ORDER BY rowid LIMIT 1 OFFSET $((N / 2))")
prefix=${id:0:8}

# apikey reads its store and settings from these, not from the user's.
export APIKEY_DB=$db XDG_CONFIG_HOME=$work/config HOME=$work APIKEY_NO_INPUT=1 NO_COLOR=1

# The commands timed, by name.
declare -A cmd=(
	[list]="$work/apikey list -o json"
	[sqlite_keys]="sqlite3 -json $db 'SELECT * FROM keys k LEFT JOIN key_uses u ON u.created_at = k.created_at AND u.key_id = k.id'"
	[sqlite_join]="sqlite3 -json $db 'SELECT * FROM keys k LEFT JOIN key_uses u ON u.created_at = k.created_at AND u.key_id = k.id JOIN companies c ON c.id = k.company_id ORDER BY k.rowid'"
	[sqlite_bare]="sqlite3 -json $db 'SELECT * FROM keys'"
	[show]="$work/apikey show $prefix -o json"
	[sqlite_point]="sqlite3 -json $db \"SELECT * FROM keys WHERE id='$id'\""
	[version]="$work/apikey version"
	[hello]="$work/hello-bin"
	[floor]="$work/floor"
)
long=(list sqlite_keys sqlite_join sqlite_bare)
short=(show sqlite_point version hello floor)
order=("${long[@]}" "${short[@]}")

# The outputs must be what they claim to be before they are timed.
eval "${cmd[list]}" | grep -c '^    "id": ' | grep -qx "$N" || { say "list -o json did not list $N keys"; exit 1; }
eval "${cmd[show]}" | grep -q "\"id\": \"$id\"" || { say "show did not show $id"; exit 1; }

# --- time -------------------------------------------------------------------
declare -A mean user sys
if command -v hyperfine >/dev/null 2>&1; then
	timer="hyperfine -N --output=null: --warmup 2 --runs $RUNS (list), --warmup 5 --runs $SHORT_RUNS (show, version)"
	# time CSV RUNS WARMUP NAME...: one hyperfine run over the named commands.
	time_group() {
		local csv=$1 runs=$2 warmup=$3
		shift 3
		local args=() name
		for name in "$@"; do args+=("${cmd[$name]}"); done
		hyperfine -N --warmup "$warmup" --runs "$runs" --output=null --export-csv "$csv" "${args[@]}" >&2
	}
	time_group "$work/long.csv" "$RUNS" 2 "${long[@]}"
	time_group "$work/short.csv" "$SHORT_RUNS" 5 "${short[@]}"
	# Columns: command,mean,stddev,median,user,system,min,max in seconds.
	# Counted from the end, as the command may hold commas and quotes.
	i=0
	while read -r m u s; do
		name=${order[$i]}
		mean[$name]=$m user[$name]=$u sys[$name]=$s
		i=$((i + 1))
	done < <(for f in long short; do tail -n +2 "$work/$f.csv"; done | awk -F, '{ printf "%.1f %.1f %.1f\n", $(NF-6) * 1000, $(NF-3) * 1000, $(NF-2) * 1000 }')
else
	timer="loop over date +%s%N, 2 warm-up runs, $RUNS timed runs ($SHORT_RUNS for show and version)"
	say "hyperfine is not installed: timing with a loop"
	for name in "${order[@]}"; do
		runs=$RUNS
		[[ " ${short[*]} " == *" $name "* ]] && runs=$SHORT_RUNS
		for _ in 1 2; do eval "${cmd[$name]}" >/dev/null; done
		start=$(date +%s%N)
		for ((r = 0; r < runs; r++)); do eval "${cmd[$name]}" >/dev/null; done
		mean[$name]=$(awk -v ns="$(( $(date +%s%N) - start ))" -v n="$runs" 'BEGIN { printf "%.1f", ns / n / 1e6 }')
		user[$name]=-
		sys[$name]=-
	done
fi

peak=-
if [ -x /usr/bin/time ]; then
	peak_kib=$(eval "/usr/bin/time -f %M -o $work/peak ${cmd[list]}" >/dev/null && cat "$work/peak")
	peak=$(awk -v k="$peak_kib" 'BEGIN { printf "%.1f", k / 1024 }')
fi

# --- report -----------------------------------------------------------------
ratio() { awk -v a="${mean[$1]}" -v b="${mean[$2]}" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { # value limit
	if awk -v v="$1" -v l="$2" 'BEGIN { exit !(v <= l) }'; then echo PASS; else echo FAIL; fi
}
r_list=$(ratio list sqlite_keys)
r_join=$(ratio list sqlite_join)
r_bare=$(ratio list sqlite_bare)
r_show=$(ratio show sqlite_point)
r_version=$(ratio version hello)
r_floor=$(ratio floor hello)
v_list=$(verdict "$r_list" 2)
v_show=$(verdict "$r_show" 3)
v_version=$(verdict "$r_version" 2)
v_peak=-
[ "$peak" = - ] || v_peak=$(verdict "$peak" 64)

echo
echo "apikey CLI on $N keys, $used of them used ($(nproc) cores, $(uname -m), CGO_ENABLED=$CGO_ENABLED); seeding took ${seed_ms} ms"
echo "timer: $timer"
echo
printf '%-16s %10s %10s %10s\n' command "mean ms" "user ms" "sys ms"
for name in "${order[@]}"; do
	printf '%-16s %10s %10s %10s\n' "$name" "${mean[$name]}" "${user[$name]}" "${sys[$name]}"
done
echo
printf '%-44s %8s %8s  %s\n' target measured limit result
printf '%-44s %8s %8s  %s\n' "list -o json / sqlite3 keys and last uses" "${r_list}x" 2x "$v_list"
printf '%-44s %8s %8s  %s\n' "list -o json / sqlite3 that join companies" "${r_join}x" - "(for fairness)"
printf '%-44s %8s %8s  %s\n' "list -o json / sqlite3 keys alone" "${r_bare}x" - "(no last uses)"
printf '%-44s %8s %8s  %s\n' "list -o json peak memory (MiB)" "$peak" 64 "$v_peak"
printf '%-44s %8s %8s  %s\n' "show ID -o json / sqlite3 point query" "${r_show}x" 3x "$v_show"
printf '%-44s %8s %8s  %s\n' "version / hello" "${r_version}x" 2x "$v_version"
printf '%-44s %8s %8s  %s\n' "floor (inits only) / hello" "${r_floor}x" - "(what the dependencies cost)"
echo
echo "commands:"
for name in "${order[@]}"; do printf '  %-13s %s\n' "$name" "${cmd[$name]}"; done
printf '  %-13s %s\n' peak "/usr/bin/time -f %M ${cmd[list]} >/dev/null"
printf '  %-13s %s\n' seed "$work/seed -db $db -n $N -quiet"
printf '  %-13s %s\n' used "sqlite3 $db '$mark_used'"
printf '  %-13s %s\n' build "CGO_ENABLED=$CGO_ENABLED ${build[*]}"

if [ "${STRICT:-0}" = 1 ] && [[ "$v_list $v_peak $v_show $v_version" == *FAIL* ]]; then
	exit 1
fi

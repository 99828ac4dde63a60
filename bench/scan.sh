#!/usr/bin/env bash
# bench/scan.sh: time `apikey scan` on a tree of 10,000 files side by side
# with `grep -rE` for the same pattern, in the same run, on the same tree.
#
# Usage: bench/scan.sh          (N=10000 RUNS=5 by default)
#        N=2000 RUNS=3 bench/scan.sh
#
# The tree is the first N files (in byte order) of Go's own source tree
# ($(go env GOROOT)/src): Go, C and assembly source, text, and binary test
# data, much as a repository holds. Into one file in 1,000 it writes a real
# secret, minted by `apikey create` in a store of its own, and into as many
# others the same secret with one character changed.
#
# The commands, each run once to warm the page cache, then RUNS times:
#
#   apikey scan TREE -o json                      (exits 6: it finds the secrets)
#   LC_ALL=C grep -rEnI --exclude-dir=.git PATTERN TREE
#   grep -rEnI --exclude-dir=.git PATTERN TREE    (in the caller's locale)
#
# PATTERN is a secret's shape, [a-z][a-z0-9_]{0,15}_[0-9A-Za-z]{46}; -I skips
# binary files and --exclude-dir=.git skips .git, as scan does. grep reports
# every string of that shape; scan only those whose checksum is valid.
#
# Then one file of a single line of LINE_MIB MiB (default 256) with a secret
# at its end, once each with `apikey scan FILE` and `LC_ALL=C grep -En
# PATTERN FILE`, for wall time and peak memory (/usr/bin/time -f %M, when
# there is one): scan reads through a fixed buffer, grep holds the line.
#
# It prints the best and the median wall time of each, what each found, and
# the commands. Exit status 0 unless something failed to run.
set -euo pipefail

N=${N:-10000}
RUNS=${RUNS:-5}
LINE_MIB=${LINE_MIB:-256}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/apikey-scan-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

say() { printf '%s\n' "$*" >&2; }

say "building apikey"
(cd "$root" && CGO_ENABLED=0 go build -trimpath "-ldflags=-s -w" -o "$work/apikey" .)
apikey=$work/apikey

# --- the tree -----------------------------------------------------------------
src=$(go env GOROOT)/src
tree=$work/tree
mkdir "$tree"
say "copying the first $N files of $src"
(cd "$src" && find . -type f | LC_ALL=C sort | awk -v n="$N" 'NR <= n' | tar -cf - -T -) | (cd "$tree" && tar -xf -)
files=$(find "$tree" -type f | wc -l)

export XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config APIKEY_ACTOR=bench
secret=$("$apikey" create --company Bench --create-company --name leaked -o json | sed -n 's/^ *"key": "\(.*\)",$/\1/p')
[ -n "$secret" ] || { say "could not mint a secret"; exit 1; }
# One character changed: the 10th, to another digit.
c=${secret:9:1}
if [ "$c" = 0 ]; then r=1; else r=0; fi
typo=${secret:0:9}$r${secret:10}
planted=0
i=0
while IFS= read -r f; do
	i=$((i + 1))
	case $((i % 1000)) in
	1) printf '\nconst leaked = "%s"\n' "$secret" >>"$f" && planted=$((planted + 1)) ;;
	501) printf '\nconst typo = "%s"\n' "$typo" >>"$f" ;;
	esac
done < <(find "$tree" -type f -name '*.go' | LC_ALL=C sort)
bytes=$(du -sb "$tree" | cut -f1)
say "tree: $files files, $((bytes / 1024 / 1024)) MiB; a real secret planted in $planted of them, a changed one in as many"

# --- timing -----------------------------------------------------------------
pattern='[a-z][a-z0-9_]{0,15}_[0-9A-Za-z]{46}'
scan_cmd=("$apikey" scan "$tree" -o json)
grep_c_cmd=(env LC_ALL=C grep -rEnI --exclude-dir=.git "$pattern" "$tree")
grep_cmd=(grep -rEnI --exclude-dir=.git "$pattern" "$tree")

# time_runs NAME CMD...: warm up, then RUNS runs; prints "best median" in
# seconds. A status of 1 (grep: none found) or 6 (scan: found) is not a
# failure.
time_runs() {
	local name=$1
	shift
	"$@" >"$work/$name.out" 2>"$work/$name.err" || [ $? = 1 ] || [ $? = 6 ] || true
	local times=()
	for _ in $(seq "$RUNS"); do
		local t0 t1
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		times+=($(((t1 - t0) / 1000000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f %.3f\n", a[1]/1000, a[int((NR+1)/2)]/1000}'
}

say "timing, $RUNS runs each"
read -r scan_best scan_med < <(time_runs scan "${scan_cmd[@]}")
read -r grepc_best grepc_med < <(time_runs grepc "${grep_c_cmd[@]}")
read -r grep_best grep_med < <(time_runs grep "${grep_cmd[@]}")

scan_found=$(grep -c '"path":' "$work/scan.out" || true)
grep_found=$(wc -l <"$work/grepc.out")

cat <<EOF

apikey scan against grep -rE: $files files, $((bytes / 1024 / 1024)) MiB ($(nproc) CPUs, $(uname -sm))

| command                     | best (s) | median (s) | found |
| --------------------------- | -------- | ---------- | ----- |
| apikey scan -o json         | $scan_best | $scan_med | $scan_found secrets (valid checksums) |
| grep -rEnI, LC_ALL=C        | $grepc_best | $grepc_med | $grep_found lines of the shape |
| grep -rEnI, ${LANG:-C}       | $grep_best | $grep_med | |

apikey scan / grep (LC_ALL=C), medians: $(awk -v a="$scan_med" -v b="$grepc_med" 'BEGIN {printf "%.2f", a / b}')
$(tail -n 1 "$work/scan.err")

Commands (TREE=$tree):
  ${scan_cmd[*]}
  ${grep_c_cmd[*]}
  ${grep_cmd[*]}
EOF

# --- one long line ------------------------------------------------------------
long=$work/long.txt
say "writing one line of $LINE_MIB MiB"
{
	head -c $((LINE_MIB * 1024 * 1024)) /dev/zero | tr '\0' 'x'
	printf ' %s\n' "$secret"
} >"$long"
# peak CMD...: "seconds peak-KiB" of one run.
peak() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e %M' -o "$work/peak" "$@" >/dev/null 2>&1 || true
		tail -n 1 "$work/peak"
	else
		local t0 t1
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		echo "$(((t1 - t0) / 1000000))e-3 ?"
	fi
}
read -r ls_t ls_m < <(peak "$apikey" scan "$long")
read -r lg_t lg_m < <(peak env LC_ALL=C grep -En "$pattern" "$long")
cat <<EOF

One line of $LINE_MIB MiB, a secret at its end:

| command                        | wall (s) | peak memory (KiB) |
| ------------------------------ | -------- | ----------------- |
| apikey scan FILE               | $ls_t | $ls_m |
| LC_ALL=C grep -En PATTERN FILE | $lg_t | $lg_m |
EOF

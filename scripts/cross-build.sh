#!/usr/bin/env bash
# Builds apikey without cgo for every release target (the builds of
# .goreleaser.yaml) into a temporary directory, and checks that each binary
# is for the platform it was built for. CI runs it; it needs only Go.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
version=${VERSION:-0.0.0-cross}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pkg=github.com/apikeyhq/apikey/cmd
ldflags="-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date"

# What `file`-less machines can check: the first bytes of each format and,
# for ELF and PE, the machine field.
check() {
	local bin=$1 goos=$2 goarch=$3 magic
	magic=$(od -An -tx1 -N4 "$bin" | tr -d ' \n')
	case $goos in
	linux)
		[ "$magic" = 7f454c46 ] || { echo "$bin: not an ELF binary" >&2; return 1; }
		local machine
		machine=$(od -An -tx1 -j18 -N2 "$bin" | tr -d ' \n')
		case $goarch/$machine in amd64/3e00 | arm64/b700) ;; *)
			echo "$bin: ELF machine $machine is not $goarch" >&2
			return 1
			;;
		esac
		;;
	darwin)
		[ "$magic" = cffaedfe ] || { echo "$bin: not a 64-bit Mach-O binary" >&2; return 1; }
		;;
	windows)
		[ "${magic:0:4}" = 4d5a ] || { echo "$bin: not a PE binary" >&2; return 1; }
		;;
	esac
}

failed=0
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
	goos=${target%/*} goarch=${target#*/}
	bin="$out/apikey-$goos-$goarch"
	[ "$goos" = windows ] && bin="$bin.exe"
	if CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "$ldflags" -o "$bin" . && check "$bin" "$goos" "$goarch"; then
		printf 'ok    %-14s %s bytes\n' "$target" "$(wc -c <"$bin" | tr -d ' ')"
	else
		printf 'FAIL  %s\n' "$target"
		failed=1
	fi
done

# The binary of this machine must carry the stamped version.
host="$out/apikey-$(go env GOOS)-$(go env GOARCH)"
[ "$(go env GOOS)" = windows ] && host="$host.exe"
if [ -x "$host" ]; then
	got=$("$host" version)
	case $got in "apikey $version ("*) echo "stamped: $got" ;; *)
		echo "version not stamped: $got" >&2
		failed=1
		;;
	esac
fi
exit $failed
